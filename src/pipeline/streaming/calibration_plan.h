#pragma once
// The masters folded once per minute into two per-pixel factors, so a short frame calibrates in
// one multiply-add on its way into the stack:
//   (S - B - D t) / F  =  (S - offset) * gain,   offset = B + D t,  gain = 1 / F
// (the formula of pipeline/calibration/calibrate.h, without its per-frame sky model: the sky
// adds up in the stack and is modelled once on the minute). A pixel the masters cannot
// calibrate (hot in the dark, a flat below min_flat, a non-finite master value) gets gain 0:
// it adds nothing and is taken off the exposure map.
#include <cstddef>
#include <span>
#include <vector>

#include "pipeline/calibration/calibrate.h"
#include "pipeline/streaming/short_frame.h"

namespace tianyu::pipeline::streaming {

struct CalibrationPlan {
  int width = 0, height = 0;
  double exptime_s = 0;
  std::vector<float> offset;  // B + D t (ADU), per detector pixel
  std::vector<float> gain;    // 1 / F, or 0 where the pixel is left out
  std::size_t unusable = 0;   // pixels with gain 0
  // Their columns, row by row (row y: unusable_x[unusable_start[y] .. unusable_start[y + 1]]):
  // a few per row, so the co-add takes them off the exposure map without scanning for them.
  std::vector<std::size_t> unusable_start;
  std::vector<int> unusable_x;
  float saturation_adu = 65000;

  float calibrated(std::size_t i, float raw) const { return (raw - offset[i]) * gain[i]; }
  std::span<const int> unusable_in_row(int y) const {
    return std::span<const int>(unusable_x).subspan(unusable_start[y], unusable_start[y + 1] - unusable_start[y]);
  }
};

// Any master may be absent (offset 0 / gain 1 then). A master of another size is a
// CalibrationError naming it; so is a plan with every pixel left out.
CalibrationPlan plan_calibration(int width, int height, double exptime_s, const Masters& masters,
                                 const StreamingOptions& options = {});

}  // namespace tianyu::pipeline::streaming
