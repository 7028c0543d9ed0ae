#pragma once
// A stack node computed band by band: each child's rows that a band of output rows reads are
// fetched, stacked (stack_band) and handed on, so the memory held is O(band x children) rather
// than O(frame x children): a Tianyu-I node of 8 frames is ~2.6 GB whole, ~256 MB in bands.
// The result equals stack_node on the whole images bit for bit.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "pipeline/geometry.h"
#include "pipeline/stacking/stack_node.h"

namespace tianyu::pipeline {

// Where a child's rows come from (a FITS file, memory): read(y0, rows, out) fills rows * width values.
using FloatRows = std::function<void(int y0, int rows, float* out)>;
using MaskRows = std::function<void(int y0, int rows, std::uint8_t* out)>;

struct BandedChild {
  int width = 0, height = 0;  // the child's own size (a node's is the grid's)
  // A frame: its weight, the transform from reference to it, its image and (optional) mask.
  double weight = 1.0;
  FrameTransform transform;
  FloatRows image;
  MaskRows mask;  // empty: nothing masked
  // A node: its weight map (on the reference grid).
  FloatRows weight_map;  // empty: a frame
};

// A minute stack's mask a band at a time: streaming::partial_exposure_mask of its exposure map,
// judged against the whole map's fullest pixel (found here in one pass over the rows).
MaskRows partial_exposure_rows(const FloatRows& exposure, int width, int height);

// The band height whose inputs and output fit `budget_bytes` (at least 16 rows, at most the
// grid): a frame costs 5 bytes a pixel (4 with no mask) over the rows its transform reads, a
// node 8, the output 8.
int band_rows_for_budget(const std::vector<BandedChild>& children, int width, int height, std::size_t budget_bytes);

// Stacks in bands of `band_rows` rows from the top, handing each finished band (rows
// [y0, y0 + band.image.height)) to `write`. Throws StackError on sizes that do not fit.
void stack_in_bands(const std::vector<BandedChild>& children, int width, int height, int band_rows,
                    const std::function<void(int y0, const Stack& band)>& write, int threads = 1);

}  // namespace tianyu::pipeline
