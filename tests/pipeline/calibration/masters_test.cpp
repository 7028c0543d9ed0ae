// Master frames against known answers: synthetic frames whose bias, dark rate and pixel
// response we set, and the simulator's calibration frames.
#include "pipeline/calibration/masters.h"
#include "pipeline/calibration/calibrate.h"

#include <cmath>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "pipeline/fits_io.h"
#include "pipeline/robust_stats.h"
#include "pipeline/sim/night.h"
#include "support/sim_truth.h"

namespace tianyu::pipeline {
namespace {

namespace fs = std::filesystem;

Image pattern(int w, int h) {
  Image b(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) b.at(x, y) = static_cast<float>(500 + 3 * std::sin(x * 0.7) + 0.01 * y);
  return b;
}

double rms_difference(const Image& a, const Image& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i) s += std::pow(a.pixels[i] - b.pixels[i], 2);
  return std::sqrt(s / a.pixels.size());
}

std::vector<Image> noisy_biases(const Image& truth, int n, double sigma, std::mt19937_64& rng) {
  std::normal_distribution<double> noise(0, sigma);
  std::vector<Image> frames;
  for (int i = 0; i < n; ++i) {
    Image f = truth;
    for (auto& v : f.pixels) v += static_cast<float>(noise(rng));
    frames.push_back(std::move(f));
  }
  return frames;
}

TEST(MasterBias, AveragesNoiseDownAndRejectsCosmicRays) {
  std::mt19937_64 rng(3);
  const Image truth = pattern(96, 80);
  auto frames = noisy_biases(truth, 16, 3.0, rng);
  frames[5].at(40, 30) += 5000;  // a cosmic ray
  const Image master = master_bias(MemoryFrameSet(frames));
  // 3-sigma clipping keeps 99.73 % of a Gaussian: the noise of the mean is 3/sqrt(16) nearly.
  EXPECT_NEAR(rms_difference(master, truth), 3.0 / 4.0, 0.08);
  EXPECT_LT(std::abs(master.at(40, 30) - truth.at(40, 30)), 4 * 3.0 / 4.0);
  const Image plain = master_bias(MemoryFrameSet(frames), {0.0, 0});
  EXPECT_GT(plain.at(40, 30) - truth.at(40, 30), 300.0) << "without clipping the ray stays";
}

TEST(MasterBias, TheBandSizeDoesNotChangeTheResult) {
  std::mt19937_64 rng(4);
  const auto frames = noisy_biases(pattern(64, 50), 5, 2.0, rng);
  const MemoryFrameSet set(frames);
  const Image whole = master_bias(set, {3.0, 50});
  for (int band : {1, 7, 0}) EXPECT_EQ(master_bias(set, {3.0, band}).pixels, whole.pixels) << band;
}

TEST(MasterDark, RecoversTheDarkRatePerSecond) {
  std::mt19937_64 rng(5);
  const Image bias = pattern(64, 64);
  Image rate(64, 64);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) rate.at(x, y) = (x == 10 && y == 20) ? 50.0f : 0.2f;  // a hot pixel
  std::vector<Image> darks;
  std::vector<double> exptimes{10, 20, 30, 60, 60, 60};
  std::normal_distribution<double> noise(0, 1.0);
  for (double t : exptimes) {
    Image d = bias;
    for (std::size_t i = 0; i < d.pixels.size(); ++i) d.pixels[i] += static_cast<float>(rate.pixels[i] * t + noise(rng));
    darks.push_back(std::move(d));
  }
  const Image measured = master_dark_rate(MemoryFrameSet(darks, exptimes), bias);
  EXPECT_NEAR(measured.at(10, 20), 50.0, 0.1);
  EXPECT_NEAR(measured.at(30, 30), 0.2, 0.1);
}

// Twilight flats: level_i x response, plus stars that land somewhere else in every flat.
struct Flats {
  Image response;  // normalised to mean 1
  std::vector<Image> frames;
  Image star_mask;  // 1 where any flat had a star above 0.1 % of its level
};

Flats twilight_flats(int n, double star_peak_frac) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> n01;
  std::uniform_real_distribution<double> u01;
  const int w = 160, h = 120;
  Flats f{Image(w, h), {}, Image(w, h)};
  double sum = 0;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double r2 = (std::pow(x - w / 2.0, 2) + std::pow(y - h / 2.0, 2)) / (w * w / 4.0 + h * h / 4.0);
      f.response.at(x, y) = static_cast<float>((1.0 - 0.15 * r2) * (1.0 + 0.01 * n01(rng)));
      sum += f.response.at(x, y);
    }
  }
  for (auto& v : f.response.pixels) v = static_cast<float>(v / (sum / (w * h)));
  for (int i = 0; i < n; ++i) {
    const double level = 15000 + 20000 * u01(rng);
    Image frame(w, h);
    Image stars(w, h);
    for (int s = 0; s < 15; ++s) {  // a few stars shine through each twilight flat
      // Peak of a Moffat (beta 3, FWHM 3): flux x 0.0735.
      sim::add_moffat_star(stars, u01(rng) * w, u01(rng) * h, star_peak_frac * level / 0.0735, 3.0, 3.0);
    }
    for (std::size_t p = 0; p < frame.pixels.size(); ++p) {
      frame.pixels[p] = static_cast<float>(500.0 + level * f.response.pixels[p] + stars.pixels[p] +
                                           0.0005 * level * n01(rng));
      if (stars.pixels[p] > 0.001 * level) f.star_mask.pixels[p] = 1;
    }
    f.frames.push_back(std::move(frame));
  }
  return f;
}

// A flat's overall scale means nothing (the stars also lift every m_i a little): compare shapes,
// master / response about its median.
double worst_error_on_stars(const Flats& f, const Image& master) {
  std::vector<double> ratio;
  for (std::size_t p = 0; p < master.pixels.size(); ++p) ratio.push_back(master.pixels[p] / f.response.pixels[p]);
  const double scale = median(ratio);
  double worst = 0;
  for (std::size_t p = 0; p < master.pixels.size(); ++p) {
    if (f.star_mask.pixels[p] > 0) worst = std::max(worst, std::abs(ratio[p] / scale - 1.0));
  }
  return worst;
}

TEST(MasterFlat, RecoversThePixelResponseWhereTwilightStarsWere) {
  const auto flats = twilight_flats(11, 0.05);
  const Image bias(160, 120, 500.0f);
  const MemoryFrameSet set(flats.frames);
  const Image master = master_flat(set, bias);
  EXPECT_LT(worst_error_on_stars(flats, master), 0.003);
  // The published 3 median - 2 mean, with the star left in the mean, misses by about 2 s / N.
  const Image published = master_flat(set, bias, nullptr, FlatCombine::pearson_mode);
  EXPECT_GT(worst_error_on_stars(flats, published), 0.003);
}

// Bright twilight stars (peaks at 1.5x the sky) leave wings below the per-pixel clip; finding
// each flat's stars against a first master and combining again without them removes the rings.
TEST(MasterFlat, MaskingEachFlatsStarsRemovesTheirFaintWings) {
  const auto flats = twilight_flats(11, 1.5);
  const Image bias(160, 120, 500.0f);
  const MemoryFrameSet set(flats.frames);
  CombineOptions unmasked;
  unmasked.mask_flat_stars = false;
  const double with_rings = worst_error_on_stars(flats, master_flat(set, bias, nullptr, FlatCombine::clipped_pearson_mode, unmasked));
  const double masked = worst_error_on_stars(flats, master_flat(set, bias));
  // Measured: 3.5 % without, 0.41 % with (15 such stars per small flat overlap, so a few
  // pixels keep only a handful of flats).
  EXPECT_LT(masked, 0.005);
  EXPECT_LT(masked, 0.2 * with_rings);
}

TEST(MasterFlat, ThreadsDoNotChangeTheResult) {
  const auto flats = twilight_flats(7, 0.05);
  const Image bias(160, 120, 500.0f);
  const MemoryFrameSet set(flats.frames);
  const Image one = master_flat(set, bias, nullptr, FlatCombine::clipped_pearson_mode, {3.0, 0, 1});
  for (int threads : {2, 3, 0}) {
    EXPECT_EQ(master_flat(set, bias, nullptr, FlatCombine::clipped_pearson_mode, {3.0, 0, threads}).pixels,
              one.pixels) << threads << " threads";
  }
}

TEST(MasterFlat, FromTheSimulatorsCalibrationFrames) {
  sim::SimConfig c;
  c.width = c.height = 128;
  c.frames = 1;
  c.bias_frames = 7;
  c.flat_frames = 7;
  c.stars = 4;
  c.satellite_trails = c.cloud_outs = c.double_images = 0;
  const auto dir = fs::temp_directory_path() / ("masters_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  sim::simulate_night(c, dir, 2);
  const Image bias = master_bias(FitsFrameSet(test::calib_files(dir, "bias", 7)));
  std::vector<double> bias_values(bias.pixels.begin(), bias.pixels.end());
  EXPECT_NEAR(median(bias_values), c.bias_adu, 1.0);
  const Image flat = master_flat(FitsFrameSet(test::calib_files(dir, "flat", 7)), bias);
  // The simulator's vignetting: 1 - 0.15 r^2 with r = 1 at the corners.
  std::vector<double> centre, corner;
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) {
      centre.push_back(flat.at(60 + x, 60 + y));
      corner.push_back(flat.at(x, y));
    }
  }
  const double r2_corner = (std::pow(64 - 3.5, 2) * 2) / (64.0 * 64.0 * 2);
  const double r2_centre = std::pow(0.0, 2);
  EXPECT_NEAR(median(corner) / median(centre), (1 - 0.15 * r2_corner) / (1 - 0.15 * r2_centre), 0.01);
  fs::remove_all(dir);
}

TEST(FitsFrameSet, FramesOfAnotherSizeAreNamed) {
  const auto dir = fs::temp_directory_path() / ("frame_set_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  write_fits(dir / "a.fits", Image(32, 16), {{"EXPTIME", 10.0, ""}});
  write_fits(dir / "b.fits", Image(32, 17), {{"EXPTIME", 10.0, ""}});
  write_fits(dir / "c.fits", Image(32, 16), {});
  try {
    FitsFrameSet({dir / "a.fits", dir / "b.fits"});
    ADD_FAILURE() << "sizes differ";
  } catch (const FitsError& e) {
    EXPECT_NE(std::string(e.what()).find("b.fits: NAXIS1 x NAXIS2 is 32 x 17"), std::string::npos) << e.what();
  }
  try {
    FitsFrameSet({dir / "a.fits", dir / "c.fits"}, /*need_exptime=*/true);
    ADD_FAILURE() << "EXPTIME missing";
  } catch (const FitsError& e) {
    EXPECT_NE(std::string(e.what()).find("c.fits: header has no EXPTIME"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}


// The caller's exposures (frame_calibration's, read at ingest) are used, not the headers'.
TEST(FitsFrameSet, ExposuresFromTheCallerOverrideTheHeaders) {
  const auto dir = fs::temp_directory_path() / ("frame_set_exp_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  write_fits(dir / "a.fits", Image(8, 8), {{"EXPTIME", 1.0, "wrong"}});
  write_fits(dir / "b.fits", Image(8, 8), {});
  const FitsFrameSet set({dir / "a.fits", dir / "b.fits"}, std::vector<double>{10.0, 20.0});
  EXPECT_EQ(set.exptime(0), 10.0);
  EXPECT_EQ(set.exptime(1), 20.0);
  EXPECT_THROW(FitsFrameSet({dir / "a.fits", dir / "b.fits"}, std::vector<double>{10.0}), CalibrationError);
  fs::remove_all(dir);
}

// A flat with no light above the bias, a master of the wrong size and an empty frame set are
// bad input: CalibrationErrors naming the frame or master, never retryable.
TEST(MasterFlat, UnusableInputsAreNotRetryable) {
  const Image bias(8, 8, 100.0f);
  const MemoryFrameSet dark_flats({Image(8, 8, 100.0f), Image(8, 8, 90.0f)});
  try {
    master_flat(dark_flats, bias);
    ADD_FAILURE() << "a flat without light was combined";
  } catch (const CalibrationError& e) {
    EXPECT_STREQ(e.what(), "frame 0: mean level after bias is 0.000000, not a usable flat");
    EXPECT_FALSE(e.retryable());
  }
  try {
    master_dark_rate(dark_flats, Image(8, 9));
    ADD_FAILURE() << "a bias of another size was used";
  } catch (const CalibrationError& e) {
    EXPECT_STREQ(e.what(), "the master bias is 8 x 9, the frames are 8 x 8");
    EXPECT_FALSE(e.retryable());
  }
  EXPECT_THROW(MemoryFrameSet(std::vector<Image>{}), CalibrationError);
}

}  // namespace
}  // namespace tianyu::pipeline
