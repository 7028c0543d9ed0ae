#include "pipeline/calibration/calibrate.h"

#include <cmath>
#include <memory>
#include <string>

#include "pipeline/robust_stats.h"
#include "pipeline/sep_support.h"

namespace tianyu::pipeline {
namespace {

void require_size(const Image& raw, const Image* master, const char* what) {
  if (master && (master->width != raw.width || master->height != raw.height)) {
    throw CalibrationError(std::string(what) + " is " + std::to_string(master->width) + " x " +
                           std::to_string(master->height) + ", the frame is " +
                           std::to_string(raw.width) + " x " + std::to_string(raw.height));
  }
}

// Dark rate above median + hot_sigma robust sigmas: pixels whose dark current we do not trust.
float hot_threshold(const Image& dark_rate, double hot_sigma) {
  std::vector<double> values;
  values.reserve(dark_rate.pixels.size() / 7 + 1);
  for (std::size_t i = 0; i < dark_rate.pixels.size(); i += 7) values.push_back(dark_rate.pixels[i]);
  const double spread = std::max(mad_std(values), 1e-6);
  return static_cast<float>(median(values) + hot_sigma * spread);
}

}  // namespace

CalibratedFrame calibrate(const Image& raw, double exptime_s, const Masters& masters,
                          const CalibrationOptions& options) {
  require_size(raw, masters.bias, "the master bias");
  require_size(raw, masters.dark_rate, "the master dark");
  require_size(raw, masters.flat, "the master flat");
  CalibratedFrame out;
  out.image = Image(raw.width, raw.height);
  out.mask.assign(raw.pixels.size(), 0);
  const float hot = masters.dark_rate ? hot_threshold(*masters.dark_rate, options.hot_sigma) : 0.0f;
  for (std::size_t i = 0; i < raw.pixels.size(); ++i) {
    const float s = raw.pixels[i];
    std::uint8_t m = 0;
    if (!std::isfinite(s)) m |= kNotFinite;
    if (s >= options.saturation_adu) m |= kSaturated;
    double v = s;
    if (masters.bias) v -= masters.bias->pixels[i];
    if (masters.dark_rate) {
      v -= masters.dark_rate->pixels[i] * exptime_s;
      if (masters.dark_rate->pixels[i] > hot) m |= kHot;
    }
    if (masters.flat) {
      const float f = masters.flat->pixels[i];
      if (!(f >= options.min_flat) || !std::isfinite(f)) {
        m |= kBadFlat;
      } else {
        v /= f;
      }
    }
    if (!std::isfinite(v)) { m |= kNotFinite; v = 0; }
    out.image.pixels[i] = static_cast<float>(v);
    out.mask[i] = m;
    out.masked += m != 0;
  }
  if (out.masked == out.mask.size()) throw CalibrationError("every pixel of the frame is masked");
  sep_image image{};
  image.data = out.image.pixels.data();
  image.dtype = SEP_TFLOAT;
  image.mask = out.mask.data();
  image.mdtype = SEP_TBYTE;
  image.maskthresh = 0.0;
  image.w = raw.width;
  image.h = raw.height;
  image.noise_type = SEP_NOISE_NONE;
  sep_bkg* raw_background = nullptr;
  const int box_w = std::min(options.background_box, raw.width);
  const int box_h = std::min(options.background_box, raw.height);
  int status = sep_background(&image, box_w, box_h, options.background_filter,
                              options.background_filter, 0.0, &raw_background);
  sep_support::Background background(raw_background);
  if (status != 0) throw CalibrationError("SEP background: " + sep_support::message(status));
  out.background = sep_bkg_global(background.get());
  out.background_rms = sep_bkg_globalrms(background.get());
  status = sep_bkg_subarray(background.get(), out.image.pixels.data(), SEP_TFLOAT);
  if (status != 0) throw CalibrationError("SEP background subtraction: " + sep_support::message(status));
  return out;
}

}  // namespace tianyu::pipeline
