#pragma once
// The minute stack of a short-exposure night: each raw short frame is validated, registered
// against the minute's first frame (registration.h) and calibrated on its way into a float sum
// in one pass over its pixels, in row bands on all cores. Nothing is written per short frame;
// memory is the stack, its exposure map and the calibration plan, whatever the frame count.
//
// The exposure map is not accumulated per frame (that would double the memory traffic): a
// pixel's exposure is the frames whose shifted footprint covers it, known from the shifts at the
// end, less the rare pixels left out (saturated, or unusable in the masters), which the pass
// counts only where they occur.
#include <cstddef>
#include <span>
#include <vector>

#include "pipeline/image.h"
#include "pipeline/streaming/calibration_plan.h"
#include "pipeline/streaming/registration.h"
#include "pipeline/streaming/short_frame.h"

namespace tianyu::pipeline::streaming {

struct MinuteStack {
  Image sum;         // calibrated ADU summed over the minute, on the first frame's pixel grid
  Image exposure_s;  // seconds of exposure behind each pixel of `sum` (0: no frame covered it)
  std::vector<FrameShift> shifts;  // per frame, in the order added
  std::vector<ReferenceStar> reference;
  int frames = 0;
  double exptime_s = 0;          // of each short frame
  std::size_t pixels_left_out = 0;  // frame pixels saturated or unusable in the masters
};

// The parts of one minute co-added on the same grid (MinuteCoadd::use_grid_of) as one minute:
// sums and exposure maps added, frames and pixels left out counted. StreamingInputError
// naming the field when there are none, or they differ in size or frame exposure.
MinuteStack sum_minute_parts(std::vector<MinuteStack> parts);

class MinuteCoadd {
 public:
  // The masters are folded into the plan here and not kept: the caller may free them.
  MinuteCoadd(int width, int height, double exptime_s, const Masters& masters,
              const StreamingOptions& options = {});
  MinuteCoadd(const MinuteCoadd&) = delete;
  MinuteCoadd& operator=(const MinuteCoadd&) = delete;

  // Several consumers share a minute: each co-adds a part of its frames on the grid of the
  // minute's first frame, which this registers (its reference stars picked) without adding it.
  // Called before any add(); the parts' sums then add up pixel for pixel (sum_minute_parts).
  void use_grid_of(const ShortFrame& first_frame_of_minute);
  // Validates, registers and accumulates one short frame. A frame that is refused
  // (StreamingInputError naming it and the field) leaves the minute as it was.
  FrameShift add(const ShortFrame& frame);
  // The same for a few frames at once (the camera's buffer): each stack row is read and written
  // once for all of them, which is most of the memory traffic of one frame. If any frame is
  // refused, none is added (the error names it) and the minute is as it was.
  std::vector<FrameShift> add(std::span<const ShortFrame> frames);
  // The minute: the sum and its exposure map. StreamingInputError if no frame was added.
  MinuteStack finish();

  int frames() const { return static_cast<int>(shifts_.size()); }
  std::size_t bytes() const;  // memory held: stack, exposure map and plan

 private:
  void validate(const ShortFrame& frame) const;
  void accumulate(std::span<const ShortFrame> frames, const std::vector<FrameShift>& shifts);
  std::size_t accumulate_row(int y, const ShortFrame& frame, const FrameShift& shift);
  void add_coverage();

  StreamingOptions options_;
  CalibrationPlan plan_;
  ShiftTracker tracker_;
  Image sum_;
  Image exposure_;  // during the minute: minus the frames left out per pixel
  std::vector<FrameShift> shifts_;
  std::size_t left_out_ = 0;
};

}  // namespace tianyu::pipeline::streaming
