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
