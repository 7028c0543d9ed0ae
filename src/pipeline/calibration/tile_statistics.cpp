// SEP 1.2.1's per-tile background measurement (see tile_statistics.h), rewritten for speed with
// every value still bit for bit SEP's. Types follow SEP's declarations exactly: pixel sums in
// double, cuts / qzero / qscale / histogram bin positions in float, bin counts in int. Where the
// work differs from SEP's: several tiles' pixel sums advance side by side (each tile's own order
// of additions kept), and the histogram mode estimate finds each clipping iteration's sums from
// exact integer running sums (a binary search, and the few bins the window moved) instead of a
// pass over the bins. This file is compiled with -ffp-contract=off (sources.cmake), as Debian
// built SEP (for baseline x86-64, without fused multiply-adds).
#include "pipeline/calibration/tile_statistics.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <numbers>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tianyu::pipeline::tile_statistics {
namespace {

constexpr double kBig = 1e+30;  // SEP's BIG: a pixel at or below -BIG is no value
// SEP compares a float pixel with -BIG in double; float(-BIG) lies below -BIG and the next
// float up lies above it, so `pixel > kNoValue` in float is the same test.
constexpr float kNoValue = static_cast<float>(-kBig);
constexpr int kMaxLevels = 4096;     // QUANTIF_NMAXLEVELS: most histogram bins
constexpr double kHistogramSigmas = 5;  // QUANTIF_NSIGMA: the histogram spans mean +- 5 sigma
constexpr double kModeTolerance = 1e-4;  // backguess's EPS: relative change of sigma to stop at
// Bins per clipped pixel: sqrt(2/pi) * QUANTIF_NSIGMA / QUANTIF_AMIN, evaluated as SEP does.
const double kLevelsPerPixel = std::sqrt(2 / std::numbers::pi) * 5 / 4;  // M_PI is this double

struct Tile {
  int x0, y0, width, height;
};

struct Sums {
  double total = 0.0, squares = 0.0;
  int count = 0;
};

// The pixels a pass takes from tile k: within [low[k], high[k]] (float bounds; NaN never is).
// SEP's first pass takes pixels above -BIG, its second those within its float cuts.
struct Cuts {
  const float* low;
  const float* high;
};

// SEP's sums over tiles first..first+K-1 of a tile row (all as wide as each other), each pixel
// by pixel in row order (the double sums round differently in any other order): pixels that are
// unmasked (mask byte 0, SEP's "<= maskthresh 0.0" on the byte as a float) and within the cuts.
// The K tiles' sums advance together only to overlap their addition latencies; each tile's own
// sequence of additions is SEP's. A rejected pixel adds +0.0, which changes no sum: a sum
// starting at +0.0 never becomes -0.0 under round-to-nearest.
template <int K, bool Masked>
void sum_tiles(const Image& image, const std::uint8_t* mask, const Tile* tiles, int first, Cuts cuts, Sums* out) {
  double total[K] = {}, squares[K] = {};
  int count[K] = {};
  const Tile& shape = tiles[first];
  for (int y = shape.y0; y < shape.y0 + shape.height; ++y) {
    const std::size_t row = static_cast<std::size_t>(y) * image.width;
    const float* pixels[K];
    const std::uint8_t* flags[K];
    for (int k = 0; k < K; ++k) {
      pixels[k] = image.pixels.data() + row + tiles[first + k].x0;
      flags[k] = Masked ? mask + row + tiles[first + k].x0 : nullptr;
    }
    for (int x = 0; x < shape.width; ++x) {
      for (int k = 0; k < K; ++k) {
        const float value = pixels[k][x];
        const bool within = (value <= cuts.high[first + k]) & (value >= cuts.low[first + k]);
        const bool take = (!Masked || flags[k][x] == 0) & within;
        const double pixel = take ? static_cast<double>(value) : 0.0;
        total[k] += pixel;
        squares[k] += pixel * pixel;
        count[k] += take;
      }
    }
  }
  for (int k = 0; k < K; ++k) out[first + k] = Sums{total[k], squares[k], count[k]};
}

#if defined(__SSE2__)
// sum_tiles for four tiles, two in each SSE2 register: each lane does exactly the scalar code's
// additions and multiplications, in the same order (the same IEEE operations), twice as many
// a step. The float bounds compare the same as doubles: float to double is exact.
template <bool Masked>
void sum_four_tiles(const Image& image, const std::uint8_t* mask, const Tile* tiles, int first, Cuts cuts, Sums* out) {
  __m128d total[2], squares[2], low[2], high[2];
  __m128i count[2];
  for (int p = 0; p < 2; ++p) {
    const int k = first + 2 * p;
    total[p] = squares[p] = _mm_setzero_pd();
    count[p] = _mm_setzero_si128();
    low[p] = _mm_setr_pd(cuts.low[k], cuts.low[k + 1]);
    high[p] = _mm_setr_pd(cuts.high[k], cuts.high[k + 1]);
  }
  const Tile& shape = tiles[first];
  for (int y = shape.y0; y < shape.y0 + shape.height; ++y) {
    const std::size_t row = static_cast<std::size_t>(y) * image.width;
    const float* pixels[4];
    const std::uint8_t* flags[4];
    for (int k = 0; k < 4; ++k) {
      pixels[k] = image.pixels.data() + row + tiles[first + k].x0;
      flags[k] = Masked ? mask + row + tiles[first + k].x0 : nullptr;
    }
    for (int x = 0; x < shape.width; ++x) {
      for (int p = 0; p < 2; ++p) {
        const __m128 both = _mm_unpacklo_ps(_mm_load_ss(pixels[2 * p] + x), _mm_load_ss(pixels[2 * p + 1] + x));
        const __m128d value = _mm_cvtps_pd(both);
        __m128d take = _mm_and_pd(_mm_cmple_pd(value, high[p]), _mm_cmpge_pd(value, low[p]));
        if (Masked) {
          const long long first_free = -static_cast<long long>(flags[2 * p][x] == 0);
          const long long second_free = -static_cast<long long>(flags[2 * p + 1][x] == 0);
          take = _mm_and_pd(take, _mm_castsi128_pd(_mm_set_epi64x(second_free, first_free)));
        }
        const __m128d pixel = _mm_and_pd(take, value);
        total[p] = _mm_add_pd(total[p], pixel);
        squares[p] = _mm_add_pd(squares[p], _mm_mul_pd(pixel, pixel));
        count[p] = _mm_sub_epi64(count[p], _mm_castpd_si128(take));  // take: all ones, -1
      }
    }
  }
  for (int p = 0; p < 2; ++p) {
    double t[2], q[2];
    long long c[2];
    _mm_storeu_pd(t, total[p]);
    _mm_storeu_pd(q, squares[p]);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(c), count[p]);
    for (int lane = 0; lane < 2; ++lane) out[first + 2 * p + lane] = Sums{t[lane], q[lane], static_cast<int>(c[lane])};
  }
}
#else
template <bool Masked>
void sum_four_tiles(const Image& image, const std::uint8_t* mask, const Tile* tiles, int first, Cuts cuts, Sums* out) {
  sum_tiles<4, Masked>(image, mask, tiles, first, cuts, out);
}
#endif

// The sums of a whole tile row: the full-width tiles four at a time, the rest one by one.
template <bool Masked>
void sum_row_as(const Image& image, const std::uint8_t* mask, const std::vector<Tile>& tiles, Cuts cuts,
                std::vector<Sums>& out) {
  const int n = static_cast<int>(tiles.size());
  int t = 0;
  for (; t + 4 <= n && tiles[t + 3].width == tiles[t].width; t += 4) {
    sum_four_tiles<Masked>(image, mask, tiles.data(), t, cuts, out.data());
  }
  for (; t < n; ++t) sum_tiles<1, Masked>(image, mask, tiles.data(), t, cuts, out.data());
}

void sum_row(const Image& image, const std::uint8_t* mask, const std::vector<Tile>& tiles, Cuts cuts,
             std::vector<Sums>& out) {
  if (mask) {
    sum_row_as<true>(image, mask, tiles, cuts, out);
  } else {
    sum_row_as<false>(image, mask, tiles, cuts, out);
  }
}

// backstat's result for one tile: the float mean and sigma after one 2-sigma clip, and the
// histogram it sizes from them (nlevels bins of qscale from qzero).
struct Clipped {
  float mean = 0, sigma = 0, qzero = 0, qscale = 1;
  int levels = 0;
};

// backstat's first step: the 2-sigma cuts around the mean of the usable pixels, in float.
// Returns false for a tile with fewer than BACK_MINGOODFRAC = half of its pixels usable (SEP
// compares the two as floats), which SEP discards.
bool first_cuts(const Tile& tile, const Sums& all, float& low, float& high) {
  if (static_cast<float>(all.count) < static_cast<float>(tile.width * tile.height * 0.5)) return false;
  const double mean = all.total / static_cast<double>(all.count);
  const double variance = all.squares / all.count - mean * mean;
  const double sigma = variance > 0.0 ? std::sqrt(variance) : 0.0;
  low = static_cast<float>(mean - 2.0 * sigma);
  high = static_cast<float>(mean + 2.0 * sigma);
  return true;
}

// backstat's second step, from the sums of the pixels within the cuts.
Clipped clipped_statistics(const Sums& kept) {
  Clipped out;
  const double mean = kept.total / static_cast<double>(kept.count);
  const double variance = kept.squares / kept.count - mean * mean;
  const double sigma = variance > 0.0 ? std::sqrt(variance) : 0.0;
  out.mean = static_cast<float>(mean);
  out.sigma = static_cast<float>(sigma);
  out.levels = std::min(kMaxLevels, static_cast<int>(kLevelsPerPixel * kept.count + 1));
  // From the double mean and sigma, not the float ones just stored.
  out.qscale = sigma > 0.0 ? static_cast<float>(2 * kHistogramSigmas * sigma / out.levels) : 1.0f;
  out.qzero = static_cast<float>(mean - kHistogramSigmas * sigma);
  return out;
}

// backhisto: bin = (int)(pixel / qscale + cste) in float, counted when unmasked and within
// [0, levels). The truncation lands in [0, levels) exactly when the float lies in
// (-1, levels); testing that first avoids converting floats beyond int's range (NaN fails it).
// Each row segment's bins are found first (a loop that vectorises), pixels not counted sent to
// one extra bin past the end, which is dropped afterwards: the counting loop has no branch.
void fill_histogram(const Image& image, const std::uint8_t* mask, const Tile& tile, Histogram& histogram,
                    std::vector<int>& bins) {
  const float qscale = histogram.qscale;
  const float offset = static_cast<float>(0.499999 - histogram.qzero / qscale);
  const int levels = static_cast<int>(histogram.counts.size());
  const float top = static_cast<float>(levels);
  histogram.counts.push_back(0);
  int* counts = histogram.counts.data();
  const int width = tile.width;  // a local: the counts written below might alias a field
  bins.resize(static_cast<std::size_t>(width));
  int* bin = bins.data();
  for (int y = tile.y0; y < tile.y0 + tile.height; ++y) {
    const std::size_t start = static_cast<std::size_t>(y) * image.width + tile.x0;
    const float* pixels = image.pixels.data() + start;
    const std::uint8_t* flags = mask ? mask + start : nullptr;
    for (int x = 0; x < width; ++x) {
      const float position = pixels[x] / qscale + offset;
      const bool inside = (position > -1.0f) & (position < top);
      bin[x] = static_cast<int>(inside ? position : top);
    }
    if (flags) {
      for (int x = 0; x < width; ++x) bin[x] = flags[x] == 0 ? bin[x] : levels;
    }
    for (int x = 0; x < width; ++x) ++counts[bin[x]];
  }
  histogram.counts.pop_back();
}

// What x86-64's double-to-int conversion (cvttsd2si), which SEP's (int) casts compile to,
// gives: truncation, or INT_MIN for NaN and anything beyond int's range.
long long truncate_as_sep(double value) {
  if (!(value > -2147483649.0 && value < 2147483648.0)) return INT_MIN;
  return static_cast<long long>(value);
}

// Exact sums of a histogram: the counts up to each bin, and the moments of the current window.
//
// Why they are exact, and SEP's double sums are too: a tile has at most nlevels <= 4096 bins
// (QUANTIF_NMAXLEVELS), so bin <= 4095, and its bins hold at most the tile's P pixels (SEP's
// int bins, its unsigned long count). Every term count * bin and count * bin * bin, and every
// partial sum SEP forms of them in double, is an integer at most P * 4095^2, below 2^53 for
// P < 2^53 / 4095^2 = 537,133,152.03 pixels (kLargestExactTile = 536,000,000): double holds each
// exactly, so SEP's sums over any window equal these integers, in whatever order formed.
struct Moments {
  long long count = 0, first = 0, second = 0;  // sums of count, count * bin, count * bin^2
};

// The moments of bins [a, b] by additions alone (a multiplication a bin costs more). With
// d = b + 1 - bin, from bin a up: cumulative = counts so far, once = sum of cumulative = sum of
// count * d, twice = sum of once = sum of count * d (d + 1) / 2; bin = b + 1 - d turns these into
// the moments. With `prefix`, also stores prefix[bin + 1] = counts of bins [a, bin].
Moments range_moments(const std::vector<int>& bins, long long a, long long b, long long* prefix = nullptr) {
  long long cumulative = 0, once = 0, twice = 0;
  for (long long i = a; i <= b; ++i) {
    cumulative += bins[static_cast<std::size_t>(i)];
    once += cumulative;
    twice += once;
    if (prefix) prefix[i + 1] = cumulative;
  }
  const long long end = b + 1, d_squared = 2 * twice - once;
  return Moments{cumulative, end * cumulative - once, end * end * cumulative - 2 * end * once + d_squared};
}

struct RunningSums {
  const std::vector<int>* bins = nullptr;
  std::vector<long long> count;  // size bins + 1; [k] counts bins [0, k)
  // The moments of bins [low, high], carried from one clipping window to the next: the windows
  // mostly shrink by a few bins.
  long long low = 0, high = -1;
  Moments window;

  void build(const std::vector<int>& histogram) {
    bins = &histogram;
    count.resize(histogram.size() + 1);
    count[0] = 0;
    low = 0;
    high = static_cast<long long>(histogram.size()) - 1;
    window = range_moments(histogram, low, high, count.data());
  }

  void change(long long a, long long b, long long sign) {
    if (b < a) return;
    const Moments m = range_moments(*bins, a, b);
    window.first += sign * m.first;
    window.second += sign * m.second;
  }

  // Moves the window to [to_low, to_high] (within the histogram, not empty).
  void move_to(long long to_low, long long to_high) {
    if (high < low || to_high < low || to_low > high) {  // nothing to keep
      low = to_low;
      high = to_high;
      window = range_moments(*bins, low, high);
      return;
    }
    change(low, to_low - 1, -1);
    change(to_low, low - 1, 1);
    change(to_high + 1, high, -1);
    change(high + 1, to_high, 1);
    low = to_low;
    high = to_high;
  }
};

// One clipping iteration's window [low, high] of the histogram, as backguess's pass leaves it.
// SEP walks two pointers inward, one bin a step, adding to the low side while its sum is below
// the high side's. That walk is a merge of two ascending sequences (the low side's sums L(0),
// L(1)... and the high side's H(0), H(1)...; ties go high), so after its n steps the low side
// has taken the largest a with L(a-1) < H(n-a): a binary search on the running counts.
struct Window {
  unsigned long long count = 0, low_sum = 0, high_sum = 0;
  double first = 0.0, second = 0.0;
  long long low_next = 0, high_next = 0;  // the bins each pointer stopped at
};

Window window_sums(RunningSums& sums, long long low, long long high) {
  Window w;
  const long long top = static_cast<long long>(sums.count.size()) - 2;
  low = std::clamp(low, 0LL, top + 1);  // out of range only where SEP itself would read garbage
  high = std::clamp(high, -1LL, top);
  w.low_next = low;
  w.high_next = high;
  const long long n = high - low + 1;
  if (n <= 0) return w;
  const long long base = sums.count[low], end = sums.count[high + 1];
  auto low_side = [&](long long k) { return sums.count[low + k] - base; };
  auto high_side = [&](long long k) { return end - sums.count[high + 1 - k]; };
  long long a = 0, b = n;  // the largest a with a == 0 || L(a-1) < H(n-a) lies in [a, b]
  while (a < b) {
    const long long mid = (a + b + 1) / 2;
    if (low_side(mid - 1) < high_side(n - mid)) a = mid; else b = mid - 1;
  }
  w.low_sum = static_cast<unsigned long long>(low_side(a));
  w.high_sum = static_cast<unsigned long long>(end - base) - w.low_sum;
  w.low_next = low + a;
  w.high_next = low + a - 1;
  w.count = static_cast<unsigned long long>(end - base);
  sums.move_to(low, high);
  w.first = static_cast<double>(sums.window.first);
  w.second = static_cast<double>(sums.window.second);
  return w;
}

int count_at(const std::vector<int>& bins, long long i) {
  return i >= 0 && i < static_cast<long long>(bins.size()) ? bins[static_cast<std::size_t>(i)] : 0;
}

// The interpolated median of a window: the bin the walk ended on, plus the imbalance of the two
// sides over twice the larger of the two bins it stopped at; 0 when the high side ran off bin 0.
double window_median(const std::vector<int>& bins, const Window& w) {
  if (w.high_next < 0) return 0.0;
  const int larger = std::max(count_at(bins, w.low_next), count_at(bins, w.high_next));
  return static_cast<double>(w.high_next) + 0.5 +
         (static_cast<double>(w.high_sum) - static_cast<double>(w.low_sum)) / (2.0 * larger);
}

long long rounded_bin(double position) {
  return truncate_as_sep(position > 0.0 ? position + 0.5 : position - 0.5);
}

// guess_background with the running sums' storage kept from tile to tile.
int guess_with(const Histogram& histogram, RunningSums& sums, float& level, float& sigma) {
  if (histogram.mean <= -kBig) {  // a discarded tile, or one whose mean is that low
    level = sigma = static_cast<float>(-kBig);
    return 0;
  }
  const std::vector<int>& bins = histogram.counts;
  sums.build(bins);
  const long long top = static_cast<long long>(bins.size()) - 1;
  long long low = 0, high = top;
  double sig = 10.0 * static_cast<double>(top), previous = 1.0;
  double mean = histogram.mean, median = histogram.mean;
  // Clip at the median +- 3 sigma until sigma changes by at most 1e-4 or falls below 0.1
  // (bin units), at most 100 times.
  int iterations = 0;
  for (int left = 100; left-- > 0 && sig >= 0.1 && std::fabs(sig / previous - 1.0) > kModeTolerance;) {
    ++iterations;
    previous = sig;
    const Window w = window_sums(sums, low, high);
    median = window_median(bins, w);
    mean = w.first;
    sig = w.second;
    if (w.count != 0) {
      mean /= static_cast<double>(w.count);
      sig = sig / static_cast<double>(w.count) - mean * mean;
    }
    sig = sig > 0.0 ? std::sqrt(sig) : 0.0;
    const double below = median - 3.0 * sig, above = median + 3.0 * sig;
    low = below > 0.0 ? rounded_bin(below) : 0;
    high = above < static_cast<double>(top) ? rounded_bin(above) : top;
  }
  const double qzero = histogram.qzero, qscale = histogram.qscale;
  double mode;
  if (std::fabs(sig) > 0.0) {
    // Mildly skewed: Pearson's mode 2.5 median - 1.5 mean; strongly skewed: the median.
    mode = std::fabs((mean - median) / sig) < 0.3 ? qzero + (2.5 * median - 1.5 * mean) * qscale
                                                  : qzero + median * qscale;
  } else {
    mode = qzero + mean * qscale;
  }
  level = static_cast<float>(mode);
  sigma = static_cast<float>(sig * qscale);
  return iterations;
}

}  // namespace

int guess_background(const Histogram& histogram, float& level, float& sigma) {
  RunningSums sums;
  return guess_with(histogram, sums, level, sigma);
}

void measure_tile_row(const Image& image, const std::vector<std::uint8_t>* mask, int box_w, int box_h,
                      int ty, float* level, float* sigma) {
  const std::uint8_t* flags = mask ? mask->data() : nullptr;
  const int nx = std::max(1, (image.width - 1) / box_w + 1);
  const int y0 = ty * box_h, height = std::min(image.height, y0 + box_h) - y0;
  std::vector<Tile> tiles(static_cast<std::size_t>(nx));
  for (int tx = 0; tx < nx; ++tx) {
    tiles[tx] = Tile{tx * box_w, y0, std::min(image.width, (tx + 1) * box_w) - tx * box_w, height};
  }
  std::vector<Sums> sums(tiles.size());
  // Above -BIG, as a float: at or above the next float up from kNoValue.
  std::vector<float> low(tiles.size(), std::nextafter(kNoValue, 0.0f));
  std::vector<float> high(tiles.size(), std::numeric_limits<float>::infinity());
  sum_row(image, flags, tiles, Cuts{low.data(), high.data()}, sums);
  std::vector<char> kept(tiles.size());
  for (int tx = 0; tx < nx; ++tx) kept[tx] = first_cuts(tiles[tx], sums[tx], low[tx], high[tx]);
  // A discarded tile's cuts are left as they were, and its sums here are not used.
  sum_row(image, flags, tiles, Cuts{low.data(), high.data()}, sums);
  Histogram histogram;
  RunningSums running;
  std::vector<int> bins;
  for (int tx = 0; tx < nx; ++tx) {
    if (!kept[tx]) {
      level[tx] = sigma[tx] = static_cast<float>(-kBig);
      continue;
    }
    const Clipped clipped = clipped_statistics(sums[tx]);
    histogram.mean = clipped.mean;
    histogram.qzero = clipped.qzero;
    histogram.qscale = clipped.qscale;
    histogram.counts.assign(static_cast<std::size_t>(clipped.levels), 0);
    if (!(clipped.mean <= -kBig)) fill_histogram(image, flags, tiles[tx], histogram, bins);
    guess_with(histogram, running, level[tx], sigma[tx]);
  }
}

}  // namespace tianyu::pipeline::tile_statistics
