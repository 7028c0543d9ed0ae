// Registration of short frames by a few bright stars: a known shift sequence is recovered to a
// fraction of a pixel, and frames without stars are refused naming the field.
#include <gtest/gtest.h>

#include <cmath>

#include "pipeline/streaming/minute_coadd.h"
#include "pipeline/streaming/registration.h"
#include "streaming/minute_fixture.h"

namespace tianyu::pipeline::streaming {
namespace {

using testing::masters_of;
using testing::small_minute;
using testing::view;

TEST(ShiftTracker, RecoversAKnownShiftSequence) {
  // Sub-pixel steps, a jump of several pixels, and back past the start.
  const std::vector<std::pair<double, double>> truth = {
      {0, 0}, {0.3, -0.2}, {1.3, -0.7}, {2.6, -1.4}, {6.2, 3.1}, {5.5, 0.25}, {-2.4, 4.6}, {-7.8, -6.3}};
  ShortMinute minute(small_minute(static_cast<int>(truth.size())));
  for (std::size_t k = 0; k < truth.size(); ++k) minute.set_shift(static_cast<int>(k), truth[k].first, truth[k].second);
  const CalibrationPlan plan = plan_calibration(minute.width(), minute.height(), minute.exptime_s(), masters_of(minute));
  ShiftTracker tracker(plan, {});
  std::vector<std::uint16_t> raw;
  for (std::size_t k = 0; k < truth.size(); ++k) {
    minute.render(static_cast<int>(k), raw);
    const FrameShift s = tracker.measure(view(raw, minute, static_cast<int>(k)));
    EXPECT_NEAR(s.dx, truth[k].first, 0.15) << "frame " << k;
    EXPECT_NEAR(s.dy, truth[k].second, 0.15) << "frame " << k;
    EXPECT_EQ(s.ix, std::lround(truth[k].first)) << "frame " << k;
    EXPECT_EQ(s.iy, std::lround(truth[k].second)) << "frame " << k;
    EXPECT_GE(s.stars, 3) << "frame " << k;
  }
  EXPECT_GE(tracker.reference().size(), 3u);
}

// A frame of sky only (the dome closed, a cloud): the camera's bias and the sky's noise.
std::vector<std::uint16_t> starless(const ShortMinute& m) {
  auto config = small_minute(1);
  config.stars = 4;
  config.mag_bright = 30;  // far below the noise
  config.mag_faint = 31;
  std::vector<std::uint16_t> raw;
  ShortMinute(config).render(0, raw);
  EXPECT_EQ(raw.size(), static_cast<std::size_t>(m.width()) * m.height());
  return raw;
}

TEST(ShiftTracker, AStarlessFirstFrameIsRefusedNamingTheReferenceStars) {
  const ShortMinute minute(small_minute(1));
  MinuteCoadd coadd(minute.width(), minute.height(), minute.exptime_s(), masters_of(minute));
  const auto raw = starless(minute);
  try {
    coadd.add(view(raw, minute, 0));
    FAIL() << "a starless first frame was registered";
  } catch (const StreamingInputError& e) {
    EXPECT_EQ(e.field(), "reference stars");
    EXPECT_EQ(e.frame(), "short_0.fits");
  }
}

TEST(ShiftTracker, ALaterStarlessFrameIsRefusedNamingTheRegistration) {
  const ShortMinute minute(small_minute(1));
  MinuteCoadd coadd(minute.width(), minute.height(), minute.exptime_s(), masters_of(minute));
  std::vector<std::uint16_t> first;
  minute.render(0, first);
  coadd.add(view(first, minute, 0));
  const auto raw = starless(minute);
  try {
    coadd.add(view(raw, minute, 1));
    FAIL() << "a starless frame was registered";
  } catch (const StreamingInputError& e) {
    EXPECT_EQ(e.field(), "registration");
    EXPECT_NE(std::string(e.what()).find("short_1.fits: registration: none of the"), std::string::npos) << e.what();
  }
  EXPECT_EQ(coadd.frames(), 1);
}

}  // namespace
}  // namespace tianyu::pipeline::streaming
