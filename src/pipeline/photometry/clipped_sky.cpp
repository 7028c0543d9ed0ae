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

// The four bytes' counts of the annulus' keys, made with the keys in one pass over the values;
// false if a value is not finite. Sky pixels share their high bytes
// (sign and exponent), so one counter would be bumped by pixel after pixel, each waiting for
// the last store: even and odd pixels count apart.
using ByteCounts = std::array<std::array<std::uint32_t, 256>, 4>;
bool keys_and_counts(const std::vector<float>& values, std::uint32_t* keys, ByteCounts& count) {
  ByteCounts odd{};
  count = {};
  const std::size_t n = values.size();
  bool finite = true;
  const auto add = [&](ByteCounts& c, std::size_t i) {
    const std::uint32_t key = keys[i] = sort_key(values[i]);
    ++c[0][key & 0xFFu], ++c[1][(key >> 8) & 0xFFu], ++c[2][(key >> 16) & 0xFFu], ++c[3][key >> 24];
    finite &= std::isfinite(values[i]);
  };
  std::size_t i = 0;
  for (; i + 1 < n; i += 2) {
    add(count, i);
    add(odd, i + 1);
  }
  if (i < n) add(count, i);
  for (int b = 0; b < 4; ++b) {
    for (int d = 0; d < 256; ++d) count[b][d] += odd[b][d];
  }
  return finite;
}

// One stable pass of the byte at `shift` from src to dst. The front half is placed from each
// bucket's start and the back half, walked backwards, from its end, so two independent chains
// of counters run at once; both halves keep their order, and they meet at the middle pixel.
void scatter_pass(const std::uint32_t* src, std::uint32_t* dst, std::size_t n, int shift,
                  const std::array<std::uint32_t, 256>& count) {
  std::array<std::uint32_t, 256> head, tail;
  std::uint32_t offset = 0;
  for (int d = 0; d < 256; ++d) {
    head[d] = offset;
    offset += count[d];
    tail[d] = offset;
  }
  const auto digit = [shift](std::uint32_t key) { return (key >> shift) & 0xFFu; };
  const std::size_t half = n / 2;
  for (std::size_t i = 0; i < half; ++i) {
    const std::uint32_t front = src[i], back = src[n - 1 - i];
    dst[head[digit(front)]++] = front;
    dst[--tail[digit(back)]] = back;
  }
  if (n % 2 == 1) dst[head[digit(src[half])]] = src[half];
}

// LSD radix sort of the annulus' keys, a byte a pass, into scratch.keys or scratch.key_swap
// (returned; null, before any pass, if a value is not finite); a pass whose byte is the same
// in every key (the exponent of a sky that sits in one octave) is skipped. The sorted keys are
// unique (one key per float value, -0 before +0), so any exact sort gives this order.
const std::uint32_t* sorted_keys(SkyScratch& scratch) {
  const std::size_t n = scratch.values.size();
  scratch.keys.resize(n);
  scratch.key_swap.resize(n);
  std::uint32_t* src = scratch.keys.data();
  std::uint32_t* dst = scratch.key_swap.data();
  ByteCounts count;
  if (!keys_and_counts(scratch.values, src, count)) return nullptr;
  for (int pass = 0; pass < 4; ++pass) {
    const int shift = 8 * pass;
    if (count[pass][(src[0] >> shift) & 0xFFu] == n) continue;
    scatter_pass(src, dst, n, shift, count[pass]);
    std::swap(src, dst);
  }
  return src;
}

// The sorted annulus, read through its keys (only the few values the medians need are turned
// back into floats).
struct SortedRun {
  const std::uint32_t* keys;
  std::size_t n;
  double operator[](std::size_t i) const { return from_key(keys[i]); }
};

// The median of a sorted run, the two middle values averaged in double as median() does.
double sorted_median(const SortedRun& s) {
  if (s.n == 0) return kNaN;
  const double upper = s[s.n / 2];
  return s.n % 2 == 1 ? upper : 0.5 * (s[s.n / 2 - 1] + upper);
}

// The k-th smallest (from 0) of |s_i - m|. The deviations rise from m outwards on each side,
// so they are two sorted runs (left: i = split-1 down to 0, right: i = split up to n-1), and the
// k-th of their union is found by bisecting how many come from the left: the same value the
// merge of the two runs (or a selection over all deviations) gives, in log n reads.
double kth_deviation(const SortedRun& s, std::size_t split, double m, std::size_t k) {
  const auto left = [&](std::size_t j) { return std::abs(s[split - 1 - j] - m); };
  const auto right = [&](std::size_t j) { return std::abs(s[split + j] - m); };
  const std::size_t n_left = split, n_right = s.n - split, take = k + 1;
  std::size_t lo = take > n_right ? take - n_right : 0, hi = std::min(take, n_left);
  while (true) {
    const std::size_t i = lo + (hi - lo) / 2, j = take - i;  // i from the left, j from the right
    if (i < n_left && j > 0 && right(j - 1) > left(i)) {
      lo = i + 1;  // the left's next is smaller than the right's last taken: take more left
    } else if (i > 0 && j < n_right && left(i - 1) > right(j)) {
      hi = i - 1;
    } else {
      const double a = i > 0 ? left(i - 1) : -1.0, b = j > 0 ? right(j - 1) : -1.0;
      return std::max(a, b);
    }
  }
}

// The median of |s_i - m| over the sorted run, as median() of the deviations averages it.
double sorted_median_deviation(const SortedRun& s, double m) {
  if (s.n == 0) return kNaN;
  std::size_t split = 0, count = s.n;  // split: the first value >= m (lower_bound)
  while (count > 0) {
    const std::size_t step = count / 2;
    if (s[split + step] < m) split += step + 1, count -= step + 1;
    else count = step;
  }
  const double upper = kth_deviation(s, split, m, s.n / 2);
  return s.n % 2 == 1 ? upper : 0.5 * (kth_deviation(s, split, m, s.n / 2 - 1) + upper);
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
  sky.median = m;
  sky.spread = spread;
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
  const std::uint32_t* keys = sorted_keys(scratch);
  if (!keys) return clipped_sky_by_selection(values, min_pixels);  // rare: masked pixels are not gathered
  const SortedRun s{keys, n};
  const double m = sorted_median(s);
  const double spread = 1.4826 * sorted_median_deviation(s, m);
  // The kept pixels are one run of the order: the clip's deviation falls to m and rises after.
  std::size_t lo = 0, hi = n;
  while (lo < hi && !kept_by_clip(s[lo], m, spread)) ++lo;
  while (hi > lo && !kept_by_clip(s[hi - 1], m, spread)) --hi;
  return scatter_of_kept(values, m, spread, sorted_median(SortedRun{s.keys + lo, hi - lo}));
}

}  // namespace tianyu::pipeline
