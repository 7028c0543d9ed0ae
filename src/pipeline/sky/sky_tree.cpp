#include "pipeline/sky/sky_tree.h"

#include <nanoflann.hpp>

#include <algorithm>

namespace tianyu::pipeline::sky {
namespace {

// nanoflann's dataset adaptor over our vector of unit vectors.
struct Points {
  std::vector<UnitVector> v;
  std::size_t kdtree_get_point_count() const { return v.size(); }
  double kdtree_get_pt(std::size_t i, std::size_t dim) const { return v[i][dim]; }
  template <class Box>
  bool kdtree_get_bbox(Box&) const { return false; }
};

using Tree = nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<double, Points>, Points, 3, std::size_t>;

void sort_neighbours(std::vector<Neighbour>& n) {
  std::sort(n.begin(), n.end(), [](const Neighbour& a, const Neighbour& b) {
    return a.separation_arcsec != b.separation_arcsec ? a.separation_arcsec < b.separation_arcsec : a.index < b.index;
  });
}

}  // namespace

struct SkyTree::Index {
  Points points;
  Tree tree;
  explicit Index(std::vector<UnitVector> p)
      : points{std::move(p)}, tree(3, points, nanoflann::KDTreeSingleIndexAdaptorParams(10)) {}
};

SkyTree::SkyTree(std::vector<UnitVector> points) : index_(std::make_unique<Index>(std::move(points))) {}
SkyTree::~SkyTree() = default;
SkyTree::SkyTree(SkyTree&&) noexcept = default;
SkyTree& SkyTree::operator=(SkyTree&&) noexcept = default;

std::size_t SkyTree::size() const { return index_->points.v.size(); }
const UnitVector& SkyTree::point(std::size_t index) const { return index_->points.v.at(index); }

std::vector<Neighbour> SkyTree::nearest(const UnitVector& direction, std::size_t k) const {
  k = std::min(k, size());
  if (k == 0) return {};
  // One more than asked, so that a tie at the k-th place is settled by index below.
  const std::size_t asked = std::min(k + 1, size());
  std::vector<std::size_t> indexes(asked);
  std::vector<double> chord2(asked);
  const std::size_t found = index_->tree.knnSearch(direction.data(), asked, indexes.data(), chord2.data());
  std::vector<Neighbour> out;
  for (std::size_t i = 0; i < found; ++i) {
    out.push_back({indexes[i], separation_arcsec(direction, index_->points.v[indexes[i]])});
  }
  sort_neighbours(out);
  out.resize(std::min(out.size(), k));
  return out;
}

std::vector<Neighbour> SkyTree::within(const UnitVector& direction, double radius_arcsec) const {
  if (size() == 0 || !(radius_arcsec >= 0)) return {};
  const double chord = chord_of_arcsec(radius_arcsec);
  // nanoflann compares squared chords; a hair more keeps a point exactly at the radius, the
  // exact angle below decides.
  std::vector<std::pair<std::size_t, double>> hits;
  index_->tree.radiusSearch(direction.data(), chord * chord * (1 + 1e-12) + 1e-30, hits, nanoflann::SearchParams(32, 0, false));
  std::vector<Neighbour> out;
  for (const auto& [i, d2] : hits) {
    const double sep = separation_arcsec(direction, index_->points.v[i]);
    if (sep <= radius_arcsec) out.push_back({i, sep});
  }
  sort_neighbours(out);
  return out;
}

}  // namespace tianyu::pipeline::sky
