#include "pipeline/photometry/clipped_sky.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "pipeline/robust_stats.h"

namespace tianyu::pipeline {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The clip, written once so the fast path and the definition keep exactly the same pixels.
bool kept_by_clip(double v, double m, double spread) { return std::abs(v - m) <= 3.0 * spread || spread == 0; }

// Unsigned keys that sort as the floats do (negatives reversed, the sign bit flipped).
std::uint32_t sort_key(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : bits ^ 0x80000000u;
}

float from_key(std::uint32_t key) {
  const std::uint32_t bits = (key & 0x80000000u) ? key ^ 0x80000000u : ~key;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// LSD radix sort, a byte a pass; a pass whose byte is the same in every key (the exponent of a
// sky that sits in one octave) is skipped.
void radix_sort(std::vector<std::uint32_t>& keys, std::vector<std::uint32_t>& swap) {
  const std::size_t n = keys.size();
  swap.resize(n);
  std::uint32_t* src = keys.data();
  std::uint32_t* dst = swap.data();
  for (int shift = 0; shift < 32; shift += 8) {
    std::array<std::size_t, 256> count{};
    for (std::size_t i = 0; i < n; ++i) ++count[(src[i] >> shift) & 0xFFu];
    if (count[(src[0] >> shift) & 0xFFu] == n) continue;
    std::size_t offset = 0;
    for (auto& c : count) {
      const std::size_t here = c;
      c = offset;
      offset += here;
    }
    for (std::size_t i = 0; i < n; ++i) dst[count[(src[i] >> shift) & 0xFFu]++] = src[i];
    std::swap(src, dst);
  }
  if (src != keys.data()) std::copy(src, src + n, keys.data());
}

// The median of a sorted run, the two middle values averaged in double as median() does.
double sorted_median(const float* s, std::size_t n) {
  if (n == 0) return kNaN;
  const double upper = s[n / 2];
  return n % 2 == 1 ? upper : 0.5 * (static_cast<double>(s[n / 2 - 1]) + upper);
}

// The median of |s_i - m| over a sorted run: the deviations fall towards m on its left and rise
// on its right, so the two sides are merged from m outwards up to the middle rank.
double sorted_median_deviation(const float* s, std::size_t n, double m) {
  std::size_t right = static_cast<std::size_t>(std::lower_bound(s, s + n, m) - s);
  std::ptrdiff_t left = static_cast<std::ptrdiff_t>(right) - 1;
  const auto deviation = [&](std::size_t i) { return std::abs(static_cast<double>(s[i]) - m); };
  double previous = kNaN, current = kNaN;
  for (std::size_t rank = 0; rank <= n / 2; ++rank) {
    previous = current;
    const bool take_left = left >= 0 && (right >= n || deviation(static_cast<std::size_t>(left)) <= deviation(right));
    current = take_left ? deviation(static_cast<std::size_t>(left--)) : deviation(right++);
  }
  return n % 2 == 1 ? current : 0.5 * (previous + current);
}

ClippedSky scatter_of_kept(const std::vector<float>& values, double m, double spread, double level) {
  double sum = 0, sum2 = 0;
  std::size_t kept = 0;
  for (const float f : values) {
    const double v = f;
    if (!kept_by_clip(v, m, spread)) continue;
    sum += v;
    sum2 += v * v;
    ++kept;
  }
  const double n = static_cast<double>(kept);
  const double mean = sum / n;
  ClippedSky sky;
  sky.level = level;
  sky.error = std::sqrt(std::max(sum2 / n - mean * mean, 0.0) / n);
  sky.ok = true;
  return sky;
}

}  // namespace

ClippedSky clipped_sky_by_selection(const std::vector<float>& values, std::size_t min_pixels) {
  if (values.size() < min_pixels) return {};
  std::vector<double> work(values.begin(), values.end());
  const double m = median_in_place(work);
  for (auto& v : work) v = std::abs(v - m);
  const double spread = 1.4826 * median_in_place(work);
  std::vector<double> kept;
  for (const float v : values) {
    if (kept_by_clip(v, m, spread)) kept.push_back(v);
  }
  return scatter_of_kept(values, m, spread, median_in_place(kept));
}

ClippedSky clipped_sky(SkyScratch& scratch, std::size_t min_pixels) {
  const auto& values = scratch.values;
  const std::size_t n = values.size();
  if (n < min_pixels) return {};
  if (!std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); })) {
    return clipped_sky_by_selection(values, min_pixels);  // rare: masked pixels are not gathered
  }
  scratch.keys.resize(n);
  std::transform(values.begin(), values.end(), scratch.keys.begin(), sort_key);
  radix_sort(scratch.keys, scratch.key_swap);
  scratch.sorted.resize(n);
  std::transform(scratch.keys.begin(), scratch.keys.end(), scratch.sorted.begin(), from_key);
  const float* s = scratch.sorted.data();
  const double m = sorted_median(s, n);
  const double spread = 1.4826 * sorted_median_deviation(s, n, m);
  // The kept pixels are one run of the order: the clip's deviation falls to m and rises after.
  std::size_t lo = 0, hi = n;
  while (lo < hi && !kept_by_clip(s[lo], m, spread)) ++lo;
  while (hi > lo && !kept_by_clip(s[hi - 1], m, spread)) --hi;
  return scatter_of_kept(values, m, spread, sorted_median(s + lo, hi - lo));
}

}  // namespace tianyu::pipeline
