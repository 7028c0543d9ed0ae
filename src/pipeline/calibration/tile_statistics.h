#pragma once
// SEP's raw per-tile background measurement (SEP 1.2.1 background.c: backstat, backhisto,
// backguess), bit for bit what sep_background finds for each tile before its map-wide steps:
// a 2-sigma clipped mean and sigma, a histogram of the clipped range, and the mode estimated
// from that histogram by iterative 3-sigma clipping. A tile with fewer than half of its pixels
// usable (unmasked, above -1e30) gets -1e30 as a float for both values, as SEP marks it.
#include <cstdint>
#include <vector>

#include "pipeline/image.h"

namespace tianyu::pipeline::tile_statistics {

// Tiles larger than this are beyond the exactness bound of the histogram sums (see
// tile_statistics.cpp): the caller must leave them to SEP itself.
inline constexpr long long kLargestExactTile = 536'000'000;

// Level and sigma of tile row `ty` (box_w x box_h tiles, the last column and row as wide / tall
// as what is left of the frame) into level[0..nx) and sigma[0..nx). mask: nonzero = masked,
// may be null. box_w * box_h must not exceed kLargestExactTile.
void measure_tile_row(const Image& image, const std::vector<std::uint8_t>* mask, int box_w, int box_h,
                      int ty, float* level, float* sigma);

// SEP's mode estimate (backguess) of one histogram, exposed for its test: `mean` is the
// tile's clipped float mean (<= -1e30: a discarded tile), qzero and qscale the float position
// and bin width of the histogram, whose size is its number of levels (at most 4096, holding at
// most kLargestExactTile counts in all: the bound under which its sums are exact).
struct Histogram {
  std::vector<int> counts;
  float mean = 0, qzero = 0, qscale = 1;
};
// Returns how many clipping iterations it ran (at most 100).
int guess_background(const Histogram& histogram, float& level, float& sigma);

}  // namespace tianyu::pipeline::tile_statistics
