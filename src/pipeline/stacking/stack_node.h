#pragma once
// One node of the hierarchical stack: the weighted mean of its children resampled onto the
// reference frame, with a weight map so pixels some children do not cover are not biased.
// Feeding a node's weight map upward makes the whole tree equal to one weighted mean of all
// frames (up to float rounding), whatever the fan-out.
#include <cstdint>
#include <vector>

#include "pipeline/geometry.h"
#include "pipeline/image.h"
#include "pipeline/stacking/stack_plan.h"  // StackError

namespace tianyu::pipeline {

struct StackInput {
  const Image* image = nullptr;
  // A frame: its weight (good frames: 1, rejected: 0) and where reference positions land in it
  // (the alignment's transform); mask pixels != 0 carry no weight.
  double weight = 1.0;
  FrameTransform transform;
  const std::vector<std::uint8_t>* mask = nullptr;
  // A node: its weight map instead (already on the reference frame; dx = dy = 0).
  const Image* weight_map = nullptr;
};

struct Stack {
  Image image;       // weighted mean; 0 where nothing contributed
  Image weight_map;  // total weight per pixel
};

// Integer translations move pixels exactly; anything else (fractional, rotated) interpolates
// bilinearly (which smooths the noise of the resampled frame a little: by up to a factor 0.5 in
// variance at half-pixel offsets).
// Children with zero weight are skipped. Throws StackError on size mismatches.
// `threads` split the rows (0: one per core); the result does not depend on it.
Stack stack_node(const std::vector<StackInput>& children, int width, int height, int threads = 1);

}  // namespace tianyu::pipeline
