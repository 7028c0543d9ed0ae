#pragma once
// Alignment of a frame to the reference frame (DESIGN.md section 3, step 4): the integer offset
// that most source pairs agree on, then a sub-pixel least-squares offset from the pairs it
// matches. Offsets follow the simulator's truth: a star at (x, y) in the reference is at
// (x + dx, y + dy) in the frame.
#include <string>
#include <vector>

#include "pipeline/detection/extract.h"

namespace tianyu::pipeline {

struct AlignOptions {
  int max_sources = 300;        // brightest sources of each list used in the vote
  int min_matches = 5;          // fewer matched pairs: not aligned
  double match_radius_px = 1.5; // after the integer offset
  double clip_sigma = 3.0;      // pairs whose offset strays this far are dropped from the fit
};

struct AlignResult {
  bool aligned = false;
  std::string reason;  // why not, when not
  int dx_integer = 0, dy_integer = 0;
  int votes = 0;       // pairs behind the winning integer offset
  double dx = 0, dy = 0;
  double rms_px = 0;   // scatter of the matched pairs about (dx, dy)
  int matched = 0;
};

// 2-D vote over every pair of (frame - reference) rounded position differences (the published
// system votes each axis on its own; voting the pair keeps the two axes from pairing wrongly in
// crowded fields), then nearest-neighbour pairs within match_radius_px of the integer offset,
// and their mean difference with sigma clipping.
AlignResult align_to_reference(const std::vector<Source>& reference, const std::vector<Source>& frame,
                               const AlignOptions& options = {});

}  // namespace tianyu::pipeline
