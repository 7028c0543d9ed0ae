// The single-transit Bayes factor: a constant star and a quiet trend give ln BF < 0, a transit
// in the night gives a large one, found where it is.
#include "pipeline/transit/single_transit.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "pipeline/transit/trapezoid_fit.h"

namespace tianyu::pipeline {
namespace {

struct Night {
  std::vector<double> t, f, e;
};

// 300 points over 0.15 d (a 3.6-h night), 0.2 % noise, a slow quadratic airmass trend, and an
// optional 1 % trapezoid transit at mid-night lasting 0.05 d.
Night night(std::uint64_t seed, double depth) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n01;
  Night n;
  for (int i = 0; i < 300; ++i) {
    const double t = 2461056.0 + 0.15 * i / 299;
    const double u = (t - 2461056.075) / 0.15;
    const double shape = trapezoid_shape(t, 2461056.075, 0.05, 0.01);
    n.t.push_back(t);
    n.f.push_back((1 + 0.004 * u - 0.006 * u * u) * (1 - depth * shape) * (1 + 0.002 * n01(rng)));
    n.e.push_back(0.002);
  }
  return n;
}

TEST(SingleTransit, AConstantStarPrefersTheTrendAlone) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto n = night(seed, 0.0);
    const auto r = single_transit_bayes_factor(n.t, n.f, n.e);
    std::printf("constant star, seed %d: ln BF %.2f\n", static_cast<int>(seed), r.ln_bayes_factor);
    EXPECT_LT(r.ln_bayes_factor, 0.0) << "seed " << seed;
  }
}

TEST(SingleTransit, ATransitGivesALargeBayesFactorWhereItIs) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto n = night(seed, 0.01);
    const auto r = single_transit_bayes_factor(n.t, n.f, n.e);
    std::printf("1 %% transit, seed %d: ln BF %.1f, t0 off %.1f min, depth %.3f %%\n", static_cast<int>(seed),
                r.ln_bayes_factor, (r.best_t0 - 2461056.075) * 1440, 100 * r.best_depth);
    EXPECT_GT(r.ln_bayes_factor, 20.0) << "seed " << seed;
    EXPECT_NEAR(r.best_t0, 2461056.075, 0.005) << "seed " << seed;
    EXPECT_NEAR(r.best_depth, 0.01, 0.003) << "seed " << seed;
  }
}

TEST(SingleTransit, ABumpScoresFarBelowTheSameDip) {
  // The same shape upside down (a flare-like brightening): the shape prior leaves only what the
  // trend and dips beside it can make of it.
  auto n = night(3, -0.01);
  const auto r = single_transit_bayes_factor(n.t, n.f, n.e);
  const auto dip = single_transit_bayes_factor(night(3, 0.01).t, night(3, 0.01).f, night(3, 0.01).e);
  std::printf("bump: ln BF %.1f, the same dip: %.1f\n", r.ln_bayes_factor, dip.ln_bayes_factor);
  EXPECT_LT(r.ln_bayes_factor, dip.ln_bayes_factor - 20.0);
}

}  // namespace
}  // namespace tianyu::pipeline
