#include "pipeline/robust_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace tianyu::pipeline {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

template <typename T>
std::vector<double> finite_copy(std::span<const T> values) {
  std::vector<double> out;
  out.reserve(values.size());
  for (T v : values) {
    if (std::isfinite(v)) out.push_back(static_cast<double>(v));
  }
  return out;
}

// Median of finite values, reordering them (selection, not a full sort); the two middle values
// are averaged in double precision.
template <typename T>
double median_of_finite(std::span<T> v) {
  if (v.empty()) return kNaN;
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return 0.5 * (lower + upper);
}

// A scratch copy that holds finite values only.
double median_of_scratch(std::vector<double>& v) { return median_of_finite(std::span<double>(v)); }

template <typename T>
double finite_median_in_place(std::span<T> values) {
  const auto finite_end = std::partition(values.begin(), values.end(), [](T x) { return std::isfinite(x); });
  return median_of_finite(values.first(static_cast<std::size_t>(finite_end - values.begin())));
}

}  // namespace

double median_in_place(std::span<double> values) { return finite_median_in_place(values); }
double median_in_place(std::span<float> values) { return finite_median_in_place(values); }

double median(std::span<const double> values) {
  auto v = finite_copy(values);
  return median_of_scratch(v);
}

double median(std::span<const float> values) {
  auto v = finite_copy(values);
  return median_of_scratch(v);
}

double mad_std(std::span<const double> values) {
  auto v = finite_copy(values);
  const double m = median_of_scratch(v);
  for (double& x : v) x = std::abs(x - m);
  return 1.482602218505602 * median_of_scratch(v);
}

ClippedStats sigma_clipped_stats(std::span<const double> values, const ClipOptions& options) {
  ClippedStats s;
  std::vector<double> kept = finite_copy(values);
  s.non_finite = values.size() - kept.size();
  const std::size_t finite = kept.size();
  std::vector<double> scratch;
  for (;;) {
    scratch = kept;
    s.median = median_of_scratch(scratch);
    double sum = 0;
    for (double x : kept) sum += x;
    s.mean = kept.empty() ? kNaN : sum / static_cast<double>(kept.size());
    double ss = 0;
    for (double x : kept) ss += (x - s.mean) * (x - s.mean);
    s.stddev = kept.empty() ? kNaN : std::sqrt(ss / static_cast<double>(kept.size()));
    s.lower_bound = s.median - options.lower_sigma * s.stddev;
    s.upper_bound = s.median + options.upper_sigma * s.stddev;
    if (kept.empty() || s.iterations >= options.max_iterations) break;
    const auto before = kept.size();
    std::erase_if(kept, [&](double x) { return x < s.lower_bound || x > s.upper_bound; });
    ++s.iterations;
    if (kept.size() == before) break;
  }
  s.kept = kept.size();
  s.rejected = finite - kept.size();
  return s;
}

}  // namespace tianyu::pipeline
