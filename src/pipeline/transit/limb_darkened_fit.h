#pragma once
// A known planet's transit in one night: the limb-darkened model (quadratic law, the
// Mandel & Agol 2002 occultation computed by integrating the occulted annuli numerically) on a
// multiplicative baseline, flux = transit(t; t_mid, k) x (a + b (t - t_c) + sum_j c_j r_j).
// The orbit's shape (period, a/R*, impact parameter) and the limb darkening are the planet's,
// from the literature: only the mid-time and the radius ratio k are fitted, with the baseline.
// Why: on a real night the systematics (airmass, the field's drift) bend the baseline under a
// transit, and a trapezoid free in duration and ingress trades them against its depth (HAT-P-32:
// 206 min and 2.96 % against the planet's 186 min and 2.27 %). With the shape fixed the depth
// can only be what the baseline leaves. The baseline's systematics are chosen by BIC as in
// trapezoid_fit.h, with the transit refitted for every set tried.
#include <span>
#include <string>
#include <vector>

#include "pipeline/transit/trapezoid_fit.h"

namespace tianyu::pipeline {

struct PlanetShape {
  double period_d = 0;
  double a_over_rstar = 0;   // semi-major axis over the star's radius
  double impact = 0;         // b = a cos i / R*
  double u1 = 0.33, u2 = 0.30;  // quadratic limb darkening: Claret (2011), R band, Teff 6250 K, log g 4.5
};

// The star's flux, relative to unocculted, when a planet of radius ratio k sits at sky
// separation z (stellar radii) from its centre.
double occulted_flux(double z, double k, double u1, double u2);

// The model transit at time t (1 out of transit).
double limb_darkened_transit(double t, double mid_time, double k, const PlanetShape& shape);

// T14, the first to last contact (days).
double transit_duration_d(double k, const PlanetShape& shape);

struct LimbDarkenedFitOptions {
  PlanetShape shape;
  double mid_time_guess = 0;  // 0: searched over the night
  double mid_time_window_d = 0;  // searched within +- this of the guess (0: the night)
  std::vector<BaselineRegressor> regressors;
  int max_regressors = 3;
};

struct LimbDarkenedFit {
  double mid_time = 0, mid_time_err = 0;
  double radius_ratio = 0, radius_ratio_err = 0;
  double depth = 0, depth_err = 0;  // k^2, the planet's disc over the star's
  double duration = 0;              // T14 of the model (days)
  double residual_rms = 0;          // relative, per point
  double error_scale = 1;           // residual scatter over the stated errors
  double chi2 = 0, bic = 0;         // chi2 with the stated errors
  int points = 0;
  std::vector<std::string> regressors;
  std::vector<double> regressor_coefficients;  // relative flux per unit of the regressor
  std::vector<BaselineChoice> baselines;       // every set tried, at the final transit
};

LimbDarkenedFit fit_limb_darkened_transit(std::span<const double> time, std::span<const double> flux,
                                          std::span<const double> flux_err, const LimbDarkenedFitOptions& options);

}  // namespace tianyu::pipeline
