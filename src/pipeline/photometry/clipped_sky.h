#pragma once
// The local sky of one star: the median and MAD of its annulus pixels, one 3-sigma clip, then
// the median and the scatter of what is kept. It runs for every star of every frame and was
// most of a frame's photometry as three selections (median, MAD, clipped median); here the
// annulus is radix-sorted once and the three medians are read off the order (the MAD by
// bisection, not a merge), with the same values (pipeline_photometry_clipped_sky_test checks
// them, and the clip's median and spread, against the selections).
#include <cstdint>
#include <vector>

namespace tianyu::pipeline {

struct ClippedSky {
  double level = 0;  // median of the kept pixels
  double error = 0;  // their scatter over sqrt(kept)
  bool ok = false;   // false: fewer than `min_pixels` pixels in the annulus
  double median = 0, spread = 0;  // what the clip used: the median of all and 1.4826 x their MAD
};

// Reusable buffers, one per thread: the annulus is gathered into `values` (in scan order, which
// the scatter's sums follow) and radix-sorted as keys between `keys` and `key_swap`.
struct SkyScratch {
  std::vector<float> values;
  std::vector<std::uint32_t> keys, key_swap;
};

// `scratch.values` holds the annulus pixels. Non-finite pixels are ignored by the medians; a
// clip that keeps any of them (a spread of 0) makes the scatter NaN, as the definition says.
ClippedSky clipped_sky(SkyScratch& scratch, std::size_t min_pixels = 10);

// The definition, by three selections on copies (the reference the test compares against).
ClippedSky clipped_sky_by_selection(const std::vector<float>& values, std::size_t min_pixels = 10);

}  // namespace tianyu::pipeline
