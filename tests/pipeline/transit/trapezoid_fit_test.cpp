// The night's transit fit against light curves with a known transit.
#include "pipeline/transit/trapezoid_fit.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace tianyu::pipeline {
namespace {

struct Curve {
  std::vector<double> t, f, e;
};

// 400 points over 0.06 d; a trapezoid of `depth` at mid 2461056.03, 0.03 d long, ingress 1/8,
// on a baseline of 1000 with a slope; Gaussian noise of `noise` (relative).
Curve make(double depth, double noise, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n01;
  Curve c;
  for (int i = 0; i < 400; ++i) {
    const double t = 2461056.0 + 0.06 * i / 399;
    const double shape = trapezoid_shape(t, 2461056.03, 0.03, 0.03 / 8);
    c.t.push_back(t);
    c.f.push_back(1000.0 * (1 + 0.02 * (t - 2461056.03)) * (1 - depth * shape) * (1 + noise * n01(rng)));
    c.e.push_back(1000.0 * noise);
  }
  return c;
}

TEST(TrapezoidFit, RecoversANoiselessTransitExactly) {
  const auto c = make(0.01, 0.0, 1);
  std::vector<double> tiny(c.e.size(), 1e-3);
  const auto fit = fit_trapezoid_transit(c.t, c.f, tiny);
  EXPECT_NEAR(fit.depth, 0.01, 0.0002);  // the baseline slope multiplies the dip: 0.06 % of it
  EXPECT_NEAR((fit.mid_time - 2461056.03) * 86400, 0.0, 15.0);
  EXPECT_NEAR(fit.duration, 0.03, 0.0008);
  EXPECT_NEAR(fit.ingress / fit.duration, 0.125, 1e-9);
}

TEST(TrapezoidFit, DepthErrorsMatchTheScatterOfRealisations) {
  std::vector<double> depth, reported;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    const auto c = make(0.01, 0.002, seed);
    const auto fit = fit_trapezoid_transit(c.t, c.f, c.e);
    depth.push_back(fit.depth);
    reported.push_back(fit.depth_err);
    EXPECT_NEAR((fit.mid_time - 2461056.03) * 1440, 0.0, 2.0) << "seed " << seed;  // minutes
  }
  double mean = 0, var = 0, err = 0;
  for (std::size_t i = 0; i < depth.size(); ++i) { mean += depth[i] / depth.size(); err += reported[i] / depth.size(); }
  for (const double d : depth) var += (d - mean) * (d - mean) / (depth.size() - 1);
  const double scatter = std::sqrt(var);
  EXPECT_NEAR(mean, 0.01, 3 * scatter / std::sqrt(depth.size()) + 1e-4);  // unbiased
  // Fitted mid-time and duration add some scatter beyond the fixed-shape error.
  EXPECT_GT(err, 0.7 * scatter);
  EXPECT_LT(err, 1.3 * scatter);
}

TEST(TrapezoidFit, AFlatCurveShowsNoSignificantTransit) {
  const auto flat = make(0.0, 0.002, 7);
  const auto dip = make(0.01, 0.002, 7);
  const auto none = fit_trapezoid_transit(flat.t, flat.f, flat.e);
  const auto found = fit_trapezoid_transit(dip.t, dip.f, dip.e);
  EXPECT_LT(none.delta_chi2, 30.0);  // the best of many trial dips in pure noise
  EXPECT_GT(found.delta_chi2, 1000.0);
  EXPECT_LT(std::abs(none.depth), 5 * none.depth_err);
}

TEST(TrapezoidFit, TooFewPointsIsAnError) {
  std::vector<double> t{1, 2, 3}, f{1, 1, 1};
  EXPECT_THROW(fit_trapezoid_transit(t, f), TransitFitError);
}

}  // namespace
}  // namespace tianyu::pipeline
