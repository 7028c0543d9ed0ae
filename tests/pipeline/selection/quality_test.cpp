// Quality selection: synthetic statistics with known outliers, and a simulated night whose bad
// frames the simulator lists.
#include "pipeline/selection/quality.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "pipeline/alignment/align.h"
#include "pipeline/calibration/calibrate.h"
#include "pipeline/detection/extract.h"
#include "pipeline/fits_io.h"
#include "pipeline/sim/night.h"
#include "support/sim_truth.h"

namespace tianyu::pipeline {
namespace {

namespace fs = std::filesystem;

// Shifts of a night of `n` frames: the mount drifts 1.2 and -0.8 px a frame, with 0.05 px of
// image motion; every other statistic is the same, so only the track can reject a frame.
std::vector<FrameQuality> drifting_night(int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> jitter(0, 0.05);
  std::vector<FrameQuality> frames(n);
  for (int i = 0; i < n; ++i) {
    frames[i].star_count = 200;
    frames[i].background_rms = 10;
    frames[i].dx = 1.2 * i + jitter(rng);
    frames[i].dy = -0.8 * i + jitter(rng);
  }
  return frames;
}

// Two consecutive minutes aligned on hot pixels (where the detector is, not the sky) are off
// the drift's track; every other frame is kept.
TEST(QualitySelection, AFalseAlignmentOffTheDriftsTrackIsRejected) {
  auto frames = drifting_night(24, 3);
  frames[9].dx = -0.8, frames[9].dy = 0.3;
  frames[10].dx = -0.6, frames[10].dy = 0.1;
  const auto verdicts = select_frames(frames);
  for (int i = 0; i < 24; ++i) {
    EXPECT_EQ(verdicts[i].good, i != 9 && i != 10) << "frame " << i << ": " << verdicts[i].reason;
  }
  EXPECT_NE(verdicts[9].reason.find("shift (-0.8, 0.3) px misses the night's track by"), std::string::npos)
      << verdicts[9].reason;
  EXPECT_NE(verdicts[9].reason.find("a false alignment"), std::string::npos) << verdicts[9].reason;
  // The first and the last frame have neighbours on one side only: a false one there is caught.
  frames = drifting_night(24, 4);
  frames[0].dx = 9.0;
  frames[23].dy = 0.0;  // the drift had reached -18.4 px
  const auto ends = select_frames(frames);
  EXPECT_FALSE(ends[0].good);
  EXPECT_FALSE(ends[23].good);
  EXPECT_EQ(std::count_if(ends.begin(), ends.end(), [](const FrameVerdict& v) { return v.good; }), 22);
}

// A re-pointing of the mount (a 40-px jump kept for the rest of the night), a dithered night
// (every frame 0-20 px off at random) and a night too short to have a track reject nothing.
TEST(QualitySelection, AJumpADitherOrAShortNightIsNotOffTrack) {
  auto jump = drifting_night(30, 5);
  for (int i = 15; i < 30; ++i) jump[i].dx += 40;
  for (const auto& v : select_frames(jump)) EXPECT_TRUE(v.good) << v.reason;
  auto dither = drifting_night(30, 6);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> offset(0, 20);
  for (auto& f : dither) f.dx += offset(rng), f.dy += offset(rng);
  for (const auto& v : select_frames(dither)) EXPECT_TRUE(v.good) << v.reason;
  auto few = drifting_night(10, 8);
  few[4].dx = 50;
  for (const auto& v : select_frames(few)) EXPECT_TRUE(v.good) << v.reason;
}

TEST(QualitySelection, FlagsExactlyTheOutliersAndSaysWhy) {
  std::mt19937_64 rng(9);
  std::normal_distribution<double> count(200, 5), rms(10, 0.1);
  std::vector<FrameQuality> frames(50);
  for (auto& f : frames) {
    f.star_count = static_cast<int>(std::lround(count(rng)));
    f.background_rms = rms(rng);
  }
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

TEST(QualitySelection, NewRulesNameTheirNumbers) {
  std::vector<FrameQuality> frames(20);
  for (int i = 0; i < 20; ++i) frames[i] = {100 + i % 3, 10.0 + 0.01 * (i % 4), true, "", 0.95 + 0.01 * (i % 5), 0};
  frames[4].transparency = 0.6;   // a cloud that took 37 % of the light, star count unchanged
  frames[5].transparency = 0.7;   // 27 % lost: kept (thin cloud is the relative flux's job)
  frames[9].trail_length_px = 250;
  frames[11].aligned = false;
  frames[11].alignment_failure = "only 3 source pairs agree on an offset (need 5)";
  const auto verdicts = select_frames(frames);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(verdicts[i].good, i != 4 && i != 9 && i != 11) << "frame " << i << ": " << verdicts[i].reason;
  }
  EXPECT_EQ(verdicts[4].reason, "transparency 0.60 below 0.7 of the night's median 0.97");
  EXPECT_EQ(verdicts[9].reason, "a trail 250 px long crosses the frame");
  EXPECT_EQ(verdicts[11].reason, "not aligned: only 3 source pairs agree on an offset (need 5)");
}

TEST(QualitySelection, ATrailIsLongAndThinAndAStarIsNot) {
  Source star;
  star.a = 1.4;
  star.b = 1.2;
  Source blend = star;  // two stars touching: elongated, but short
  blend.a = 4.0;
  blend.b = 1.3;
  Source trail = star;  // a 200-px line 2 px wide
  trail.a = 200 / std::sqrt(12.0);
  trail.b = 0.8;
  EXPECT_EQ(longest_trail({star, blend}), 0.0);
  EXPECT_NEAR(longest_trail({star, trail, blend}), 200.0, 1e-9);
}

// The simulator's bad frames: cloud-outs, satellite trails and doubled images (a tracking jump
// mid-exposure puts 40 % of every star 11 px away), flagged exactly, with thin cloud and
// twilight left in.
TEST(QualitySelection, FlagsExactlyTheSimulatorsBadFrames) {
  sim::SimConfig c;
  c.width = c.height = 256;
  c.frames = 30;
  c.stars = 300;
  c.bias_frames = c.flat_frames = 0;
  c.satellite_trails = 3;
  c.cloud_outs = 2;
  c.double_images = 3;
  const auto dir = fs::temp_directory_path() / ("quality_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  sim::simulate_night(c, dir, 2);
  std::vector<FrameQuality> quality;
  std::vector<bool> bad;
  std::vector<Source> reference;
  for (const auto& row : test::read_csv(dir / "truth" / "frames.csv")) {
    const auto raw = read_fits(dir / "raw" / row.at("file"));
    const auto cal = calibrate(raw.image, c.exptime_s, {});
    const auto sources = extract_sources(cal.image, &cal.mask, cal.background_rms);
    if (reference.empty()) reference = sources;  // the first frame is never a bad one
    const auto aligned = align_to_reference(reference, sources);
    quality.push_back({static_cast<int>(sources.size()), cal.background_rms, aligned.aligned,
                       aligned.reason, aligned.transparency, longest_trail(sources)});
    bad.push_back(row.at("bad") == "1");
  }
  ASSERT_EQ(std::count(bad.begin(), bad.end(), true), 8);
  const auto verdicts = select_frames(quality);
  for (std::size_t i = 0; i < verdicts.size(); ++i) {
    EXPECT_EQ(!verdicts[i].good, bad[i]) << "frame " << i << " (" << quality[i].star_count
                                         << " stars, rms " << quality[i].background_rms
                                         << ", transparency " << quality[i].transparency
                                         << ", trail " << quality[i].trail_length_px << "): "
                                         << verdicts[i].reason;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tianyu::pipeline
