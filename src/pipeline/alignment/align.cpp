#include "pipeline/alignment/align.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <unordered_map>

namespace tianyu::pipeline {
namespace {

std::int64_t key(int dx, int dy) {
  return (static_cast<std::int64_t>(dx) << 32) ^ static_cast<std::uint32_t>(dy);
}

}  // namespace

AlignResult align_to_reference(const std::vector<Source>& reference, const std::vector<Source>& frame,
                               const AlignOptions& options) {
  AlignResult r;
  const std::size_t nr = std::min<std::size_t>(reference.size(), options.max_sources);
  const std::size_t nf = std::min<std::size_t>(frame.size(), options.max_sources);
  if (static_cast<int>(nr) < options.min_matches || static_cast<int>(nf) < options.min_matches) {
    r.reason = "too few sources to align (reference " + std::to_string(reference.size()) +
               ", frame " + std::to_string(frame.size()) + ", need " +
               std::to_string(options.min_matches) + ")";
    return r;
  }
  // Inputs come brightest first (extract_sources sorts them), so the vote uses the bright end.
  std::unordered_map<std::int64_t, int> votes;
  votes.reserve(nr * nf);
  int best = 0;
  for (std::size_t i = 0; i < nf; ++i) {
    const int fx = static_cast<int>(std::lround(frame[i].x)), fy = static_cast<int>(std::lround(frame[i].y));
    for (std::size_t j = 0; j < nr; ++j) {
      const int dx = fx - static_cast<int>(std::lround(reference[j].x));
      const int dy = fy - static_cast<int>(std::lround(reference[j].y));
      const int v = ++votes[key(dx, dy)];
      // Ties go to the smaller shift, so the answer does not depend on hash order.
      if (v > best || (v == best && std::hypot(dx, dy) < std::hypot(r.dx_integer, r.dy_integer))) {
        best = v;
        r.dx_integer = dx;
        r.dy_integer = dy;
      }
    }
  }
  // Rounding splits a sub-pixel offset between neighbouring cells: count the 3x3 around it.
  r.votes = 0;
  for (int ox = -1; ox <= 1; ++ox) {
    for (int oy = -1; oy <= 1; ++oy) {
      const auto it = votes.find(key(r.dx_integer + ox, r.dy_integer + oy));
      if (it != votes.end()) r.votes += it->second;
    }
  }
  // Pair each frame source with the nearest reference source near the integer prediction.
  std::vector<double> ddx, ddy;
  for (std::size_t i = 0; i < nf; ++i) {
    double best_d2 = options.match_radius_px * options.match_radius_px;
    int match = -1;
    for (std::size_t j = 0; j < nr; ++j) {
      const double ex = frame[i].x - reference[j].x - r.dx_integer;
      const double ey = frame[i].y - reference[j].y - r.dy_integer;
      const double d2 = ex * ex + ey * ey;
      if (d2 < best_d2) {
        best_d2 = d2;
        match = static_cast<int>(j);
      }
    }
    if (match >= 0) {
      ddx.push_back(frame[i].x - reference[match].x);
      ddy.push_back(frame[i].y - reference[match].y);
    }
  }
  std::vector<bool> keep(ddx.size(), true);
  for (int iteration = 0; iteration < 5; ++iteration) {
    double sx = 0, sy = 0;
    int n = 0;
    for (std::size_t k = 0; k < ddx.size(); ++k) {
      if (keep[k]) { sx += ddx[k]; sy += ddy[k]; ++n; }
    }
    if (n < options.min_matches) break;
    r.dx = sx / n;
    r.dy = sy / n;
    double ss = 0;
    for (std::size_t k = 0; k < ddx.size(); ++k) {
      if (keep[k]) ss += std::pow(ddx[k] - r.dx, 2) + std::pow(ddy[k] - r.dy, 2);
    }
    r.rms_px = std::sqrt(ss / (2.0 * n));
    r.matched = n;
    bool changed = false;
    for (std::size_t k = 0; k < ddx.size(); ++k) {
      const bool inside = std::hypot(ddx[k] - r.dx, ddy[k] - r.dy) <= options.clip_sigma * std::max(r.rms_px, 0.01) * std::sqrt(2.0);
      if (inside != keep[k]) { keep[k] = inside; changed = true; }
    }
    if (!changed) break;
  }
  if (r.matched < options.min_matches) {
    r.matched = static_cast<int>(std::count(keep.begin(), keep.end(), true));
    r.reason = "only " + std::to_string(r.matched) + " source pairs agree on an offset (need " +
               std::to_string(options.min_matches) + ")";
    return r;
  }
  r.aligned = true;
  return r;
}

}  // namespace tianyu::pipeline
