#pragma once
// Quality selection over an observation (DESIGN.md section 3, step 5): a frame is rejected when
// its star count falls outside a two-sided 3-sigma clip (clouds, tracking jumps, double images)
// or its background RMS is above a one-sided 5-sigma clip (satellite trails, twilight). Every
// rejection says which rule and which numbers.
#include <string>
#include <vector>

namespace tianyu::pipeline {

struct FrameQuality {
  int star_count = 0;
  double background_rms = 0;
};

struct SelectionOptions {
  double star_count_sigma = 3.0;
  double background_rms_sigma = 5.0;
};

struct FrameVerdict {
  bool good = true;
  std::string reason;  // empty when good
};

std::vector<FrameVerdict> select_frames(const std::vector<FrameQuality>& frames,
                                        const SelectionOptions& options = {});

}  // namespace tianyu::pipeline
