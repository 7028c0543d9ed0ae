// Calibration of a simulated frame against the simulator's truth, and the masks.
#include "pipeline/calibration/calibrate.h"

#include <cmath>
#include <filesystem>

#include <random>

#include <gtest/gtest.h>

#include "pipeline/calibration/masters.h"
#include "pipeline/fits_io.h"
#include "pipeline/robust_stats.h"
#include "pipeline/sim/night.h"
#include "support/sim_truth.h"

namespace tianyu::pipeline {
namespace {

namespace fs = std::filesystem;

// sky_adu of a file, from truth/frames.csv.
double truth_sky_adu(const fs::path& dir, const std::string& file) {
  for (const auto& row : test::read_csv(dir / "truth" / "frames.csv")) {
    if (row.at("file") == file) return std::stod(row.at("sky_adu"));
  }
  throw std::runtime_error("no truth for " + file);
}

class CalibrateSimulatedFrame : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config_.width = config_.height = 256;
    config_.frames = 3;
    config_.bias_frames = 9;
    config_.flat_frames = 9;
    config_.dark_frames = 5;
    config_.stars = 80;
    config_.cosmic_rate_per_cm2_s = 0;
    config_.satellite_trails = config_.cloud_outs = config_.double_images = 0;
    dir_ = fs::temp_directory_path() / ("calibrate_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    sim::simulate_night(config_, dir_, 2);
    bias_ = master_bias(FitsFrameSet(test::calib_files(dir_, "bias", 9)));
    dark_ = master_dark_rate(FitsFrameSet(test::calib_files(dir_, "dark", 5), true), bias_);
    flat_ = master_flat(FitsFrameSet(test::calib_files(dir_, "flat", 9)), bias_, &dark_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static inline sim::SimConfig config_;
  static inline fs::path dir_;
  static inline Image bias_, dark_, flat_;
};

TEST_F(CalibrateSimulatedFrame, LeavesAZeroBackgroundWithTheExpectedNoise) {
  const auto raw = read_fits(dir_ / "raw" / "sci_0002.fits");
  const auto out = calibrate(raw.image, config_.exptime_s, {&bias_, &dark_, &flat_});
  const double sky = truth_sky_adu(dir_, "sci_0002.fits");
  EXPECT_NEAR(out.background, sky, 0.02 * sky);
  const double sky_e = sky * config_.gain;
  const double expected_rms = std::sqrt(sky_e + config_.dark_e_per_s * config_.exptime_s +
                                        config_.read_noise_e * config_.read_noise_e) / config_.gain;
  EXPECT_NEAR(out.background_rms, expected_rms, 0.05 * expected_rms);
  std::vector<double> good;
  for (std::size_t i = 0; i < out.image.pixels.size(); ++i) {
    if (out.mask[i] == 0) good.push_back(out.image.pixels[i]);
  }
  const auto stats = sigma_clipped_stats(good);
  EXPECT_NEAR(stats.median, 0.0, 0.05 * expected_rms);
  // The simulator's hot pixels (some may share a pixel) are masked, and few others are.
  std::size_t hot = 0;
  for (auto m : out.mask) hot += (m & kHot) != 0;
  EXPECT_GE(hot, static_cast<std::size_t>(config_.hot_pixels * 9 / 10));
  EXPECT_LE(hot, static_cast<std::size_t>(config_.hot_pixels + 5));
}

TEST_F(CalibrateSimulatedFrame, ThreadsDoNotChangeTheResult) {
  const auto raw = read_fits(dir_ / "raw" / "sci_0003.fits");
  const auto one = calibrate(raw.image, config_.exptime_s, {&bias_, &dark_, &flat_});
  for (int threads : {2, 3, 0}) {
    CalibrationOptions options;
    options.threads = threads;
    const auto many = calibrate(raw.image, config_.exptime_s, {&bias_, &dark_, &flat_}, options);
    EXPECT_EQ(many.image.pixels, one.image.pixels) << threads << " threads";
    EXPECT_EQ(many.mask, one.mask);
    EXPECT_EQ(many.masked, one.masked);
    EXPECT_EQ(many.background_rms, one.background_rms);
  }
}

// The calibrate step overlaps its mask's write with the background model: the two stages
// give calibrate()'s frame, and the first leaves the sky in (the truth's level).
TEST_F(CalibrateSimulatedFrame, ItsTwoStagesAreTheWholeCalibration) {
  const auto raw = read_fits(dir_ / "raw" / "sci_0002.fits");
  CalibrationOptions options;
  options.threads = 3;
  const auto whole = calibrate(raw.image, config_.exptime_s, {&bias_, &dark_, &flat_}, options);
  auto staged = calibrate_pixels(raw.image, config_.exptime_s, {&bias_, &dark_, &flat_}, options);
  EXPECT_EQ(staged.mask, whole.mask);
  EXPECT_EQ(staged.background_rms, 0.0);
  std::vector<double> unsubtracted;
  for (std::size_t i = 0; i < staged.image.pixels.size(); ++i) {
    if (staged.mask[i] == 0) unsubtracted.push_back(staged.image.pixels[i]);
  }
  const double sky = truth_sky_adu(dir_, "sci_0002.fits");
  EXPECT_NEAR(median(unsubtracted), sky, 0.02 * sky);
  model_sky(staged, options);
  EXPECT_EQ(staged.image.pixels, whole.image.pixels);
  EXPECT_EQ(staged.background, whole.background);
  EXPECT_EQ(staged.background_rms, whole.background_rms);
  EXPECT_EQ(staged.masked, whole.masked);
}

TEST_F(CalibrateSimulatedFrame, WorksWithoutDarkOrFlat) {
  const auto raw = read_fits(dir_ / "raw" / "sci_0001.fits");
  const auto out = calibrate(raw.image, config_.exptime_s, {&bias_, nullptr, nullptr});
  const double sky = truth_sky_adu(dir_, "sci_0001.fits");
  // Without the flat the vignetting stays in, but the mean sky level is still the truth's.
  EXPECT_NEAR(out.background, sky, 0.05 * sky);
  EXPECT_EQ(std::count_if(out.mask.begin(), out.mask.end(), [](auto m) { return (m & kHot) != 0; }), 0);
}

// Without a dark, hot pixels and cosmic rays are found by their sharpness; stars are not,
// down to a FWHM of 1.5 px.
TEST(Calibrate, MasksLoneSharpPixelsButNotStars) {
  Image raw(200, 160);
  std::mt19937_64 rng(11);
  std::normal_distribution<double> sky(1000.0, 10.0);
  for (auto& v : raw.pixels) v = static_cast<float>(sky(rng));
  for (const double fwhm : {1.5, 3.0}) sim::add_moffat_star(raw, fwhm == 1.5 ? 50.2 : 150.4, 80.3, 2e5, fwhm, 3.0);
  raw.at(100, 40) += 3000;                                     // a hot pixel
  for (int x = 120; x < 123; ++x) raw.at(x, 120) += 4000;      // a cosmic-ray streak
  CalibrationOptions options;
  options.mask_sharp_pixels = true;
  const auto out = calibrate(raw, 10.0, {}, options);
  EXPECT_TRUE(out.mask[40 * 200 + 100] & kSharp);
  for (int x = 120; x < 123; ++x) EXPECT_TRUE(out.mask[120 * 200 + x] & kSharp) << x;
  for (int y = 75; y < 86; ++y) {
    for (int x = 40; x < 160; ++x) {
      if (std::hypot(x - 50.2, y - 80.3) < 6 || std::hypot(x - 150.4, y - 80.3) < 6) {
        EXPECT_EQ(out.mask[y * 200 + x], 0) << "star pixel (" << x << ", " << y << ") masked";
      }
    }
  }
  EXPECT_EQ(out.masked, 4u);
}

TEST(Calibrate, MasksSaturatedAndNonFinitePixelsAndRejectsWrongSizes) {
  Image raw(128, 128, 1000.0f);
  raw.at(10, 10) = 65535.0f;
  raw.at(20, 20) = std::nanf("");
  const Image bias(128, 128, 100.0f);
  const auto out = calibrate(raw, 10.0, {&bias, nullptr, nullptr});
  EXPECT_EQ(out.mask[10 * 128 + 10], kSaturated);
  EXPECT_EQ(out.mask[20 * 128 + 20], kNotFinite);
  EXPECT_EQ(out.masked, 2u);
  EXPECT_NEAR(out.background, 900.0, 1e-3);
  for (float v : out.image.pixels) ASSERT_TRUE(std::isfinite(v));
  const Image small_flat(64, 64, 1.0f);
  try {
    calibrate(raw, 10.0, {&bias, nullptr, &small_flat});
    ADD_FAILURE() << "a flat of another size was used";
  } catch (const CalibrationError& e) {
    EXPECT_NE(std::string(e.what()).find("the master flat is 64 x 64, the frame is 128 x 128"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tianyu::pipeline
