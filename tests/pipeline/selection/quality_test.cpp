// Quality selection: synthetic statistics with known outliers, and a simulated night whose bad
// frames the simulator lists.
#include "pipeline/selection/quality.h"

#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "pipeline/calibration/calibrate.h"
#include "pipeline/detection/extract.h"
#include "pipeline/fits_io.h"
#include "pipeline/sim/night.h"
#include "support/sim_truth.h"

namespace tianyu::pipeline {
namespace {

namespace fs = std::filesystem;

TEST(QualitySelection, FlagsExactlyTheOutliersAndSaysWhy) {
  std::mt19937_64 rng(9);
  std::normal_distribution<double> count(200, 5), rms(10, 0.1);
  std::vector<FrameQuality> frames(50);
  for (auto& f : frames) f = {static_cast<int>(std::lround(count(rng))), rms(rng)};
  frames[7].star_count = 40;      // clouds
  frames[30].star_count = 260;    // a double image
  frames[12].background_rms = 14; // a satellite trail
  frames[20].background_rms = 9;  // a clearer frame than usual is no fault (upper clip only)
  const auto verdicts = select_frames(frames);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(verdicts[i].good, i != 7 && i != 12 && i != 30) << "frame " << i << ": " << verdicts[i].reason;
  }
  EXPECT_NE(verdicts[7].reason.find("star count 40 outside the 3-sigma range"), std::string::npos) << verdicts[7].reason;
  EXPECT_NE(verdicts[12].reason.find("background RMS 14.00 above the 5-sigma bound"), std::string::npos) << verdicts[12].reason;
}

// Cloud-outs only. A double image keeps the star count within the seeing-driven scatter and
// lifts the background RMS by ~5 %; a satellite trail does not move SEP's global RMS at all
// (its tiles clip the trail away). The two published rules cannot see either: a later rule
// (the alignment's matched fraction, source elongation, the masked area) must.
TEST(QualitySelection, FindsTheSimulatorsCloudOuts) {
  sim::SimConfig c;
  c.width = c.height = 256;
  c.frames = 30;
  c.stars = 300;
  c.bias_frames = c.flat_frames = 0;
  c.twilight_factor = 1;
  c.thin_cloud_depth = 0;
  c.satellite_trails = 0;
  c.cloud_outs = 2;
  c.double_images = 0;
  const auto dir = fs::temp_directory_path() / ("quality_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  sim::simulate_night(c, dir, 2);
  std::vector<FrameQuality> quality;
  std::vector<bool> bad;
  for (const auto& row : test::read_csv(dir / "truth" / "frames.csv")) {
    const auto raw = read_fits(dir / "raw" / row.at("file"));
    const auto cal = calibrate(raw.image, c.exptime_s, {});
    const auto sources = extract_sources(cal.image, &cal.mask, cal.background_rms);
    quality.push_back({static_cast<int>(sources.size()), cal.background_rms});
    bad.push_back(row.at("bad") == "1");
  }
  const auto verdicts = select_frames(quality);
  for (std::size_t i = 0; i < verdicts.size(); ++i) {
    EXPECT_EQ(!verdicts[i].good, bad[i]) << "frame " << i << " (" << quality[i].star_count
                                         << " stars, rms " << quality[i].background_rms << "): "
                                         << verdicts[i].reason;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tianyu::pipeline
