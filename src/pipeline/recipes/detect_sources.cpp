#include "pipeline/robust_stats.h"
#include "pipeline/recipes/detect_sources.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "pipeline/calibration/calibrate.h"
#include "pipeline/detection/windowed.h"
#include "pipeline/recipes/recipe_error.h"

namespace tianyu::pipeline::recipes {
namespace {

// The stack's background subtracted, its noise measured; pixels no frame reached masked.
CalibratedFrame flatten_template(const Image& stacked, const Image* weight) {
  if (weight && (weight->width != stacked.width || weight->height != stacked.height)) {
    throw RecipeInputError("the template's weight map is " + std::to_string(weight->width) + " x " +
                           std::to_string(weight->height) + " pixels, the template " +
                           std::to_string(stacked.width) + " x " + std::to_string(stacked.height));
  }
  CalibrationOptions options;
  options.saturation_adu = std::numeric_limits<double>::infinity();  // a stack's sums may exceed any frame's
  auto flat = calibrate(stacked, 1.0, {}, options);
  if (weight) {
    for (std::size_t i = 0; i < flat.mask.size(); ++i) {
      if (!(weight->pixels[i] > 0)) flat.mask[i] |= kNotFinite;
    }
  }
  return flat;
}

// The median FWHM of the isolated sources SEP did not flag (of all sources if none is); on an
// even count the upper of the two middle values (a measured source's FWHM), as before.
double seeing_of(const std::vector<TemplateSource>& first) {
  std::vector<double> fwhm;
  for (const auto& s : first) {
    if (s.isolated && s.sep_flag == 0 && s.fwhm > 0) fwhm.push_back(s.fwhm);
  }
  if (fwhm.empty()) {
    for (const auto& s : first) fwhm.push_back(s.fwhm);
  }
  return median_in_place(fwhm);
}

}  // namespace

void validate(const DetectSourcesOptions& options) {
  const auto& radii = options.radii_fwhm;
  if (radii.empty() || std::any_of(radii.begin(), radii.end(), [](double r) { return !(r > 0 && r < 20); })) {
    throw RecipeInputError("photometry option 'radii_fwhm' must list multiples of the FWHM in (0, 20)");
  }
}

TemplateCatalogue detect_sources(const Image& stacked, const Image* weight, const DetectSourcesOptions& options) {
  validate(options);
  const auto flat = flatten_template(stacked, weight);
  const auto first = detect_template_sources(flat.image, &flat.mask, flat.background_rms, options.seeing_isolation_px,
                                             options.neighbour_flux_ratio, options.extraction);
  if (first.empty()) throw RecipeInputError("no sources on the template");
  TemplateCatalogue catalogue;
  catalogue.median_fwhm_px = seeing_of(first);
  const double largest = *std::max_element(options.radii_fwhm.begin(), options.radii_fwhm.end());
  const double isolation = (largest + options.isolation_margin_fwhm) * catalogue.median_fwhm_px;
  catalogue.sources = detect_template_sources(flat.image, &flat.mask, flat.background_rms, isolation,
                                              options.neighbour_flux_ratio, options.extraction);
  std::vector<PixelPosition> barycentres;
  for (const auto& s : catalogue.sources) barycentres.push_back({s.x, s.y});
  const auto windowed = windowed_centroids(flat.image, &flat.mask, barycentres, catalogue.median_fwhm_px);
  for (std::size_t i = 0; i < windowed.size(); ++i) {
    catalogue.sources[i].x = windowed[i].x;
    catalogue.sources[i].y = windowed[i].y;
  }
  assign_source_ids({}, catalogue.sources, 1.0, 1);  // no earlier sources of this sky yet
  for (const double m : options.radii_fwhm) catalogue.aperture_radii_px.push_back(m * catalogue.median_fwhm_px);
  return catalogue;
}

}  // namespace tianyu::pipeline::recipes
