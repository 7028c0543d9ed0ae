#pragma once
// Master calibration frames (DESIGN.md section 3, steps 1-2), combined band by band so memory
// stays at a few frames whatever the number of inputs.
#include "pipeline/calibration/frame_set.h"
#include "pipeline/image.h"

namespace tianyu::pipeline {

struct CombineOptions {
  double clip_sigma = 3.0;  // per-pixel rejection about the median, in robust sigmas; 0: none
  int band_rows = 0;        // rows per band; 0: about four frames' worth of memory in all
  int threads = 1;          // split each band's rows (0: one per core); same result
  // Master flat only (clipped_pearson_mode): find each flat's stars against a first master and
  // combine again without them (two more reads of every flat).
  bool mask_flat_stars = true;
};

// Mean of the bias frames, per pixel, after rejecting outliers (cosmic rays).
Image master_bias(const FrameSet& biases, const CombineOptions& options = {});

// Dark current per second of exposure: the clipped mean of (D_i - B) / t_i.
Image master_dark_rate(const FrameSet& darks, const Image& bias, const CombineOptions& options = {});

enum class FlatCombine {
  pearson_mode,          // the published 3 median - 2 mean, mean weighted by the levels m_i
  clipped_pearson_mode,  // the same with the mean taken after per-pixel rejection (default)
};

// Each flat minus bias (and dark rate x exposure) divided by its own mean m_i; then per pixel
// 3 median - 2 mean. The plain weighted mean lets a twilight star in one flat drag the result by
// 2 s / N; rejecting it from the mean first keeps the mode estimate on the pixel response.
Image master_flat(const FrameSet& flats, const Image& bias, const Image* dark_rate = nullptr,
                  FlatCombine combine = FlatCombine::clipped_pearson_mode,
                  const CombineOptions& options = {});

}  // namespace tianyu::pipeline
