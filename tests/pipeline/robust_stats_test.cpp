#include "pipeline/robust_stats.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace tianyu::pipeline {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(Median, OddAndEvenCounts) {
  const std::vector<double> odd = {5, 1, 4, 2, 3};
  EXPECT_DOUBLE_EQ(median(odd), 3.0);
  const std::vector<double> even = {10, 1, 4, 2};
  EXPECT_DOUBLE_EQ(median(even), 3.0);  // (2 + 4) / 2
}

TEST(Median, IgnoresNonFiniteAndIsNaNWhenEmpty) {
  const std::vector<double> values = {kNaN, 7, kInf, 1, -kInf, 4};
  EXPECT_DOUBLE_EQ(median(values), 4.0);
  const std::vector<double> none = {kNaN, kNaN};
  EXPECT_TRUE(std::isnan(median(none)));
  const std::vector<float> floats = {3.5f, NAN, 1.5f};
  EXPECT_DOUBLE_EQ(median(floats), 2.5);
}

// The in-place median (the masters' per-pixel loop) is the same median: non-finite values
// ignored, an even count averaged, computed in double even for floats.
TEST(Median, InPlaceIsTheSameMedian) {
  std::vector<float> floats{7.0f, std::nanf(""), 1.0f, INFINITY, 4.0f, 2.0f};
  EXPECT_DOUBLE_EQ(median_in_place(std::span<float>(floats)), 3.0);  // (2 + 4) / 2 of 1, 2, 4, 7
  std::vector<double> doubles{5.0, -1.0, NAN, 3.0};
  EXPECT_DOUBLE_EQ(median_in_place(std::span<double>(doubles)), 3.0);
  std::vector<float> large{16777216.0f, 16777218.0f};  // 2^24 and 2^24 + 2: the mean needs no rounding
  EXPECT_DOUBLE_EQ(median_in_place(std::span<float>(large)), 16777217.0);
  std::vector<float> none{NAN};
  EXPECT_TRUE(std::isnan(median_in_place(std::span<float>(none))));
}

TEST(MadStd, MatchesTheScaledMedianAbsoluteDeviation) {
  // |x - 3| = {2, 1, 0, 1, 97}: median 1, times 1.4826 (normal consistency constant).
  const std::vector<double> values = {1, 2, 3, 4, 100};
  EXPECT_NEAR(mad_std(values), 1.482602218505602, 1e-12);
}

TEST(SigmaClip, RejectsAnOutlierAndKeepsTheSymmetricCore) {
  std::vector<double> values;
  for (int i = 0; i < 10; ++i) values.insert(values.end(), {9.0, 10.0, 11.0});
  values.push_back(100.0);
  const auto s = sigma_clipped_stats(values);
  // The core {9, 10, 11} x 10 has mean 10 and population std sqrt(2/3).
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.kept, 30u);
  EXPECT_DOUBLE_EQ(s.mean, 10.0);
  EXPECT_DOUBLE_EQ(s.median, 10.0);
  EXPECT_NEAR(s.stddev, std::sqrt(2.0 / 3.0), 1e-12);
  EXPECT_GT(s.upper_bound, 11.0);
  EXPECT_LT(s.upper_bound, 100.0);
}

TEST(SigmaClip, UpperOnlyClipKeepsLowValues) {
  std::vector<double> values(50, 1.0);
  for (int i = 0; i < 50; ++i) values[i] += (i % 5) * 0.1;  // 1.0 .. 1.4
  values.push_back(-50.0);  // far below: kept by an upper-only clip
  values.push_back(1000.0);  // far above: rejected
  const auto s = sigma_clipped_stats(values, {kInf, 5.0, 10});
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.kept, 51u);
}

TEST(SigmaClip, GaussianSampleRecoversItsParameters) {
  // 3-sigma clipping of a pure normal sample removes ~0.27 % and biases the std by ~-1.5 %.
  std::mt19937_64 rng(42);
  std::normal_distribution<double> normal(100.0, 2.0);
  std::vector<double> values(200000);
  for (auto& v : values) v = normal(rng);
  const auto s = sigma_clipped_stats(values);
  EXPECT_NEAR(s.mean, 100.0, 0.02);
  EXPECT_NEAR(s.stddev, 2.0 * 0.9866, 0.01);
  EXPECT_NEAR(static_cast<double>(s.rejected) / values.size(), 0.0027, 0.0015);
}

TEST(SigmaClip, CountsNonFiniteValuesSeparately) {
  const std::vector<double> values = {1, 2, 3, kNaN, kInf};
  const auto s = sigma_clipped_stats(values);
  EXPECT_EQ(s.non_finite, 2u);
  EXPECT_EQ(s.kept, 3u);
  EXPECT_DOUBLE_EQ(s.mean, 2.0);
}

TEST(SigmaClip, ConstantDataIsKeptWhole) {
  const std::vector<double> values(10, 5.0);
  const auto s = sigma_clipped_stats(values);
  EXPECT_EQ(s.kept, 10u);
  EXPECT_DOUBLE_EQ(s.stddev, 0.0);
}

}  // namespace
}  // namespace tianyu::pipeline
