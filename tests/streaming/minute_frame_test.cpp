// A minute stack as a frame of the night (pipeline/streaming/minute_frame.h): which frames make
// each minute of a night, and which pixels of a minute not every frame covered.
#include <gtest/gtest.h>

#include "pipeline/calibration/calibrate.h"
#include "pipeline/streaming/minute_frame.h"

namespace tianyu::pipeline::streaming {
namespace {

constexpr double kSecond = 1.0 / 86400;

TEST(MinuteGroups, FramesAreGroupedByTheMinuteTheyWereTakenInAndEmptyMinutesLeftOut) {
  const double t0 = 2461056.5;
  // Out of order; minute 0 has three frames, minute 1 none, minute 2 two (one on its boundary).
  const std::vector<double> jd{t0 + 130 * kSecond, t0 + 20 * kSecond, t0, t0 + 120 * kSecond, t0 + 59.9 * kSecond};
  const auto groups = minute_groups(jd);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0], (std::vector<std::size_t>{2, 1, 4})) << "in time order";
  EXPECT_EQ(groups[1], (std::vector<std::size_t>{3, 0}));
  EXPECT_EQ(minute_indices(jd), (std::vector<std::uint64_t>{2, 0, 0, 2, 0}));
  EXPECT_TRUE(minute_groups({}).empty());
}

// Tianyu-I's minute of 174 frames over a master bias of 5: the master's noise, the same in every
// frame, sums to 174 / sqrt(5) = 77.8 x the read noise against sqrt(174) = 13.2 x from the frames;
// with as many bias frames as a minute has frames (or more, or none) there is nothing to say.
TEST(CoherentMasterNoise, FewerCalibrationFramesThanAMinuteHasFramesAreNamed) {
  const auto advice = coherent_master_noise_advice("bias", 5, 174);
  EXPECT_NE(advice.find("5 bias frames for minutes of up to 174 short frames"), std::string::npos) << advice;
  EXPECT_NE(advice.find("174/sqrt(5) = 77.8 x"), std::string::npos) << advice;
  EXPECT_NE(advice.find("sqrt(174) = 13.2 x"), std::string::npos) << advice;
  EXPECT_NE(advice.find("take at least 174 bias frames"), std::string::npos) << advice;
  EXPECT_NE(coherent_master_noise_advice("dark", 173, 174), "");
  EXPECT_EQ(coherent_master_noise_advice("bias", 174, 174), "");
  EXPECT_EQ(coherent_master_noise_advice("bias", 200, 174), "");
  EXPECT_EQ(coherent_master_noise_advice("bias", 0, 174), "");
}

TEST(PartialExposureMask, OnlyPixelsEveryFrameCoveredAreGood) {
  Image exposure(4, 2);
  for (auto& p : exposure.pixels) p = 52.2f;  // 174 frames of 0.3 s
  exposure.at(0, 0) = 52.2f - 0.3f;           // one frame's footprint missed it
  exposure.at(3, 1) = 0.0f;                   // none covered it
  const auto mask = partial_exposure_mask(exposure);
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 4; ++x) {
      const bool partial = (x == 0 && y == 0) || (x == 3 && y == 1);
      EXPECT_EQ(mask[static_cast<std::size_t>(y) * 4 + x], partial ? kPartialExposure : 0) << x << "," << y;
    }
  }
}

}  // namespace
}  // namespace tianyu::pipeline::streaming
