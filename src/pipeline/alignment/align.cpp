#include "pipeline/alignment/align.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <Eigen/Dense>

#include "pipeline/robust_stats.h"

namespace tianyu::pipeline {
namespace {

std::int64_t key(int dx, int dy) {
  return (static_cast<std::int64_t>(dx) << 32) ^ static_cast<std::uint32_t>(dy);
}

struct Pair {
  const Source* ref;
  const Source* frame;
};

struct Fit {
  FrameTransform transform;
  std::vector<Pair> kept;
  double chi2 = 0;  // sum of squared residuals (px^2) over kept pairs
  double rms = 0;   // per axis
};

// Each frame source paired with the nearest reference source within `radius` of where
// `predict` puts it; a reference source is used once.
std::vector<Pair> match(const std::vector<Source>& reference, std::size_t nr,
                        const std::vector<Source>& frame, std::size_t nf,
                        const FrameTransform& predict, double radius) {
  std::vector<Pair> pairs;
  std::vector<char> used(nr, 0);
  for (std::size_t i = 0; i < nf; ++i) {
    double best_d2 = radius * radius;
    int best = -1;
    for (std::size_t j = 0; j < nr; ++j) {
      if (used[j]) continue;
      const auto [px, py] = predict.apply(reference[j].x, reference[j].y);
      const double d2 = std::pow(frame[i].x - px, 2) + std::pow(frame[i].y - py, 2);
      if (d2 < best_d2) {
        best_d2 = d2;
        best = static_cast<int>(j);
      }
    }
    if (best >= 0) {
      used[best] = 1;
      pairs.push_back({&reference[best], &frame[i]});
    }
  }
  return pairs;
}

FrameTransform least_squares(const std::vector<Pair>& pairs, bool affine) {
  const double n = static_cast<double>(pairs.size());
  if (!affine) {
    double sx = 0, sy = 0;
    for (const auto& p : pairs) {
      sx += p.frame->x - p.ref->x;
      sy += p.frame->y - p.ref->y;
    }
    return FrameTransform::translation(sx / n, sy / n);
  }
  // Centred coordinates keep the normal equations well conditioned on wide frames.
  double cx = 0, cy = 0;
  for (const auto& p : pairs) { cx += p.ref->x; cy += p.ref->y; }
  cx /= n;
  cy /= n;
  Eigen::Matrix3d normal = Eigen::Matrix3d::Zero();
  Eigen::Vector3d bx = Eigen::Vector3d::Zero(), by = Eigen::Vector3d::Zero();
  for (const auto& p : pairs) {
    const Eigen::Vector3d row(p.ref->x - cx, p.ref->y - cy, 1.0);
    normal += row * row.transpose();
    bx += row * p.frame->x;
    by += row * p.frame->y;
  }
  const auto solver = normal.ldlt();
  const Eigen::Vector3d ax = solver.solve(bx), ay = solver.solve(by);
  FrameTransform t{0, 0, ax(0), ax(1), ay(0), ay(1)};
  t.dx = ax(2) - t.axx * cx - t.axy * cy;
  t.dy = ay(2) - t.ayx * cx - t.ayy * cy;
  return t;
}

double residual2(const Pair& p, const FrameTransform& t) {
  const auto [px, py] = t.apply(p.ref->x, p.ref->y);
  return std::pow(p.frame->x - px, 2) + std::pow(p.frame->y - py, 2);
}

// Least squares with iterative sigma clipping on the residual length.
Fit clipped_fit(std::vector<Pair> pairs, bool affine, const AlignOptions& options) {
  Fit fit;
  const std::size_t parameters = affine ? 6 : 2;
  for (int iteration = 0; iteration < 8; ++iteration) {
    if (pairs.size() < std::max<std::size_t>(options.min_matches, parameters / 2 + 1)) {
      if (iteration == 0) fit.kept = pairs;  // reported as the count that agreed
      break;
    }
    fit.transform = least_squares(pairs, affine);
    fit.kept = pairs;
    fit.chi2 = 0;
    for (const auto& p : pairs) fit.chi2 += residual2(p, fit.transform);
    const double dof = std::max(1.0, 2.0 * pairs.size() - parameters);
    fit.rms = std::sqrt(fit.chi2 / dof);
    // Residual length of a 2-D Gaussian: its RMS is sqrt(2) sigma per axis.
    const double limit = options.clip_sigma * std::max(fit.rms, 0.01) * std::sqrt(2.0);
    std::vector<Pair> inside;
    for (const auto& p : pairs) {
      if (std::sqrt(residual2(p, fit.transform)) <= limit) inside.push_back(p);
    }
    if (inside.size() == pairs.size()) break;
    pairs = std::move(inside);
  }
  return fit;
}

// pipeline::median of the flux ratios: an even count averages the two middle ratios.
double median_flux_ratio(const std::vector<Pair>& pairs) {
  std::vector<double> ratios;
  for (const auto& p : pairs) {
    if (p.ref->flux > 0 && p.frame->flux > 0) ratios.push_back(p.frame->flux / p.ref->flux);
  }
  if (ratios.empty()) return 0;
  return median(ratios);
}

// Vote counts per integer offset, in one flat table (open addressing): the vote adds up to
// 300 x 300 pairs a frame, and a node-based map spent most of the align step allocating them.
class OffsetVotes {
 public:
  explicit OffsetVotes(std::size_t pairs) {
    std::size_t capacity = 64;
    while (capacity < 2 * pairs) capacity *= 2;
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
  }
  int add(std::int64_t k) {
    Slot& s = find(k);
    s.key = k;
    s.used = true;
    return ++s.count;
  }
  int count(std::int64_t k) {
    const Slot& s = find(k);
    return s.used ? s.count : 0;
  }

 private:
  struct Slot {
    std::int64_t key = 0;
    int count = 0;
    bool used = false;
  };
  Slot& find(std::int64_t k) {
    std::size_t i = static_cast<std::size_t>((static_cast<std::uint64_t>(k) * 0x9E3779B97F4A7C15ull) >> 20) & mask_;
    while (slots_[i].used && slots_[i].key != k) i = (i + 1) & mask_;
    return slots_[i];
  }
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
};

// |(dx, dy)| < |(cx, cy)| as std::hypot orders them: squared lengths of integers compare exactly,
// and only equal ones ask hypot (whose roundings could still differ).
bool shorter(int dx, int dy, int cx, int cy) {
  const std::int64_t d = std::int64_t{dx} * dx + std::int64_t{dy} * dy, c = std::int64_t{cx} * cx + std::int64_t{cy} * cy;
  if (d != c) return d < c;
  return std::hypot(dx, dy) < std::hypot(cx, cy);
}

// The integer offset most (frame - reference) position pairs agree on, into r.dx_integer,
// r.dy_integer and r.votes (the pairs in the 3x3 cells around it).
void vote_integer_offset(const std::vector<Source>& reference, std::size_t nr,
                         const std::vector<Source>& frame, std::size_t nf, AlignResult& r) {
  // Inputs come brightest first (extract_sources sorts them), so the vote uses the bright end.
  OffsetVotes votes(nr * nf);
  std::vector<int> rx(nr), ry(nr);
  for (std::size_t j = 0; j < nr; ++j) {
    rx[j] = static_cast<int>(std::lround(reference[j].x));
    ry[j] = static_cast<int>(std::lround(reference[j].y));
  }
  int best = 0;
  for (std::size_t i = 0; i < nf; ++i) {
    const int fx = static_cast<int>(std::lround(frame[i].x)), fy = static_cast<int>(std::lround(frame[i].y));
    for (std::size_t j = 0; j < nr; ++j) {
      const int dx = fx - rx[j], dy = fy - ry[j];
      const int v = votes.add(key(dx, dy));
      // Ties go to the smaller shift, so the answer does not depend on the order of the table.
      if (v > best || (v == best && shorter(dx, dy, r.dx_integer, r.dy_integer))) {
        best = v;
        r.dx_integer = dx;
        r.dy_integer = dy;
      }
    }
  }
  // Rounding splits a sub-pixel offset between neighbouring cells: count the 3x3 around it.
  r.votes = 0;
  for (int ox = -1; ox <= 1; ++ox) {
    for (int oy = -1; oy <= 1; ++oy) r.votes += votes.count(key(r.dx_integer + ox, r.dy_integer + oy));
  }
}

// The translation fit, upgraded to affine when enough pairs demand it. Rotation leaves far
// stars outside the translation's radius: search wider, fit affine, then pair again tightly
// around the affine prediction; the affine must earn its 4 extra parameters against a
// translation of the same pairs.
Fit best_fit(const std::vector<Source>& reference, std::size_t nr, const std::vector<Source>& frame,
             std::size_t nf, const FrameTransform& integer, const AlignOptions& options) {
  Fit fit = clipped_fit(match(reference, nr, frame, nf, integer, options.match_radius_px), false, options);
  if (static_cast<int>(fit.kept.size()) < options.affine_min_pairs) return fit;
  Fit affine = clipped_fit(match(reference, nr, frame, nf, fit.transform, options.affine_search_px), true, options);
  if (static_cast<int>(affine.kept.size()) < options.affine_min_pairs) return fit;
  affine = clipped_fit(match(reference, nr, frame, nf, affine.transform, options.match_radius_px), true, options);
  const Fit shift = clipped_fit(affine.kept, false, options);
  const double sigma2 = std::max(affine.rms * affine.rms, 1e-6);
  if (shift.kept.size() == affine.kept.size() &&
      (shift.chi2 - affine.chi2) / sigma2 > options.affine_min_delta_chi2) {
    return affine;
  }
  if (shift.kept.size() >= fit.kept.size()) return shift;
  return fit;
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
  vote_integer_offset(reference, nr, frame, nf, r);
  const auto integer = FrameTransform::translation(r.dx_integer, r.dy_integer);
  const Fit fit = best_fit(reference, nr, frame, nf, integer, options);
  r.matched = static_cast<int>(fit.kept.size());
  if (r.matched < options.min_matches) {
    r.reason = "only " + std::to_string(r.matched) + " source pairs agree on an offset (need " +
               std::to_string(options.min_matches) + ")";
    return r;
  }
  r.transform = fit.transform;
  r.rms_px = fit.rms;
  r.transparency = median_flux_ratio(fit.kept);
  r.aligned = true;
  return r;
}

}  // namespace tianyu::pipeline
