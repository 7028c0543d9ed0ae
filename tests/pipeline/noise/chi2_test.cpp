#include "pipeline/noise/chi2.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace tp = tianyu::pipeline;

TEST(ReducedChi2, GaussianNoiseWithItsOwnErrorsGivesOne) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> unit(0, 1);
  std::vector<double> v(20000), e(20000);
  for (std::size_t i = 0; i < v.size(); ++i) {
    e[i] = 0.002 * (1 + (i % 3));  // unequal errors, each honest
    v[i] = 1 + e[i] * unit(rng);
  }
  // chi2 / dof of 20000 points: 1 +- 0.01.
  EXPECT_NEAR(tp::reduced_chi2_against_constant(v, e), 1.0, 0.03);
  for (auto& x : e) x *= 2;
  EXPECT_NEAR(tp::reduced_chi2_against_constant(v, e), 0.25, 0.01);
}

TEST(ReducedChi2, KnownSmallCase) {
  // Equal errors 0.5 about the mean 2: ((1-2)^2 + 0 + (3-2)^2) / 0.25 / 2 = 4.
  const std::vector<double> v{1, 2, 3, NAN}, e{0.5, 0.5, 0.5, 0.5};
  EXPECT_DOUBLE_EQ(tp::reduced_chi2_against_constant(v, e), 4.0);
}

TEST(ReducedChi2, ClippingLeavesOutACosmicRay) {
  std::mt19937_64 rng(4);
  std::normal_distribution<double> unit(0, 1);
  std::vector<double> v(2000), e(2000, 0.01);
  for (auto& x : v) x = 1 + 0.01 * unit(rng);
  v[100] = 1.5;  // 50 sigma: alone it adds 2500 / 1999 = 1.25 to the reduced chi2
  EXPECT_GT(tp::reduced_chi2_against_constant(v, e), 2.0);
  EXPECT_NEAR(tp::clipped_reduced_chi2_against_constant(v, e), 1.0, 0.1);
}
