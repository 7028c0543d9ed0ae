#pragma once
// The short-exposure streaming mode (issue 17): one minute of a fast camera's raw frames
// (Tianyu-I: 8120 x 8120 at 0.3 s, 174 a minute) calibrated, registered and co-added in one
// pass each, with no product written per short frame. This header holds what every part of
// the mode shares: a raw frame as the camera (or a FITS reader) hands it over, the options and
// the error that names the frame and the field at fault.
#include <cstdint>
#include <span>
#include <string>

#include "pipeline/failure.h"

namespace tianyu::pipeline::streaming {

// One raw short frame, not owned: the camera's 16-bit integers, or the same values read through
// FITS as floats. Exactly one of the two spans is set; `name` (a file name, or "frame 17") is
// what every error says.
struct ShortFrame {
  std::string name;
  int width = 0, height = 0;
  std::span<const std::uint16_t> adu16;
  std::span<const float> adu;
  double exptime_s = 0;
};

// A short frame that cannot join the minute: wrong size, truncated, NaN pixels, another
// exposure time, no reference star found. Bad input: a retry reads the same bytes, so never.
class StreamingInputError : public Failure {
 public:
  StreamingInputError(const std::string& frame, const std::string& field, const std::string& message)
      : Failure(frame + ": " + field + ": " + message), frame_(frame), field_(field) {}
  const std::string& frame() const noexcept { return frame_; }
  const std::string& field() const noexcept { return field_; }

 private:
  std::string frame_, field_;
};

struct StreamingOptions {
  int threads = 0;                // row bands run on this many threads (0: one per core)
  // Calibration, as pipeline/calibration/calibrate.h defines it.
  double saturation_adu = 65000;  // raw value at or above which a pixel is left out
  double hot_sigma = 8;           // dark rate this many robust sigmas above its median: hot
  double min_flat = 0.2;          // flat below this cannot be divided by: left out
  // Registration: bright stars picked on the first frame, one per cell of a grid, each looked
  // for again in every later frame within `search_radius_px` of where the last frame had it.
  int reference_stars = 16;       // at most this many (a grid of ceil(sqrt(n))^2 cells)
  int star_window_px = 128;       // the window searched for a star in each cell of the first frame
  int search_radius_px = 12;      // how far a star may move between two consecutive short frames
  double detect_sigma = 10;       // a reference star's 3x3 mean above the window's median, in noise sigmas
};

}  // namespace tianyu::pipeline::streaming
