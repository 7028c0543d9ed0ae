#include "pipeline/detection/extract.h"

#include <algorithm>
#include <mutex>

#include "pipeline/sep_support.h"

namespace tianyu::pipeline {

std::vector<Source> extract_sources(const Image& image, const std::vector<std::uint8_t>* mask,
                                    double background_rms, const ExtractOptions& options) {
  if (!(background_rms > 0)) throw ExtractionError("background RMS must be positive to set a threshold");
  if (mask && mask->size() != image.pixels.size()) throw ExtractionError("mask and image differ in size");
  sep_image in{};
  in.data = image.pixels.data();
  in.dtype = SEP_TFLOAT;
  if (mask) {
    in.mask = mask->data();
    in.mdtype = SEP_TBYTE;
    in.maskthresh = 0.0;
  }
  in.w = image.width;
  in.h = image.height;
  in.noise_type = SEP_NOISE_NONE;
  static const float kConv[9] = {1, 2, 1, 2, 4, 2, 1, 2, 1};  // Source Extractor's default
  // SEP's pixel stack is a global setting: set it once, under a lock.
  static std::once_flag stack_once;
  std::call_once(stack_once, [] { sep_set_extract_pixstack(3'000'000); });
  sep_catalog* raw = nullptr;
  const int status = sep_extract(&in, static_cast<float>(options.threshold_sigma * background_rms),
                                 SEP_THRESH_ABS, options.min_area, kConv, 3, 3, SEP_FILTER_CONV,
                                 options.deblend_nthresh, options.deblend_cont, 1, 1.0, &raw);
  sep_support::Catalog catalog(raw);
  if (status != 0) throw ExtractionError("SEP extraction: " + sep_support::message(status));
  std::vector<Source> sources;
  sources.reserve(catalog->nobj);
  for (int i = 0; i < catalog->nobj; ++i) {
    Source s;
    s.x = catalog->x[i];
    s.y = catalog->y[i];
    s.flux = catalog->flux[i];
    s.peak = catalog->peak[i];
    s.a = catalog->a[i];
    s.b = catalog->b[i];
    s.theta = catalog->theta[i];
    s.npix = catalog->npix[i];
    s.flag = catalog->flag[i];
    if (s.flux > 0 && s.peak / s.flux > options.max_peak_fraction) continue;
    sources.push_back(s);
  }
  std::sort(sources.begin(), sources.end(), [](const Source& a, const Source& b) { return a.flux > b.flux; });
  return sources;
}

}  // namespace tianyu::pipeline
