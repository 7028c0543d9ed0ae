#pragma once
// A minute stack as a frame of the night (short-exposure mode, issue 17): the later steps
// (alignment, selection, stacking, photometry, relative flux) take each minute where the
// long-exposure mode takes a calibrated frame. This is what they need from it beyond the sum:
// which short frames make each minute, the mask of pixels not every frame covered, the sky
// level and noise, and the SEP catalogue the alignment matches.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/detection/extract.h"
#include "pipeline/image.h"
#include "pipeline/streaming/minute_coadd.h"

namespace tianyu::pipeline::streaming {

// The night's frames (mid-exposure times, any order) grouped by minute: minute k holds the
// frames whose time is in [t0 + 60 k, t0 + 60 (k + 1)) s, t0 the earliest; each group in time
// order, groups in minute order, minutes without frames left out. Times are compared to the
// millisecond, so a frame on a boundary (60 s / 174 x 174) starts the next minute whatever the
// rounding of its JD. Returns indices into `jd_utc_mid`.
std::vector<std::vector<std::size_t>> minute_groups(const std::vector<double>& jd_utc_mid);
// The minute index of each frame (same rule), by index into `jd_utc_mid`.
std::vector<std::uint64_t> minute_indices(const std::vector<double>& jd_utc_mid);

// A master of an additive calibration (bias, dark) is subtracted from every short frame of a
// minute, so its own noise is the same in each and adds up coherently in the minute's sum: N
// frames carry N sigma / sqrt(n) of it (n frames made the master) against sqrt(N) sigma of
// their own read noise, and it dominates when n < N. A sentence for the operator when the night
// has fewer frames of `kind` than its fullest minute has frames; empty when not (or when it has
// none: then nothing is subtracted).
std::string coherent_master_noise_advice(const std::string& kind, int calibration_frames,
                                         std::size_t frames_per_minute);

// kPartialExposure where a pixel's exposure is short of the fullest pixel's (a frame's shifted
// footprint missed it, or a saturated or unusable pixel was left out): there the sum is not
// comparable with its neighbours', so photometry and stacking leave it out.
std::vector<std::uint8_t> partial_exposure_mask(const Image& exposure_s);

struct MinuteFrame {
  std::vector<std::uint8_t> mask;  // partial exposure (see above)
  double background = 0;           // SEP global sky level of the sum (ADU)
  double background_rms = 0;       // its per-pixel noise (ADU)
  std::vector<Source> sources;     // SEP catalogue of the sky-subtracted sum, brightest first
  std::size_t masked = 0;
};

// The minute's mask, sky and catalogue. The sum itself is left as it is (the product keeps the
// sky: photometry takes a local sky from each star's annulus, and detection models it).
MinuteFrame describe_minute(const MinuteStack& minute, int threads = 1);

}  // namespace tianyu::pipeline::streaming
