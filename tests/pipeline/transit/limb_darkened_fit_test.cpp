// The limb-darkened transit of a known planet (pipeline/transit/limb_darkened_fit.h). Known
// answers: the occulted flux in closed form (a uniform disc: k^2; a centred planet on a
// quadratic-law star: the integral over the covered disc); T14 from the orbit's geometry; a
// simulated night's mid-time and depth recovered through a baseline bent by a systematic.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "pipeline/transit/limb_darkened_fit.h"

namespace tianyu::pipeline {
namespace {

// HAT-P-32 b (Hartman et al. 2011; Wang et al. 2019).
const PlanetShape kHatP32{2.150009, 6.05, 0.12, 0.33, 0.30};

TEST(OccultedFlux, AUniformDiscLosesTheAreaCovered) {
  EXPECT_NEAR(1 - occulted_flux(0.5, 0.1, 0, 0), 0.01, 1e-5);
  EXPECT_NEAR(1 - occulted_flux(0.0, 0.15, 0, 0), 0.0225, 1e-5);
  EXPECT_DOUBLE_EQ(occulted_flux(1.2, 0.15, 0.3, 0.3), 1.0);  // beyond first contact
  // Half the planet on the limb of a uniform disc: about half its area (the limb's curvature
  // takes a little more than half: 0.00493 for k = 0.1 at z = 1, by the lens area formula).
  const double k = 0.1, z = 1.0;
  const double lens = k * k * std::acos((z * z + k * k - 1) / (2 * z * k)) + std::acos((z * z + 1 - k * k) / (2 * z)) -
                      0.5 * std::sqrt((-z + k + 1) * (z + k - 1) * (z - k + 1) * (z + k + 1));
  EXPECT_NEAR(1 - occulted_flux(z, k, 0, 0), lens / M_PI, 2e-5);
}

TEST(OccultedFlux, ACentredPlanetOnALimbDarkenedStar) {
  // Integral of I(mu) over r < k, x = r^2: K - u1 (K - S) - u2 (2K - K^2/2 - 2S), S = 2/3 (1 - (1-K)^1.5).
  const double k = 0.15, u1 = 0.4, u2 = 0.25, K = k * k;
  const double S = 2.0 / 3.0 * (1 - std::pow(1 - K, 1.5));
  const double blocked = (K - u1 * (K - S) - u2 * (2 * K - K * K / 2 - 2 * S)) / (1 - u1 / 3 - u2 / 6);
  EXPECT_NEAR(1 - occulted_flux(0, k, u1, u2), blocked, 2e-5 * blocked / K);
  EXPECT_GT(blocked, K);  // the centre is brighter than the mean: a limb-darkened transit is deeper than k^2
}

TEST(TransitDuration, HatP32bLastsThreeHoursAndAHalf) {
  EXPECT_NEAR(transit_duration_d(0.1508, kHatP32) * 24 * 60, 187.6, 1.0);  // published T14 186-188 min
}

// A night like HAT-P-32's: 140 one-minute frames, a 2.3 % transit, a baseline bent by a
// systematic (a drift s(t)), white noise of 0.4 %.
struct SimulatedNight {
  std::vector<double> t, f, e;
  BaselineRegressor drift{"y_px", {}};
};

SimulatedNight simulated_night(double mid, double k, unsigned seed) {
  SimulatedNight n;
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, 0.004);
  for (int i = 0; i < 140; ++i) {
    const double t = mid - 0.14 + i * 0.0021;
    const double s = std::pow((t - mid + 0.05) / 0.15, 2);
    n.t.push_back(t);
    n.drift.values.push_back(s);
    n.f.push_back((1.0 + 0.01 * (t - mid) + 0.02 * s) * limb_darkened_transit(t, mid, k, kHatP32) + noise(rng));
    n.e.push_back(0.004);
  }
  return n;
}

TEST(LimbDarkenedFit, RecoversMidTimeAndDepthThroughABentBaseline) {
  const double mid = 2458107.714, k = std::sqrt(0.023);
  const auto night = simulated_night(mid, k, 7);
  LimbDarkenedFitOptions o;
  o.shape = kHatP32;
  o.mid_time_guess = mid + 0.005;
  o.mid_time_window_d = 0.02;
  o.regressors = {night.drift};
  const auto fit = fit_limb_darkened_transit(night.t, night.f, night.e, o);
  ASSERT_EQ(fit.regressors.size(), 1u);  // the drift is chosen by BIC
  EXPECT_NEAR(fit.regressor_coefficients[0], 0.02, 0.003);
  EXPECT_NEAR(fit.mid_time, mid, 3 * fit.mid_time_err);
  EXPECT_LT(fit.mid_time_err, 0.0015);
  EXPECT_NEAR(fit.depth, 0.023, 3 * fit.depth_err);
  EXPECT_NEAR(fit.error_scale, 1.0, 0.15);  // the stated errors are the noise
  EXPECT_NEAR(fit.residual_rms, 0.004, 0.0006);
  EXPECT_NEAR(fit.duration * 1440, 188, 2);
  // Without the drift offered the bent baseline is left in the residuals.
  o.regressors.clear();
  EXPECT_GT(fit_limb_darkened_transit(night.t, night.f, night.e, o).residual_rms, 1.2 * fit.residual_rms);
}

TEST(LimbDarkenedFit, RefusesAnImpossibleOrbit) {
  LimbDarkenedFitOptions o;
  o.shape = {2.15, 0.5, 0.1};
  const std::vector<double> t(20, 1.0), f(20, 1.0);
  EXPECT_THROW(fit_limb_darkened_transit(t, f, {}, o), TransitFitError);
}

}  // namespace
}  // namespace tianyu::pipeline
