#pragma once
// The detect_sources step's recipe (DESIGN.md section 3, step 7), the one the consumer runs
// and the tests and benchmarks judge: the template's sources, ids 1..N brightest first, and
// the observation's aperture radii as multiples of the template's median FWHM.
//   1. The stack's own background and noise (deeper than any frame's), measured as calibrate()
//      does, with no saturation level (a stack's sums may exceed any frame's).
//   2. A first detection, isolation judged within `seeing_isolation_px`, measures the seeing:
//      the median FWHM of the isolated sources SEP did not flag (of all, if none is).
//   3. The sources again, isolation judged within (largest multiple + margin) x FWHM.
#include <vector>

#include "pipeline/detection/extract.h"
#include "pipeline/image.h"
#include "pipeline/photometry/template_sources.h"

namespace tianyu::pipeline::recipes {

struct DetectSourcesOptions {
  // Aperture radii as multiples of the template's median FWHM, each in (0, 20).
  std::vector<double> radii_fwhm{1.5, 2.0, 3.0};
  // Isolation is judged within the largest aperture and this many FWHM more: a neighbour there
  // with more than `neighbour_flux_ratio` of a star's light keeps it from the references.
  double isolation_margin_fwhm = 2.0;
  double neighbour_flux_ratio = 0.1;
  // The first pass (seeing only) judges isolation within this radius (pixels): only sources
  // nearly on top of each other are left out of the FWHM median.
  double seeing_isolation_px = 1.0;
  ExtractOptions extraction{};  // SEP thresholds, as every frame's extraction (extract.h)
};

struct TemplateCatalogue {
  std::vector<TemplateSource> sources;     // ids 1..N, brightest first
  std::vector<double> aperture_radii_px;   // radii_fwhm x median_fwhm_px, in the options' order
  double median_fwhm_px = 0;               // the seeing on the template
};

// `weight`: the stack's weight map (nullptr: none); pixels of weight 0 (no frame contributed)
// are masked and make no sources. Throws RecipeInputError for radii_fwhm out of range, a weight
// map of another size, or a template without sources; ExtractionError when SEP fails.
TemplateCatalogue detect_sources(const Image& stacked, const Image* weight, const DetectSourcesOptions& options = {});

// Throws RecipeInputError naming 'radii_fwhm' unless it lists multiples in (0, 20).
void validate(const DetectSourcesOptions& options);

}  // namespace tianyu::pipeline::recipes
