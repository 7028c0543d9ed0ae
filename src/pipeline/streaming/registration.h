#pragma once
// Registration of short frames by a few bright stars: picked once on the first frame of the
// minute (the brightest clean star in a window of each cell of a grid), then found again in
// every later frame in a small window around where the previous frame had them. A frame's
// shift is the median of its stars' centroid offsets; the co-add uses it rounded to whole
// pixels (shift-and-add: at most half a pixel of smear, against a 3-px seeing disc). Each
// frame reads a few thousand pixels here, not the frame.
#include <vector>

#include "pipeline/streaming/calibration_plan.h"
#include "pipeline/streaming/short_frame.h"

namespace tianyu::pipeline::streaming {

// Where the frame's stars are relative to the first frame's (x_frame = x_first + dx).
struct FrameShift {
  double dx = 0, dy = 0;  // the median star offset, sub-pixel
  int ix = 0, iy = 0;     // rounded: what the co-add applies
  int stars = 0;          // reference stars found in this frame
};

struct ReferenceStar {
  double x = 0, y = 0;  // centroid on the first frame (0-based pixel centres)
  double peak = 0;      // its 3x3 mean above the window's median (calibrated ADU)
};

class ShiftTracker {
 public:
  ShiftTracker(const CalibrationPlan& plan, const StreamingOptions& options);
  // The first call picks the reference stars and returns a zero shift; StreamingInputError
  // ("reference stars") if the first frame has none, ("registration") if a later frame shows
  // none of them within the search radius.
  FrameShift measure(const ShortFrame& frame);
  const std::vector<ReferenceStar>& reference() const { return reference_; }

 private:
  void pick_reference(const ShortFrame& frame);

  const CalibrationPlan* plan_;  // a pointer, so a tracker can be saved and restored
  StreamingOptions options_;
  std::vector<ReferenceStar> reference_;
  FrameShift last_;
  bool started_ = false;
};

}  // namespace tianyu::pipeline::streaming
