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
