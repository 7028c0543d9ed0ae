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

// Stacking in bands of rows (a Tianyu-I node of 8 children is 8 x 330 MB whole): a child's
// input holds only rows [first_row, first_row + image->height) of its frame (mask likewise);
// a node child's image and weight map hold exactly the output band's rows.
struct StackBandInput {
  StackInput input;
  int first_row = 0;     // the band's first row in the child's frame
  int frame_height = 0;  // the child frame's full height (coverage is judged against it)
};

// Rows [y0, y0 + rows) of what stack_node would give on the width x height grid: the same
// arithmetic in the same order, so the bands put together equal the whole stack bit for bit.
// Throws StackError when a child's band lacks a row the output band reads.
Stack stack_band(const std::vector<StackBandInput>& children, int width, int height, int y0, int rows,
                 int threads = 1);

// The frame rows [first, end) that output rows [y0, y1) of a `width`-wide grid read through
// `transform` (bilinear: the row below too), with one more row each side against rounding,
// clipped to the frame's `frame_height` rows; first == end when the band misses the frame.
struct RowRange {
  int first = 0, end = 0;
};
RowRange frame_rows_for_band(const FrameTransform& transform, int width, int y0, int y1, int frame_height);

}  // namespace tianyu::pipeline
