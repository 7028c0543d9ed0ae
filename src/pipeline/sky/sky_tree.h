#pragma once
// A KD-tree of directions on the sky (nanoflann on unit vectors, chord distance): the nearest k
// and everything within a radius, as indexes into the points it was built from with their
// angular separations. Built once, read by many (const queries are safe from several threads).
#include <cstddef>
#include <memory>
#include <vector>

#include "pipeline/sky/sphere.h"

namespace tianyu::pipeline::sky {

struct Neighbour {
  std::size_t index = 0;         // into the points the tree was built from
  double separation_arcsec = 0;  // exact angle (atan2), not the chord
};

class SkyTree {
 public:
  explicit SkyTree(std::vector<UnitVector> points);
  ~SkyTree();
  SkyTree(SkyTree&&) noexcept;
  SkyTree& operator=(SkyTree&&) noexcept;
  SkyTree(const SkyTree&) = delete;
  SkyTree& operator=(const SkyTree&) = delete;

  std::size_t size() const;
  const UnitVector& point(std::size_t index) const;

  // The k nearest points (fewer when the tree holds fewer), nearest first; equal separations in
  // index order so that results never depend on the tree's layout.
  std::vector<Neighbour> nearest(const UnitVector& direction, std::size_t k) const;
  // Every point within radius_arcsec (inclusive), nearest first.
  std::vector<Neighbour> within(const UnitVector& direction, double radius_arcsec) const;

 private:
  struct Index;
  std::unique_ptr<Index> index_;
};

}  // namespace tianyu::pipeline::sky
