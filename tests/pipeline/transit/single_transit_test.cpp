// The single-transit Bayes factor: a constant star and a quiet trend give ln BF < 0, a transit
// in the night gives a large one, found where it is.
#include "pipeline/transit/single_transit.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "pipeline/recipes/recipe_error.h"
#include "pipeline/recipes/transit_search.h"
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

// The transit_search recipe: five nights of one field, a 1 % transit in the third, and a
// curve too short to search.
std::vector<LightCurveData> field() {
  std::vector<LightCurveData> curves;
  for (std::uint64_t seed = 21; seed <= 25; ++seed) {
    const auto n = night(seed, seed == 23 ? 0.01 : 0.0);
    curves.push_back({n.t, n.f, n.e});
  }
  const auto n = night(26, 0.0);
  curves.push_back({{n.t.begin(), n.t.begin() + 15}, {n.f.begin(), n.f.begin() + 15}, {n.e.begin(), n.e.begin() + 15}});
  return curves;
}

TEST(TransitSearchRecipe, RanksTheInjectedTransitFirst) {
  const auto curves = field();
  const auto one = recipes::transit_search(curves, {.threads = 1});
  ASSERT_EQ(one.curves.size(), 6u);
  EXPECT_EQ(one.strongest, 2);
  const auto& found = one.curves[2].transit;
  EXPECT_GT(found.ln_bayes_factor, 10);
  EXPECT_NEAR(found.best_t0, 2461056.075, 0.01);
  EXPECT_NEAR(found.best_depth, 0.01, 0.004);
  for (const int i : {0, 1, 3, 4}) {
    EXPECT_TRUE(one.curves[i].searched);
    EXPECT_LT(one.curves[i].transit.ln_bayes_factor, found.ln_bayes_factor - 10) << i;
  }
  EXPECT_FALSE(one.curves[5].searched) << "15 points, under 20";
  EXPECT_EQ(one.curves[5].points, 15);
  // The same numbers on any number of threads.
  const auto two = recipes::transit_search(curves, {.threads = 2});
  for (std::size_t i = 0; i < curves.size(); ++i) {
    EXPECT_EQ(two.curves[i].transit.ln_bayes_factor, one.curves[i].transit.ln_bayes_factor) << i;
    EXPECT_EQ(two.curves[i].transit.best_t0, one.curves[i].transit.best_t0) << i;
  }
}

TEST(TransitSearchRecipe, DurationsFollowTheCadenceAndTheSpan) {
  const auto n = night(1, 0.0);  // 300 points over 0.15 d: 5 cadences = 0.0025 d, under 0.01
  const auto o = recipes::single_transit_options({n.t, n.f, n.e}, {});
  EXPECT_DOUBLE_EQ(o.min_duration_d, 0.01);
  EXPECT_DOUBLE_EQ(o.max_duration_d, 1.0 * (n.t.back() - n.t.front()));  // the whole night (issue 21)
  EXPECT_EQ(o.epochs, 48);
  EXPECT_EQ(o.durations, 8);
  EXPECT_EQ(o.noise_scales, 5);
  LightCurveData sparse{{0.0, 0.05, 0.1, 0.15}, {1, 1, 1, 1}, {1, 1, 1, 1}};  // 5 x 0.05 d
  EXPECT_DOUBLE_EQ(recipes::single_transit_options(sparse, {}).min_duration_d, 0.25);
  EXPECT_DOUBLE_EQ(recipes::single_transit_options(sparse, {}).max_duration_d, 0.5);
}

TEST(TransitSearchRecipe, AFailingCurveReachesTheCallerAndNothingToSearchIsRefused) {
  auto curves = field();
  curves[1].flux.pop_back();  // columns that do not match
  EXPECT_THROW(recipes::transit_search(curves, {.threads = 2}), std::invalid_argument);
  const std::vector<LightCurveData> short_only(3, field()[5]);
  try {
    recipes::transit_search(short_only);
    FAIL();
  } catch (const recipes::RecipeInputError& e) {
    EXPECT_STREQ(e.what(), "no light curve with 20 clean points");
  }
}

}  // namespace
}  // namespace tianyu::pipeline
