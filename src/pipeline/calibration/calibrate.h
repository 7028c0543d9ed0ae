#pragma once
// Calibration of a science frame (DESIGN.md section 3, step 3):
//   S_hat = (S - B - D t) / F - Sky((S - B - D t) / F)
// with the sky from SEP's background model. Any master may be absent (real nights often lack
// darks or flats). Saturated pixels, hot pixels and pixels the flat cannot correct are carried
// in a mask for later steps to skip; they are not averaged into anything.
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/failure.h"
#include "pipeline/image.h"

namespace tianyu::pipeline {

// A calibration input that cannot be used (sizes differ, nothing finite left, a flat with no
// light, SEP cannot model the background): bad input, never retryable; only SEP running out of
// memory is.
class CalibrationError : public Failure {
 public:
  explicit CalibrationError(const std::string& message, bool retryable = false)
      : Failure(message), retryable_(retryable) {}
  bool retryable() const noexcept override { return retryable_; }

 private:
  bool retryable_;
};

struct Masters {
  const Image* bias = nullptr;
  const Image* dark_rate = nullptr;  // per second
  const Image* flat = nullptr;       // mean ~1
};

struct CalibrationOptions {
  double saturation_adu = 65000;  // raw value at or above which a pixel is saturated
  double hot_sigma = 8;           // dark rate this many robust sigmas above its median: hot
  double min_flat = 0.2;          // flat below this cannot be divided by: masked
  int background_box = 64;        // SEP tile size (pixels)
  int background_filter = 3;      // SEP median filter (tiles)
  int threads = 1;                // for the per-pixel arithmetic (0: one per core)
  bool subtract_background = true;  // false: measure it, keep it in the image
  // Hot pixels without a dark to find them, and cosmic rays: a pixel this many background
  // sigmas above the third-brightest of its 8 neighbours and this many times it is masked.
  // A star's peak is under 2x its four edge neighbours down to FWHM 1.5 px; a hot pixel or a
  // cosmic-ray streak has at most two bright neighbours. Off by default for now: on HAT-P-32
  // it moved one comparison star's centroid by 0.34 px in one frame (a masked pixel inside
  // the star), and it did not remove the simulator's red noise it was written for.
  bool mask_sharp_pixels = false;
  double sharp_sigma = 8;
  double sharp_ratio = 3;
};

// kPartialExposure: a minute stack's pixel that not every short frame covered (streaming mode).
enum MaskBit : std::uint8_t { kSaturated = 1, kHot = 2, kBadFlat = 4, kNotFinite = 8, kSharp = 16, kPartialExposure = 32 };

struct CalibratedFrame {
  Image image;                     // background-subtracted
  std::vector<std::uint8_t> mask;  // MaskBit flags per pixel; 0 = good
  double background = 0;           // SEP global background level (ADU) before subtraction
  double background_rms = 0;       // SEP global background RMS (ADU)
  std::size_t masked = 0;
};

// The dark rate above which a pixel is hot: median + hot_sigma robust sigmas (from ~65,000
// sampled pixels), shared by calibrate() and the short-exposure co-add's plan.
float hot_pixel_threshold(const Image& dark_rate, double hot_sigma);

CalibratedFrame calibrate(const Image& raw, double exptime_s, const Masters& masters,
                          const CalibrationOptions& options = {});
// calibrate() in its two stages, for a caller that overlaps work with the second: the
// per-pixel arithmetic and the mask (final unless mask_sharp_pixels), then SEP's background
// model (background, background_rms), subtracted when asked, and the sharp-pixel mask.
CalibratedFrame calibrate_pixels(const Image& raw, double exptime_s, const Masters& masters,
                                 const CalibrationOptions& options = {});
void model_sky(CalibratedFrame& frame, const CalibrationOptions& options = {});

}  // namespace tianyu::pipeline
