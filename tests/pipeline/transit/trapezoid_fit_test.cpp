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

// A night like HAT-P-32's: 300 frames over 0.25 d, a 2.2 % transit of 0.12 d at its middle,
// 0.3 % noise; the airmass falls and rises again (a curve the straight line cannot follow) and
// dims the target against its references by `extinction` per airmass; FWHM and the background
// wander on their own and touch nothing.
struct Night {
  std::vector<double> t, f, e;
  std::vector<BaselineRegressor> regressors;
};

Night night(double extinction, std::uint64_t seed, double depth = 0.022) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n01;
  Night n;
  std::vector<double> airmass, fwhm, background;
  double seeing = 3.0;
  for (int i = 0; i < 300; ++i) {
    const double t = 0.25 * i / 299;
    const double x = 1.02 + 8 * (t - 0.06) * (t - 0.06);
    seeing += 0.02 * n01(rng);
    const double shape = trapezoid_shape(t, 0.125, 0.12, 0.015);
    n.t.push_back(2458107.6 + t);
    n.f.push_back((1 - extinction * (x - 1)) * (1 - depth * shape) * (1 + 0.003 * n01(rng)));
    n.e.push_back(0.003);
    airmass.push_back(x);
    fwhm.push_back(seeing);
    background.push_back(100 + 5 * n01(rng));
  }
  n.regressors = {{"airmass", airmass}, {"fwhm", fwhm}, {"background", background}};
  return n;
}

TEST(TrapezoidFitBaseline, AnAirmassTrendChoosesAirmassAndRecoversTheDepth) {
  const auto n = night(0.06, 5);
  TrapezoidFitOptions o;
  o.regressors = n.regressors;
  const auto fit = fit_trapezoid_transit(n.t, n.f, n.e, o);
  ASSERT_EQ(fit.regressors, std::vector<std::string>{"airmass"});
  // The coefficient is the extinction per airmass, in normalised flux (the median's airmass is
  // ~1.1: -0.06 / (1 - 0.06 x 0.1) = -0.0604).
  EXPECT_NEAR(fit.regressor_coefficients[0], -0.0604, 0.006);
  EXPECT_NEAR(fit.depth, 0.022, 0.03 * 0.022);
  EXPECT_NEAR((fit.mid_time - 2458107.725) * 1440, 0.0, 2.0);  // minutes
  EXPECT_EQ(fit.baselines.size(), 1u + 3 + 3 + 1);  // every subset of 3 regressors
  const auto line_only = fit_trapezoid_transit(n.t, n.f, n.e);
  EXPECT_GT(std::abs(line_only.depth - 0.022), 2 * std::abs(fit.depth - 0.022));  // the line alone is biased
  EXPECT_GT(fit.baselines.front().bic - fit.bic, 10.0);  // airmass wins decisively over the line
  EXPECT_NEAR(fit.error_scale, 1.0, 0.1);  // the given errors are the truth
}

TEST(TrapezoidFitBaseline, WithoutATrendNoRegressorIsChosenAndTheDepthStands) {
  // Ten nights without a trend: BIC keeps the plain line in (nearly) all of them (a pure-noise
  // regressor beats ln 300 = 5.7 in chi2 with probability 1.7 %, three offered: ~5 %), and the
  // injected transit is recovered within 10 % whatever was chosen (no over-fitting).
  int plain = 0;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const auto n = night(0.0, 100 + seed);
    TrapezoidFitOptions o;
    o.regressors = n.regressors;
    const auto fit = fit_trapezoid_transit(n.t, n.f, n.e, o);
    plain += fit.regressors.empty();
    EXPECT_NEAR(fit.depth, 0.022, 0.1 * 0.022) << "seed " << seed;
  }
  EXPECT_GE(plain, 8);
}

TEST(TrapezoidFitBaseline, AConstantOrMismatchedRegressorIsHandled) {
  auto n = night(0.0, 9);
  TrapezoidFitOptions o;
  o.regressors = {{"x", std::vector<double>(n.t.size(), 512.0)}};  // never varies: never chosen
  const auto fit = fit_trapezoid_transit(n.t, n.f, n.e, o);
  EXPECT_TRUE(fit.regressors.empty());
  EXPECT_EQ(fit.baselines.size(), 1u);
  o.regressors = {{"airmass", {1.0, 1.1}}};
  EXPECT_THROW(fit_trapezoid_transit(n.t, n.f, n.e, o), TransitFitError);
}

TEST(TrapezoidFit, TooFewPointsIsAnError) {
  std::vector<double> t{1, 2, 3}, f{1, 1, 1};
  EXPECT_THROW(fit_trapezoid_transit(t, f), TransitFitError);
}

}  // namespace
}  // namespace tianyu::pipeline
