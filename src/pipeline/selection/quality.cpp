#include "pipeline/selection/quality.h"

#include <cstdio>
#include <limits>

#include "pipeline/robust_stats.h"

namespace tianyu::pipeline {

std::vector<FrameVerdict> select_frames(const std::vector<FrameQuality>& frames,
                                        const SelectionOptions& options) {
  std::vector<FrameVerdict> verdicts(frames.size());
  if (frames.size() < 3) return verdicts;  // no population to judge against
  std::vector<double> counts, rms;
  for (const auto& f : frames) {
    counts.push_back(f.star_count);
    rms.push_back(f.background_rms);
  }
  const auto c = sigma_clipped_stats(counts, {options.star_count_sigma, options.star_count_sigma, 10});
  const auto r = sigma_clipped_stats(
      rms, {std::numeric_limits<double>::infinity(), options.background_rms_sigma, 10});
  for (std::size_t i = 0; i < frames.size(); ++i) {
    auto& v = verdicts[i];
    const auto& f = frames[i];
    if (f.star_count < c.lower_bound || f.star_count > c.upper_bound) {
      v.good = false;
      char text[160];
      std::snprintf(text, sizeof text, "star count %d outside the %g-sigma range [%.1f, %.1f] (median %.0f)",
                    f.star_count, options.star_count_sigma, c.lower_bound, c.upper_bound, c.median);
      v.reason = text;
    }
    if (f.background_rms > r.upper_bound) {
      v.good = false;
      char text[160];
      std::snprintf(text, sizeof text, "%sbackground RMS %.2f above the %g-sigma bound %.2f (median %.2f)",
                    v.reason.empty() ? "" : "; ", f.background_rms, options.background_rms_sigma,
                    r.upper_bound, r.median);
      v.reason += text;
    }
  }
  return verdicts;
}

}  // namespace tianyu::pipeline
