#pragma once
// The k nearest stars of an external catalogue (Tycho-2, an operator's Gaia extract) to each
// field source, with their distances: the published system records the three nearest (table
// field_source_catalogue_star), which also serve to flag blended reference stars.
#include <cstddef>
#include <limits>
#include <vector>

#include "pipeline/catalogues/catalogue_star.h"
#include "pipeline/sky/field_match.h"
#include "pipeline/sky/sphere.h"

namespace tianyu::pipeline::sky {

struct CatalogueNeighbour {
  std::size_t star = 0;          // index into the catalogue given
  double distance_arcsec = 0;
};

inline constexpr std::size_t kCatalogueNeighbours = 3;

// Per position, its k nearest catalogue stars nearest first (fewer when the catalogue holds
// fewer, or when fewer lie within max_distance_arcsec). Equal distances in catalogue order.
// Throws tianyu::Failure naming the star whose RA/Dec is not finite.
std::vector<std::vector<CatalogueNeighbour>> nearest_catalogue_stars(
    const std::vector<RaDec>& positions, const catalogues::CatalogueStars& stars,
    std::size_t k = kCatalogueNeighbours,
    double max_distance_arcsec = std::numeric_limits<double>::infinity());

// The same for field sources (their mean positions), in the field's order.
std::vector<std::vector<CatalogueNeighbour>> nearest_catalogue_stars(
    const std::vector<FieldSource>& sources, const catalogues::CatalogueStars& stars,
    std::size_t k = kCatalogueNeighbours,
    double max_distance_arcsec = std::numeric_limits<double>::infinity());

}  // namespace tianyu::pipeline::sky
