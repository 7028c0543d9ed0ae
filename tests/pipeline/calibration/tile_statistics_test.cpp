// Our per-tile background measurement against SEP's own, bit for bit: every tile's level and
// sigma from sep_background with a 1x1 filter and fthresh 0 (which leaves every good tile's
// raw measurement), on the kinds of sky a night brings; and the fast mode estimate against a
// literal one-pass-per-iteration walk of the histogram on arbitrary histograms.
#include "pipeline/calibration/tile_statistics.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "pipeline/sep_support.h"

namespace tianyu::pipeline {
namespace {

using Mask = std::vector<std::uint8_t>;
constexpr float kDiscarded = static_cast<float>(-1e30);

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

struct TileMap {
  int nx = 0, ny = 0;
  std::vector<float> level, sigma;
};

TileMap ours(const Image& image, const Mask* mask, int box_w, int box_h) {
  TileMap map;
  map.nx = (image.width - 1) / box_w + 1;
  map.ny = (image.height - 1) / box_h + 1;
  map.level.resize(static_cast<std::size_t>(map.nx) * map.ny);
  map.sigma.resize(map.level.size());
  for (int ty = 0; ty < map.ny; ++ty) {
    tile_statistics::measure_tile_row(image, mask, box_w, box_h, ty, map.level.data() + ty * map.nx,
                                      map.sigma.data() + ty * map.nx);
  }
  return map;
}

// Compares every tile SEP kept; returns how many tiles we discarded (SEP replaces those by
// their neighbours, so their own values are not visible in its map).
int expect_sep_tiles(const Image& image, const Mask* mask, int box_w, int box_h) {
  sep_image view = sep_support::view(image, mask);
  sep_bkg* raw = nullptr;
  const int status = sep_background(&view, box_w, box_h, 1, 1, 0.0, &raw);
  const sep_support::Background sep(raw);
  EXPECT_EQ(status, 0) << sep_support::describe("sep_background", status);
  if (!sep) return -1;
  const TileMap got = ours(image, mask, box_w, box_h);
  EXPECT_EQ(sep->nx, got.nx);
  EXPECT_EQ(sep->ny, got.ny);
  int discarded = 0, wrong = 0;
  for (int i = 0; i < sep->n && wrong < 5; ++i) {
    if (same_bits(got.level[i], kDiscarded)) {
      EXPECT_TRUE(same_bits(got.sigma[i], kDiscarded)) << "tile " << i;
      ++discarded;
      continue;
    }
    const bool same = same_bits(sep->back[i], got.level[i]) && same_bits(sep->sigma[i], got.sigma[i]);
    wrong += !same;
    EXPECT_TRUE(same) << "tile " << i << " (" << i % got.nx << ", " << i / got.nx << "): SEP " << sep->back[i]
                      << " +- " << sep->sigma[i] << ", ours " << got.level[i] << " +- " << got.sigma[i];
  }
  return discarded;
}

// Gaussian sky plus Gaussian stars (FWHM ~4 px), clipped at `saturation`.
Image sky(int w, int h, unsigned seed, float level, float noise, int stars, float brightest, float saturation) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> gauss(level, noise);
  Image image(w, h);
  for (float& p : image.pixels) p = gauss(rng);
  std::uniform_real_distribution<float> where(0.0f, 1.0f);
  for (int s = 0; s < stars; ++s) {
    const float cx = where(rng) * w, cy = where(rng) * h;
    const float top = brightest * std::pow(where(rng), 4.0f);  // many faint, a few bright
    for (int y = std::max(0, int(cy) - 12); y < std::min(h, int(cy) + 13); ++y) {
      for (int x = std::max(0, int(cx) - 12); x < std::min(w, int(cx) + 13); ++x) {
        const float r2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
        image.at(x, y) = std::min(saturation, image.at(x, y) + top * std::exp(-r2 / (2 * 1.7f * 1.7f)));
      }
    }
  }
  return image;
}

TEST(TileStatistics, RealisticSkyWithSaturatedStars) {
  const Image image = sky(1000, 777, 1, 1000.0f, 30.0f, 1500, 200000.0f, 65535.0f);
  EXPECT_EQ(expect_sep_tiles(image, nullptr, 64, 64), 0);
  EXPECT_EQ(expect_sep_tiles(image, nullptr, 32, 48), 0);
  EXPECT_EQ(expect_sep_tiles(image, nullptr, 128, 17), 0);
  Mask mask(image.pixels.size(), 0);
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = image.pixels[i] >= 65535.0f ? 4 : 0;
  EXPECT_EQ(expect_sep_tiles(image, &mask, 64, 64), 0);
}

TEST(TileStatistics, CrowdedTilesIterateTheClippingManyTimes) {
  // A tile half sky, half a smooth ramp of star light: a skewed histogram whose 3-sigma
  // clipping creeps down over many iterations.
  Image image = sky(512, 512, 2, 1000.0f, 30.0f, 0, 0.0f, 1e9f);
  for (int y = 0; y < 512; ++y) {
    for (int x = 0; x < 512; ++x) image.at(x, y) += (x % 64 < 32 + (y / 64) * 4) ? 0.0f : 3.0f * (x % 64);
  }
  EXPECT_EQ(expect_sep_tiles(image, nullptr, 64, 64), 0);
  tile_statistics::Histogram histogram;  // the same kind of skew, straight into a histogram
  histogram.counts.resize(4096);
  for (int i = 0; i < 4096; ++i) histogram.counts[i] = static_cast<int>(2000.0 * std::exp(-i / 300.0)) + (i % 7);
  histogram.qscale = 0.25f;
  float level = 0, sigma = 0;
  EXPECT_GE(tile_statistics::guess_background(histogram, level, sigma), 10);
}

TEST(TileStatistics, ColdPixelsAtTheHistogramFloor) {
  // A tenth of the pixels near 5 sigma below the sky: outside the 2-sigma clip, so they widen
  // only the first sigma, and they fall around the histogram's first bin, qzero = mean - 5
  // sigma (a float at -0.7 bins is bin 0; at -1 it is no bin), which the first clipping
  // iteration counts.
  Image image = sky(1024, 512, 11, 1000.0f, 30.0f, 0, 0.0f, 1e9f);
  std::mt19937 rng(12);
  std::uniform_real_distribution<float> floor(1000.0f - 5.3f * 30.0f, 1000.0f - 4.7f * 30.0f);
  std::uniform_int_distribution<int> tenth(0, 9);
  for (float& p : image.pixels) p = tenth(rng) == 0 ? floor(rng) : p;
  EXPECT_EQ(expect_sep_tiles(image, nullptr, 64, 64), 0);
}

TEST(TileStatistics, ConstantAndTinySigmaTiles) {
  Image image(300, 200, 1234.5f);
  for (int y = 0; y < 200; ++y) {
    for (int x = 100; x < 200; ++x) image.at(x, y) = 1234.5f + ((x + y) % 3) * 1e-4f;  // a few ulps
    for (int x = 200; x < 300; ++x) image.at(x, y) = (x + y) % 2 ? 7.0f : 8.0f;       // two values
  }
  image.at(250, 150) = 1e6f;  // one outlier among two values
  EXPECT_EQ(expect_sep_tiles(image, nullptr, 50, 50), 0);
  EXPECT_EQ(expect_sep_tiles(image, nullptr, 100, 100), 0);
  const TileMap map = ours(Image(64, 64, 42.0f), nullptr, 64, 64);
  EXPECT_EQ(map.level[0], 42.0f);  // a constant tile's level is that constant, with no spread
  EXPECT_EQ(map.sigma[0], 0.0f);
}

TEST(TileStatistics, TilesWithFewUsablePixels) {
  Image image = sky(256, 256, 3, 500.0f, 12.0f, 60, 5000.0f, 1e9f);
  Mask mask(image.pixels.size(), 0);
  // Tile (0, 0): exactly half of 4096 usable; (1, 0): 2047 (discarded); (2, 0): half, 2051
  // unmasked less a NaN, a -inf and a -1e30; (3, 0): every pixel masked but 2048 in a stripe.
  for (int k = 0; k < 2048; ++k) mask[(k / 64) * 256 + k % 64] = 1;
  for (int k = 0; k < 2049; ++k) mask[(k / 64) * 256 + 64 + k % 64] = 1;
  for (int k = 0; k < 2045; ++k) mask[(k / 64) * 256 + 128 + k % 64] = 1;
  image.at(130, 40) = std::nanf("");
  image.at(131, 40) = -std::numeric_limits<float>::infinity();
  image.at(132, 40) = -1e30f;
  for (int y = 0; y < 64; ++y) {
    for (int x = 192; x < 256; ++x) mask[y * 256 + x] = (x - 192) % 2 ? 0 : 9;
  }
  // Tile (0, 1): only 10 unmasked of 4096 and all NaN otherwise: discarded either way.
  for (int y = 64; y < 128; ++y) {
    for (int x = 0; x < 64; ++x) image.at(x, y) = (y == 64 && x < 10) ? 500.0f + x : std::nanf("");
  }
  EXPECT_EQ(expect_sep_tiles(image, &mask, 64, 64), 2);  // (1, 0) and (0, 1)
  const TileMap map = ours(image, &mask, 64, 64);
  EXPECT_FALSE(same_bits(map.level[0], kDiscarded));
  EXPECT_TRUE(same_bits(map.level[1], kDiscarded));
  EXPECT_FALSE(same_bits(map.level[2], kDiscarded));
  EXPECT_TRUE(same_bits(map.level[4], kDiscarded));
}

TEST(TileStatistics, IntegerAduFramesFromFaintToBright) {
  for (const float level : {3.0f, 40.0f, 1200.0f}) {
    SCOPED_TRACE("sky " + std::to_string(level) + " ADU");
    std::mt19937 rng(static_cast<unsigned>(level));
    std::poisson_distribution<int> counts(level);
    Image image = sky(640, 480, 4, 0.0f, 0.0f, 200, 30000.0f, 65535.0f);
    for (float& p : image.pixels) p = std::round(p + static_cast<float>(counts(rng)));
    EXPECT_EQ(expect_sep_tiles(image, nullptr, 64, 64), 0);
    EXPECT_EQ(expect_sep_tiles(image, nullptr, 24, 24), 0);
  }
}

TEST(TileStatistics, NegativeBackgrounds) {
  EXPECT_EQ(expect_sep_tiles(sky(500, 400, 5, -500.0f, 20.0f, 300, 8000.0f, 1e9f), nullptr, 64, 64), 0);
  EXPECT_EQ(expect_sep_tiles(sky(500, 400, 6, -0.25f, 1.0f, 300, 50.0f, 1e9f), nullptr, 40, 40), 0);
}

TEST(TileStatistics, HugeDynamicRange) {
  // Stars up to 1e9 on a sky of 1000; and a sky at 1e8 whose noise is near float's resolution.
  EXPECT_EQ(expect_sep_tiles(sky(600, 600, 7, 1000.0f, 30.0f, 400, 1e9f, 1e9f), nullptr, 64, 64), 0);
  EXPECT_EQ(expect_sep_tiles(sky(600, 600, 8, 1e8f, 20.0f, 400, 1e9f, 1e9f), nullptr, 64, 64), 0);
  EXPECT_EQ(expect_sep_tiles(sky(600, 600, 9, 1e-3f, 1e-5f, 400, 1e3f, 1e9f), nullptr, 50, 70), 0);
}

// backguess as SEP writes it, one pass over the window per iteration with the two-pointer walk
// inside: the reference for the fast version on any histogram.
int literal_guess(const tile_statistics::Histogram& h, float& level, float& sigma) {
  const std::vector<int>& c = h.counts;
  auto at = [&](int i) { return i >= 0 && i < static_cast<int>(c.size()) ? c[i] : 0; };
  const int top = static_cast<int>(c.size()) - 1;
  int low = 0, high = top, iterations = 0;
  double sig = 10.0 * top, previous = 1.0, mean = h.mean, median = h.mean;
  for (int n = 100; n-- && sig >= 0.1 && std::fabs(sig / previous - 1.0) > 1e-4;) {
    ++iterations;
    previous = sig;
    unsigned long sum = 0, low_sum = 0, high_sum = 0;
    mean = sig = 0.0;
    int up = low, down = high;
    for (int i = low; i <= high; ++i) {
      if (low_sum < high_sum) low_sum += at(up++); else high_sum += at(down--);
      sum += at(i);
      const double term = static_cast<double>(at(i)) * i;
      mean += term;
      sig += term * i;
    }
    const double imbalance = static_cast<double>(high_sum) - low_sum;
    median = down >= 0 ? down + 0.5 + imbalance / (2.0 * std::max(at(up), at(down))) : 0.0;
    if (sum) {
      mean /= static_cast<double>(sum);
      sig = sig / sum - mean * mean;
    }
    sig = sig > 0.0 ? std::sqrt(sig) : 0.0;
    double bound = median - 3.0 * sig;
    low = bound > 0.0 ? static_cast<int>(bound + 0.5) : 0;
    bound = median + 3.0 * sig;
    high = bound < top ? static_cast<int>(bound > 0.0 ? bound + 0.5 : bound - 0.5) : top;
  }
  double mode = h.qzero + mean * h.qscale;
  if (std::fabs(sig) > 0.0) {
    mode = std::fabs((mean - median) / sig) < 0.3 ? h.qzero + (2.5 * median - 1.5 * mean) * h.qscale
                                                  : h.qzero + median * h.qscale;
  }
  level = static_cast<float>(mode);
  sigma = static_cast<float>(sig * h.qscale);
  return iterations;
}

TEST(TileStatistics, ModeEstimateMatchesTheLiteralWalkOnAnyHistogram) {
  std::mt19937 rng(10);
  std::uniform_int_distribution<int> size(1, 4096), small(0, 3), big(0, 100000);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  int many_iterations = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    tile_statistics::Histogram h;
    h.counts.resize(trial < 8 ? trial + 1 : size(rng));
    // Sparse small counts, a Gaussian, a spike, huge counts, a skewed tail (many iterations).
    const int kind = trial % 5;
    const double centre = unit(rng) * h.counts.size(), width = 1 + unit(rng) * h.counts.size() / 4;
    for (std::size_t i = 0; i < h.counts.size(); ++i) {
      const double g = std::exp(-0.5 * std::pow((i - centre) / width, 2));
      h.counts[i] = kind == 0 ? small(rng) * small(rng) * small(rng)
                  : kind == 1 ? static_cast<int>(500 * g) + small(rng)
                  : kind == 2 ? (i == static_cast<std::size_t>(centre) ? 4000 : small(rng) / 3)
                  : kind == 3 ? big(rng) * (g > 0.5)
                              : static_cast<int>(3000 * std::exp(-(i * 1.0) / width)) + small(rng);
    }
    h.mean = static_cast<float>(centre);
    h.qzero = 1000.0f * (unit(rng) - 0.5f);
    h.qscale = 0.01f + unit(rng);
    float want_level = 0, want_sigma = 0, level = 0, sigma = 0;
    const int want_iterations = literal_guess(h, want_level, want_sigma);
    const int iterations = tile_statistics::guess_background(h, level, sigma);
    many_iterations += want_iterations >= 10;
    ASSERT_EQ(iterations, want_iterations) << "trial " << trial;
    ASSERT_TRUE(same_bits(level, want_level) && same_bits(sigma, want_sigma))
        << "trial " << trial << ": " << want_level << " +- " << want_sigma << " vs " << level << " +- " << sigma;
  }
  EXPECT_GT(many_iterations, 300);  // the walk's many-iteration paths were exercised
}

TEST(TileStatistics, DiscardedHistogramGivesMinusBig) {
  tile_statistics::Histogram h;
  h.mean = kDiscarded;
  float level = 0, sigma = 0;
  EXPECT_EQ(tile_statistics::guess_background(h, level, sigma), 0);
  EXPECT_TRUE(same_bits(level, kDiscarded));
  EXPECT_TRUE(same_bits(sigma, kDiscarded));
}

}  // namespace
}  // namespace tianyu::pipeline
