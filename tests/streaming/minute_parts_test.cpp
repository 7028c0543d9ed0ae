// Several consumers share a minute: its frames co-added in parts, each on the grid of the
// minute's first frame (MinuteCoadd::use_grid_of), add up to what one co-add of all the frames
// gives, pixel for pixel (the known answer: the minute made whole, same frames, same masters).
#include <gtest/gtest.h>

#include <cmath>

#include "pipeline/streaming/minute_coadd.h"
#include "streaming/minute_fixture.h"

namespace tianyu::pipeline::streaming {
namespace {

using testing::masters_of;
using testing::small_minute;
using testing::view;

MinuteStack coadd_frames(const ShortMinute& minute, int first, int end, bool on_grid_of_first_frame) {
  MinuteCoadd coadd(minute.width(), minute.height(), minute.exptime_s(), masters_of(minute), {.threads = 2});
  std::vector<std::uint16_t> raw;
  if (on_grid_of_first_frame && first > 0) {
    minute.render(0, raw);
    coadd.use_grid_of(view(raw, minute, 0));
  }
  for (int k = first; k < end; ++k) {
    minute.render(k, raw);
    coadd.add(view(raw, minute, k));
  }
  return coadd.finish();
}

TEST(MinuteParts, PartsOnTheFirstFramesGridAddUpToTheWholeMinute) {
  constexpr int kFrames = 24;
  auto config = small_minute(kFrames);
  config.drift_x_px = 0.15;  // 3.5 px over the minute: the parts start well away from frame 0
  config.drift_y_px = -0.1;
  const ShortMinute minute(config);
  const auto whole = coadd_frames(minute, 0, kFrames, false);
  std::vector<MinuteStack> parts;
  for (const auto& [first, end] : {std::pair{0, 8}, std::pair{8, 16}, std::pair{16, 24}}) {
    parts.push_back(coadd_frames(minute, first, end, true));
  }
  EXPECT_NE(parts[2].shifts.front().ix, 0) << "the last part's first frame is shifted against frame 0";
  const auto added = sum_minute_parts(std::move(parts));
  EXPECT_EQ(added.frames, kFrames);
  EXPECT_EQ(added.pixels_left_out, whole.pixels_left_out);
  ASSERT_EQ(added.shifts.size(), whole.shifts.size());
  for (std::size_t k = 0; k < whole.shifts.size(); ++k) {
    EXPECT_EQ(added.shifts[k].ix, whole.shifts[k].ix) << "frame " << k;
    EXPECT_EQ(added.shifts[k].iy, whole.shifts[k].iy) << "frame " << k;
  }
  double worst = 0;
  for (std::size_t i = 0; i < whole.sum.pixels.size(); ++i) {
    worst = std::max(worst, std::abs(double(added.sum.pixels[i]) - whole.sum.pixels[i]) /
                                (1e-5 * std::abs(whole.sum.pixels[i]) + 1e-2));
    ASSERT_FLOAT_EQ(added.exposure_s.pixels[i], whole.exposure_s.pixels[i]) << "pixel " << i;
  }
  EXPECT_LE(worst, 1.0) << "the parts' sum differs from the whole minute's beyond float rounding";
}

TEST(MinuteParts, PartsOfAnotherSizeOrExposureAreRefusedNamingTheField) {
  MinuteStack a, b;
  a.sum = a.exposure_s = Image(4, 4);
  b.sum = b.exposure_s = Image(4, 3);
  a.exptime_s = b.exptime_s = 0.3;
  try {
    sum_minute_parts({a, b});
    FAIL() << "parts of another size were added";
  } catch (const StreamingInputError& e) {
    EXPECT_NE(std::string(e.what()).find("part 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("size"), std::string::npos) << e.what();
  }
  b.sum = b.exposure_s = Image(4, 4);
  b.exptime_s = 0.6;
  EXPECT_THROW(sum_minute_parts({a, b}), StreamingInputError);
  EXPECT_THROW(sum_minute_parts({}), StreamingInputError);
}

}  // namespace
}  // namespace tianyu::pipeline::streaming
