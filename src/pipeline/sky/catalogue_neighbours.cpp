#include "pipeline/sky/catalogue_neighbours.h"

#include <cmath>
#include <string>

#include "pipeline/failure.h"
#include "pipeline/sky/sky_tree.h"

namespace tianyu::pipeline::sky {

std::vector<std::vector<CatalogueNeighbour>> nearest_catalogue_stars(
    const std::vector<RaDec>& positions, const catalogues::CatalogueStars& stars, std::size_t k,
    double max_distance_arcsec) {
  std::vector<UnitVector> points;
  points.reserve(stars.size());
  for (const auto& s : stars) {
    if (!std::isfinite(s.ra_deg) || !std::isfinite(s.dec_deg) || std::abs(s.dec_deg) > 90) {
      throw Failure("catalogue star '" + s.id + "' has no valid RA/Dec");
    }
    points.push_back(unit_vector(s.ra_deg, s.dec_deg));
  }
  const SkyTree tree(std::move(points));
  std::vector<std::vector<CatalogueNeighbour>> out;
  out.reserve(positions.size());
  for (const auto& p : positions) {
    std::vector<CatalogueNeighbour> mine;
    for (const auto& n : tree.nearest(unit_vector(p.ra_deg, p.dec_deg), k)) {
      if (n.separation_arcsec <= max_distance_arcsec) mine.push_back({n.index, n.separation_arcsec});
    }
    out.push_back(std::move(mine));
  }
  return out;
}

std::vector<std::vector<CatalogueNeighbour>> nearest_catalogue_stars(
    const std::vector<FieldSource>& sources, const catalogues::CatalogueStars& stars, std::size_t k,
    double max_distance_arcsec) {
  std::vector<RaDec> positions;
  positions.reserve(sources.size());
  for (const auto& s : sources) positions.push_back({s.ra_deg, s.dec_deg});
  return nearest_catalogue_stars(positions, stars, k, max_distance_arcsec);
}

}  // namespace tianyu::pipeline::sky
