// The simulator against analytic answers and its own truth files.
#include "pipeline/sim/night.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "pipeline/fits_io.h"
#include "pipeline/robust_stats.h"
#include "support/sim_truth.h"

namespace tianyu::pipeline::sim {
namespace {

namespace fs = std::filesystem;
using test::read_csv;
constexpr double kDeg = 3.14159265358979323846 / 180.0;

double sum(const Image& im) {
  double s = 0;
  for (float v : im.pixels) s += v;
  return s;
}

TEST(MoffatStar, DeliversItsWholeFluxToThePixels) {
  for (const auto& [fwhm, beta] : std::vector<std::pair<double, double>>{{3.0, 3.0}, {2.2, 3.0}, {6.0, 2.5}}) {
    Image im(200, 200);
    add_moffat_star(im, 100.3, 99.7, 1e5, fwhm, beta);
    EXPECT_NEAR(sum(im), 1e5, 0.005 * 1e5) << "fwhm " << fwhm << " beta " << beta;
  }
}

TEST(MoffatStar, HasTheRequestedFwhm) {
  // Wide enough that the 1-pixel integration box does not broaden it measurably.
  for (double fwhm : {12.0, 24.0, 40.0}) {
    Image im(301, 301);
    add_moffat_star(im, 150.0, 150.0, 1e8, fwhm, 3.0);
    const float peak = im.at(150, 150);
    // Half maximum along the central row, by linear interpolation, on both sides.
    auto crossing = [&](int step) {
      int x = 150;
      while (im.at(x + step, 150) > peak / 2) x += step;
      const double a = im.at(x, 150), b = im.at(x + step, 150);
      return x + step * (a - peak / 2) / (a - b);
    };
    EXPECT_NEAR(crossing(1) - crossing(-1), fwhm, 0.02 * fwhm);
  }
}

SimConfig quiet_config() {
  SimConfig c;
  c.width = c.height = 256;
  c.frames = 4;
  c.bias_frames = c.flat_frames = 0;
  c.sky_gradient = 0;
  c.twilight_factor = 1;
  c.dark_e_per_s = 0;
  c.hot_pixels = 0;
  c.cosmic_rate_per_cm2_s = 0;
  c.bias_column_rms_adu = 0;
  c.flat_prnu = 0;
  c.flat_vignetting = 0;
  c.satellite_trails = c.cloud_outs = c.double_images = 0;
  c.stars = 4;  // only the named ones
  return c;
}

fs::path scratch(const std::string& name) {
  const auto dir = fs::temp_directory_path() /
                   ("sim_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

TEST(SimulatedNight, SkyNoiseIsPhotonPlusReadNoise) {
  auto c = quiet_config();
  c.sky_e_per_s = 40;
  const auto dir = scratch("noise");
  simulate_night(c, dir, 2);
  const auto frame = read_fits(dir / "raw" / "sci_0002.fits").image;
  std::vector<double> values(frame.pixels.begin(), frame.pixels.end());
  const double expected = std::sqrt(c.sky_e_per_s * c.exptime_s + c.read_noise_e * c.read_noise_e) / c.gain;
  // Clipped at 5 sigma: the four named stars go, the Gaussian keeps all but 6e-7 of itself
  // (a MAD would be quantised by the integer ADUs in steps of 1.48).
  const auto stats = sigma_clipped_stats(values, ClipOptions{5.0, 5.0, 10});
  EXPECT_NEAR(stats.stddev, expected, 0.03 * expected);
  EXPECT_NEAR(median(values) - c.bias_adu, c.sky_e_per_s * c.exptime_s / c.gain, 1.0);
  fs::remove_all(dir);
}

TEST(SimulatedNight, TruthFilesCarryTheTransitAndEveryFault) {
  SimConfig c;
  c.width = c.height = 256;
  c.frames = 80;
  c.stars = 60;
  c.transit_depth = 0.013;
  c.transit_duration_d = 0.005;  // 7.2 min: a flat bottom of several 13 s frames
  c.satellite_trails = 2;
  c.cloud_outs = 1;
  c.double_images = 1;
  const auto dir = scratch("truth");
  const auto summary = simulate_night(c, dir, 2);
  EXPECT_EQ(summary.bad_frames, 4);

  const auto stars = read_csv(dir / "truth" / "stars.csv");
  const auto frames = read_csv(dir / "truth" / "frames.csv");
  const auto flux = read_csv(dir / "truth" / "flux.csv");
  ASSERT_EQ(stars.size(), 60u);
  ASSERT_EQ(frames.size(), 80u);
  ASSERT_EQ(flux.size(), 60u * 80u);
  EXPECT_EQ(stars[0].at("variability"), "transit");

  // The target's flux relative to a constant star: the transit, free of the transparency.
  std::map<std::string, double> transparency;
  int bad = 0;
  for (const auto& f : frames) {
    transparency[f.at("file")] = std::stod(f.at("transparency"));
    bad += std::stoi(f.at("bad"));
  }
  EXPECT_EQ(bad, 4);
  // A thin cloud passes: the clearest good frames are near 1, the cloud's deepest near 1 - depth.
  double clearest = 0, cloudiest = 1;
  for (const auto& f : frames) {
    if (f.at("bad") == "1") continue;
    clearest = std::max(clearest, std::stod(f.at("transparency")));
    cloudiest = std::min(cloudiest, std::stod(f.at("transparency")));
  }
  EXPECT_GT(clearest, 0.99);
  EXPECT_NEAR(cloudiest, 1.0 - c.thin_cloud_depth, 0.04);
  const double e_per_s = std::pow(10.0, -0.4 * (std::stod(stars[0].at("mag")) - c.zeropoint_mag));
  double lowest = 2, highest = 0;
  for (const auto& r : flux) {
    if (r.at("star_id") != "0") continue;
    const double rel = std::stod(r.at("flux_e")) / (e_per_s * c.exptime_s * transparency[r.at("file")]);
    lowest = std::min(lowest, rel);
    highest = std::max(highest, rel);
  }
  EXPECT_NEAR(1.0 - lowest, c.transit_depth, 2e-4);
  EXPECT_NEAR(highest, 1.0, 1e-4);

  std::ifstream in(dir / "truth" / "signals.json");
  const auto signals = nlohmann::json::parse(in);
  EXPECT_DOUBLE_EQ(signals["transit"]["depth"].get<double>(), c.transit_depth);
  EXPECT_EQ(signals["bad_frames"].size(), 4u);
  fs::remove_all(dir);
}

TEST(SimulatedNight, TheWcsPutsEachStarWhereTheTruthSays) {
  SimConfig c;
  c.width = c.height = 256;
  c.frames = 30;
  c.stars = 20;
  c.dec_deg = 62.0;
  const auto dir = scratch("wcs");
  simulate_night(c, dir, 2);
  const auto stars = read_csv(dir / "truth" / "stars.csv");
  const auto frames = read_csv(dir / "truth" / "frames.csv");
  const auto& f = frames[25];
  const auto h = read_fits(dir / "raw" / f.at("file")).header;
  const double ra0 = std::stod(h.at("CRVAL1")) * kDeg, dec0 = std::stod(h.at("CRVAL2")) * kDeg;
  for (int i = 0; i < 4; ++i) {
    const double ra = std::stod(stars[i].at("ra_deg")) * kDeg, dec = std::stod(stars[i].at("dec_deg")) * kDeg;
    // Gnomonic projection, then the CD matrix (diagonal here), 1-based CRPIX.
    const double cosc = std::sin(dec0) * std::sin(dec) + std::cos(dec0) * std::cos(dec) * std::cos(ra - ra0);
    const double xi = std::cos(dec) * std::sin(ra - ra0) / cosc / kDeg;
    const double eta = (std::cos(dec0) * std::sin(dec) - std::sin(dec0) * std::cos(dec) * std::cos(ra - ra0)) / cosc / kDeg;
    const double x = std::stod(h.at("CRPIX1")) - 1 + xi / std::stod(h.at("CD1_1"));
    const double y = std::stod(h.at("CRPIX2")) - 1 + eta / std::stod(h.at("CD2_2"));
    EXPECT_NEAR(x, std::stod(stars[i].at("x_first")) + std::stod(f.at("dx")), 0.01) << "star " << i;
    EXPECT_NEAR(y, std::stod(stars[i].at("y_first")) + std::stod(f.at("dy")), 0.01) << "star " << i;
  }
  EXPECT_EQ(h.at("IMAGETYP"), "LIGHT");
  EXPECT_EQ(h.at("CTYPE1"), "RA---TAN");
  fs::remove_all(dir);
}

std::string bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(SimulatedNight, TheSameSeedGivesTheSameBytesWhateverTheThreads) {
  SimConfig c;
  c.width = c.height = 128;
  c.frames = 6;
  c.stars = 30;
  c.bias_frames = c.flat_frames = 2;
  const auto a = scratch("seed_a"), b = scratch("seed_b"), d = scratch("seed_d");
  simulate_night(c, a, 1);
  simulate_night(c, b, 2);
  c.seed = 2;
  simulate_night(c, d, 2);
  int compared = 0;
  for (const auto& entry : fs::recursive_directory_iterator(a)) {
    if (!entry.is_regular_file()) continue;
    const auto rel = fs::relative(entry.path(), a);
    EXPECT_EQ(bytes(entry.path()), bytes(b / rel)) << rel;
    ++compared;
  }
  EXPECT_EQ(compared, 6 + 4 + 4);
  EXPECT_NE(bytes(a / "raw" / "sci_0003.fits"), bytes(d / "raw" / "sci_0003.fits"));
  for (const auto& p : {a, b, d}) fs::remove_all(p);
}

TEST(SimConfig, BadFieldsAreNamed) {
  auto field_of = [](const nlohmann::json& j) {
    try {
      apply_json(SimConfig{}, j);
    } catch (const SimConfigError& e) {
      return e.field();
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(field_of({{"width", -5}}), "width");
  EXPECT_EQ(field_of({{"wdth", 512}}), "wdth");
  EXPECT_EQ(field_of({{"frames", "many"}}), "frames");
  EXPECT_EQ(field_of({{"frames", 2.5}}), "frames");
  EXPECT_EQ(field_of({{"start_utc", "yesterday"}}), "start_utc");
  EXPECT_EQ(field_of({{"frames", 2}, {"satellite_trails", 2}}), "frames");
  EXPECT_EQ(field_of({{"width", 1024}}), "(accepted)");
  EXPECT_THROW(preset("hubble"), SimConfigError);
  EXPECT_EQ(preset("paper").width, 2048);
  EXPECT_EQ(preset("paper").frames, 999);
}

}  // namespace
}  // namespace tianyu::pipeline::sim
