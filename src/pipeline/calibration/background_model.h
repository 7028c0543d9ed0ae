#pragma once
// SEP's background model on several threads, bit-for-bit identical to one sep_background call
// (SEP 1.2, the library we link).
//
// sep_background measures every tile (box) from that tile's pixels alone, then filters the
// whole tile map (bad tiles replaced by their nearest good ones, a median filter, the global
// level and rms) and fits splines to it. The tile measurements are nearly all of its cost:
// tile_statistics.h redoes them (faster, same bits), one tile row at a time on each thread,
// and the map-wide steps are redone here with SEP's arithmetic: same float/double types, same
// order, the C library's qsort for the medians.
#include <cstdint>
#include <vector>

#include "pipeline/image.h"
#include "pipeline/sep_support.h"

namespace tianyu::pipeline {

// What sep_background(view(image, mask), box_w, box_h, filter_w, filter_h, fthresh) returns
// (mask: nonzero = masked, may be null), as a sep_bkg that SEP's own functions (sep_bkg_subline,
// sep_bkg_global, sep_bkg_free...) take. threads <= 0: one per core. Tiles of more than
// tile_statistics::kLargestExactTile pixels go to one plain sep_background call. Throws
// CalibrationError (calibrate.h) when SEP fails (retryable only when it ran out of memory) or
// the arguments cannot be used.
sep_support::Background model_background(const Image& image, const std::vector<std::uint8_t>* mask,
                                         int box_w, int box_h, int filter_w, int filter_h,
                                         double fthresh, int threads);

namespace background_detail {

// SEP's own verdict, one entry per tile (row-major, nx * ny, nonzero = discarded): a tile
// is discarded when fewer than half of its pixels (the last column's and row's tiles are
// narrower / shorter) are unmasked with a value above -1e30. Exposed for its test.
std::vector<char> unusable_tiles(const Image& image, const std::vector<std::uint8_t>* mask,
                                 int box_w, int box_h);

}  // namespace background_detail
}  // namespace tianyu::pipeline
