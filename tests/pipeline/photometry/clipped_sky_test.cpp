// The local sky read off one radix sort equals its definition by three selections exactly
// (median, MAD, clipped median and the kept pixels' scatter), on skies with stars, ties, signs,
// a flat annulus and non-finite pixels; and the definition itself against a hand-worked case
// and a Gaussian sky's known level and error.
#include "pipeline/photometry/clipped_sky.h"

#include <cmath>
#include <limits>
#include <random>

#include <gtest/gtest.h>

namespace tianyu::pipeline {
namespace {

// Equal values, NaN to NaN; a zero's sign is the one freedom (a selection may leave -0 or +0 in
// the middle of a run of zeroes, the sort puts -0 first).
bool same_value(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

void expect_same_as_definition(const std::vector<float>& values) {
  SkyScratch scratch;
  scratch.values = values;
  const auto fast = clipped_sky(scratch);
  const auto defined = clipped_sky_by_selection(values);
  EXPECT_EQ(fast.ok, defined.ok);
  EXPECT_TRUE(same_value(fast.level, defined.level)) << fast.level << " vs " << defined.level;
  EXPECT_TRUE(same_value(fast.error, defined.error)) << fast.error << " vs " << defined.error;
  // The clip itself, so a MAD off by one rank fails here even when it keeps the same pixels.
  EXPECT_TRUE(same_value(fast.median, defined.median)) << fast.median << " vs " << defined.median;
  EXPECT_TRUE(same_value(fast.spread, defined.spread)) << fast.spread << " vs " << defined.spread;
}

TEST(ClippedSky, AHandWorkedAnnulus) {
  // 1..11 and a star's 1000: median 6.5, MAD 3.5 (spread 5.19), the 1000 clipped; the kept
  // pixels' median 6 and scatter sqrt(10) over sqrt(11).
  std::vector<float> values{1000};
  for (int v = 1; v <= 11; ++v) values.push_back(static_cast<float>(v));
  SkyScratch scratch;
  scratch.values = values;
  const auto sky = clipped_sky(scratch);
  ASSERT_TRUE(sky.ok);
  EXPECT_DOUBLE_EQ(sky.level, 6.0);
  EXPECT_NEAR(sky.error, std::sqrt(10.0 / 11.0), 1e-12);
  expect_same_as_definition(values);
}

TEST(ClippedSky, AGaussianSkyWithStarsGivesItsLevelAndError) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> sky(350.0f, 12.0f);
  std::uniform_real_distribution<float> star(2000.0f, 30000.0f);
  std::vector<float> values;
  for (int i = 0; i < 20000; ++i) values.push_back(i % 50 == 0 ? star(rng) : sky(rng));
  SkyScratch scratch;
  scratch.values = values;
  const auto got = clipped_sky(scratch);
  EXPECT_NEAR(got.level, 350.0, 4 * 1.2533 * 12.0 / std::sqrt(19600.0));
  EXPECT_NEAR(got.error, 12.0 / std::sqrt(19600.0), 0.05 * 12.0 / std::sqrt(19600.0));
  expect_same_as_definition(values);
}

TEST(ClippedSky, EqualsTheSelectionsBitForBitOnManyAnnuli) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 400; ++trial) {
    const std::size_t n = 10 + rng() % 2500;  // odd and even counts
    const float level = std::uniform_real_distribution<float>(-50.0f, 5000.0f)(rng);
    const float sigma = std::uniform_real_distribution<float>(0.5f, 60.0f)(rng);
    std::normal_distribution<float> sky(level, sigma);
    const bool integers = trial % 3 == 0;  // raw ADU: many ties
    std::vector<float> values;
    for (std::size_t i = 0; i < n; ++i) {
      float v = rng() % 40 == 0 ? level + 50 * sigma * static_cast<float>(rng() % 100) : sky(rng);
      values.push_back(integers ? std::round(v) : v);
    }
    SCOPED_TRACE(::testing::Message() << "trial " << trial << " n " << n);
    expect_same_as_definition(values);
  }
}

// Annuli made to break a shortcut: every count from 10 to 5000 in steps that hit odd and even,
// skies straddling zero, ties, all-equal runs, a two-valued sky, a lopsided tail (the MAD's
// window then sits off-centre), values a few ulps apart (only the low byte orders them) and
// signs across many octaves. The fast path and the definition agree on every output.
std::vector<float> adversarial_annulus(int kind, std::size_t n, std::mt19937_64& rng) {
  std::normal_distribution<float> n01(0.0f, 1.0f);
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const float g = n01(rng);
    switch (kind) {
      case 0: v[i] = 3.0f + 20.0f * g; break;                                     // straddles zero
      case 1: v[i] = std::round(4.0f * g); break;                                  // few values, ties
      case 2: v[i] = 17.25f; break;                                                // all equal
      case 3: v[i] = i % 2 ? -1.5f : 2.5f; break;                                  // two values
      case 4: v[i] = i % 3 == 0 ? 500.0f + 1e4f * std::abs(g) : g; break;          // lopsided tail
      case 5: v[i] = std::nextafter(1.0f, 2.0f) + static_cast<float>(rng() % 7) * 1.1920929e-7f; break;  // ulps apart
      case 6: v[i] = (rng() % 2 ? 1.0f : -1.0f) * std::ldexp(1.0f, static_cast<int>(rng() % 120) - 60); break;
      default: v[i] = rng() % 4 == 0 ? (rng() % 2 ? 0.0f : -0.0f) : g; break;      // exact zeroes of both signs
    }
  }
  return v;
}

TEST(ClippedSky, AdversarialAnnuliOfEverySizeEqualTheSelections) {
  std::mt19937_64 rng(2024);
  std::size_t checked = 0;
  for (std::size_t n = 10; n <= 5000; n += (n < 40 ? 1 : 1 + rng() % 97)) {
    for (int kind = 0; kind < 8; ++kind) {
      SCOPED_TRACE(::testing::Message() << "kind " << kind << " n " << n);
      expect_same_as_definition(adversarial_annulus(kind, n, rng));
      ++checked;
    }
  }
  EXPECT_GT(checked, 700u);
  // A lopsided sky whose MAD window is far off-centre, worked by hand: 0..9 and ten 1000s.
  // Median (9 + 1000) / 2 = 504.5; deviations 495.5..504.5 and ten of 495.5: MAD 495.5.
  std::vector<float> lopsided(10, 1000.0f);
  for (int k = 0; k < 10; ++k) lopsided.push_back(static_cast<float>(k));
  SkyScratch scratch;
  scratch.values = lopsided;
  const auto sky = clipped_sky(scratch);
  EXPECT_EQ(sky.median, 504.5);
  EXPECT_EQ(sky.spread, 1.4826 * 495.5);
  expect_same_as_definition(lopsided);
}

TEST(ClippedSky, AFlatAnnulusAndNegativeZeroesKeepEveryPixel) {
  expect_same_as_definition(std::vector<float>(37, 120.0f));
  std::vector<float> zeroes;
  for (int i = 0; i < 30; ++i) zeroes.push_back(i % 2 ? 0.0f : -0.0f);
  zeroes.push_back(5.0f);
  expect_same_as_definition(zeroes);
}

TEST(ClippedSky, NonFinitePixelsFollowTheDefinition) {
  std::vector<float> values(40, 10.0f);
  for (int i = 0; i < 40; ++i) values[i] += static_cast<float>(i % 7);
  values[3] = std::numeric_limits<float>::quiet_NaN();
  values[9] = std::numeric_limits<float>::infinity();
  expect_same_as_definition(values);
  SkyScratch scratch;
  scratch.values = values;
  EXPECT_TRUE(std::isfinite(clipped_sky(scratch).level));
}

TEST(ClippedSky, TooFewPixelsIsNoSky) {
  SkyScratch scratch;
  scratch.values.assign(9, 1.0f);
  EXPECT_FALSE(clipped_sky(scratch).ok);
  scratch.values.push_back(1.0f);
  EXPECT_TRUE(clipped_sky(scratch).ok);
}

}  // namespace
}  // namespace tianyu::pipeline
