#pragma once
// Alignment of a frame to the reference frame (DESIGN.md section 3, step 4): the integer offset
// that most source pairs agree on, then a least-squares transform from the pairs it matches:
// a translation, or an affine transform when the field visibly rotates or scales (the
// likelihood-ratio test below decides). Offsets follow the simulator's truth: a star at (x, y)
// in the reference is at (x + dx, y + dy) in the frame.
#include <string>
#include <vector>

#include "pipeline/detection/extract.h"
#include "pipeline/geometry.h"

namespace tianyu::pipeline {

struct AlignOptions {
  int max_sources = 300;        // brightest sources of each list used in the vote
  int min_matches = 5;          // fewer matched pairs: not aligned
  double match_radius_px = 1.5; // around the predicted position
  double clip_sigma = 3.0;      // pairs whose residual strays this far are dropped from the fit
  // Affine fit: tried with at least this many pairs, searched for pairs up to
  // affine_search_px from the translation's prediction (rotation moves far stars that much),
  // and kept only when it lowers chi-square by affine_min_delta_chi2 (4 more parameters;
  // 30 is far beyond chance) over a translation of the same pairs.
  int affine_min_pairs = 20;
  double affine_search_px = 4.0;
  double affine_min_delta_chi2 = 30.0;
};

struct AlignResult {
  bool aligned = false;
  std::string reason;  // why not, when not
  int dx_integer = 0, dy_integer = 0;
  int votes = 0;       // pairs behind the winning integer offset
  FrameTransform transform;  // reference -> frame
  double rms_px = 0;   // scatter of the matched pairs about the transform, per axis
  int matched = 0;
  // Median flux ratio (frame / reference) of the matched pairs: the frame's transparency
  // relative to the reference (clouds and a split, doubled image lower it).
  double transparency = 0;
};

// 2-D vote over every pair of (frame - reference) rounded position differences (the published
// system votes each axis on its own; voting the pair keeps the two axes from pairing wrongly in
// crowded fields), then nearest-neighbour pairs around the integer offset and a clipped
// least-squares fit of a translation, upgraded to affine when the data demand it.
AlignResult align_to_reference(const std::vector<Source>& reference, const std::vector<Source>& frame,
                               const AlignOptions& options = {});

}  // namespace tianyu::pipeline
