#pragma once
// The sources of a sky (DESIGN.md section 3, step 7): detected on the deep template with SEP,
// with their shapes and flags, and given ids that stay the same from one observation of the
// sky to the next, so a star's light curves from many nights join on one source_id.
#include <cstdint>
#include <vector>

#include "pipeline/detection/extract.h"
#include "pipeline/image.h"

namespace tianyu::pipeline {

struct TemplateSource {
  std::int64_t id = -1;  // -1 until assign_source_ids
  double x = 0, y = 0;   // on the template's (the reference frame's) pixel grid, 0-based
  double flux = 0;       // SEP isophotal flux (ADU)
  double fwhm = 0;       // 2 sqrt(area above half the peak / pi)
  double a = 0, b = 0, theta = 0;
  int sep_flag = 0;      // SEP's flags (blended, truncated, ...)
  bool isolated = true;  // no neighbour brighter than a tenth of it within the isolation radius
};

// SEP sources of the template, brightest first, with isolation judged within
// `isolation_radius_px` (use the photometry's outer annulus radius): a neighbour with more than
// `neighbour_flux_ratio` of a source's flux makes it not isolated (no reference star).
std::vector<TemplateSource> detect_template_sources(const Image& template_image,
                                                    const std::vector<std::uint8_t>* mask,
                                                    double background_rms, double isolation_radius_px,
                                                    double neighbour_flux_ratio = 0.1,
                                                    const ExtractOptions& options = {});

struct KnownSource {
  std::int64_t id = 0;
  double x = 0, y = 0;  // on the same grid as the new detections
};

struct IdAssignment {
  int matched = 0;  // took a known id
  int created = 0;  // took a new one
  std::int64_t next_id = 0;  // the first id still free afterwards
};

// Each detection takes the id of the nearest known source within `match_radius_px`, closest
// pairs first, each known id at most once; the others get new ids from `next_id` upward.
IdAssignment assign_source_ids(const std::vector<KnownSource>& known, std::vector<TemplateSource>& found,
                               double match_radius_px, std::int64_t next_id);

}  // namespace tianyu::pipeline
