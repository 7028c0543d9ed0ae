#include "pipeline/selection/quality.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "pipeline/robust_stats.h"

namespace tianyu::pipeline {
namespace {

void reject(FrameVerdict& v, const std::string& why) {
  v.good = false;
  v.reason += (v.reason.empty() ? "" : "; ") + why;
}

std::string format(const char* pattern, auto... values) {
  char text[200];
  std::snprintf(text, sizeof text, pattern, values...);
  return text;
}

// Theil-Sen: the median of the pairwise slopes, the line through the median residual; the
// value it predicts at `at`.
double robust_line_at(const std::vector<double>& x, const std::vector<double>& y, double at) {
  std::vector<double> slopes, intercepts;
  for (std::size_t i = 0; i < x.size(); ++i) {
    for (std::size_t j = i + 1; j < x.size(); ++j) slopes.push_back((y[j] - y[i]) / (x[j] - x[i]));
  }
  const double slope = median(slopes);
  for (std::size_t i = 0; i < x.size(); ++i) intercepts.push_back(y[i] - slope * x[i]);
  return median(intercepts) + slope * at;
}

// How far (px) frame `p` of the aligned frames `order` misses the track of its `k` neighbours
// on one side (step -1: earlier, +1: later); infinity when that side has fewer than 3.
double track_miss(const std::vector<FrameQuality>& frames, const std::vector<std::size_t>& order, std::size_t p,
                  int step, int k) {
  std::vector<double> at, dx, dy;
  for (long q = static_cast<long>(p) + step; q >= 0 && q < static_cast<long>(order.size()) &&
                                             static_cast<int>(at.size()) < k;
       q += step) {
    at.push_back(static_cast<double>(q));
    dx.push_back(frames[order[static_cast<std::size_t>(q)]].dx);
    dy.push_back(frames[order[static_cast<std::size_t>(q)]].dy);
  }
  if (at.size() < 3) return std::numeric_limits<double>::infinity();
  const double here = static_cast<double>(p);
  const auto& f = frames[order[p]];
  return std::hypot(f.dx - robust_line_at(at, dx, here), f.dy - robust_line_at(at, dy, here));
}

void reject_off_track(const std::vector<FrameQuality>& frames, const SelectionOptions& options,
                      std::vector<FrameVerdict>& verdicts) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (frames[i].aligned) order.push_back(i);
  }
  const int k = options.track_neighbours;
  if (k < 3 || order.size() < static_cast<std::size_t>(2 * k + 1)) return;
  std::vector<double> miss;
  for (std::size_t p = 0; p < order.size(); ++p) {
    miss.push_back(std::min(track_miss(frames, order, p, -1, k), track_miss(frames, order, p, +1, k)));
  }
  const double typical = 1.4826 * median(miss);
  const double bound = std::max(options.off_track_min_px, options.off_track_sigma * typical);
  for (std::size_t p = 0; p < order.size(); ++p) {
    if (miss[p] > bound) {
      const auto& f = frames[order[p]];
      reject(verdicts[order[p]], format("shift (%.1f, %.1f) px misses the night's track by %.1f px (bound %.1f): "
                                        "a false alignment, or the mount moved for this frame alone", f.dx, f.dy, miss[p], bound));
    }
  }
}

}  // namespace

double longest_trail(const std::vector<Source>& sources, const SelectionOptions& options) {
  double longest = 0;
  for (const auto& s : sources) {
    if (!(s.b > 0) || s.a / s.b < options.trail_min_elongation) continue;
    const double length = s.a * std::sqrt(12.0);
    if (length >= options.trail_min_length_px) longest = std::max(longest, length);
  }
  return longest;
}

std::vector<FrameVerdict> select_frames(const std::vector<FrameQuality>& frames,
                                        const SelectionOptions& options) {
  std::vector<FrameVerdict> verdicts(frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto& f = frames[i];
    if (!f.aligned) reject(verdicts[i], "not aligned: " + f.alignment_failure);
    if (f.trail_length_px > 0) {
      reject(verdicts[i], format("a trail %.0f px long crosses the frame", f.trail_length_px));
    }
  }
  // The statistical rules judge a frame against the others: they need a population.
  if (frames.size() < 3) return verdicts;
  std::vector<double> counts, rms, transparency;
  for (const auto& f : frames) {
    counts.push_back(f.star_count);
    rms.push_back(f.background_rms);
    if (f.aligned) transparency.push_back(f.transparency);
  }
  const auto c = sigma_clipped_stats(counts, {options.star_count_sigma, options.star_count_sigma, 10});
  const auto r = sigma_clipped_stats(
      rms, {std::numeric_limits<double>::infinity(), options.background_rms_sigma, 10});
  const double typical_transparency = median(transparency);
  reject_off_track(frames, options, verdicts);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    auto& v = verdicts[i];
    const auto& f = frames[i];
    if (f.star_count < c.lower_bound || f.star_count > c.upper_bound) {
      reject(v, format("star count %d outside the %g-sigma range [%.1f, %.1f] (median %.0f)",
                       f.star_count, options.star_count_sigma, c.lower_bound, c.upper_bound, c.median));
    }
    if (f.background_rms > r.upper_bound) {
      reject(v, format("background RMS %.2f above the %g-sigma bound %.2f (median %.2f)",
                       f.background_rms, options.background_rms_sigma, r.upper_bound, r.median));
    }
    if (f.aligned && f.transparency < options.min_relative_transparency * typical_transparency) {
      reject(v, format("transparency %.2f below %g of the night's median %.2f",
                       f.transparency, options.min_relative_transparency, typical_transparency));
    }
  }
  return verdicts;
}

}  // namespace tianyu::pipeline
