#pragma once
// A single transit in a night's light curve: a trapezoid (a box when the ingress is 0) on a
// baseline, fitted by least squares. The baseline is a straight line in time plus, when the
// caller offers per-frame systematics (airmass, FWHM, background, transparency, x/y), a linear
// combination of a subset of them: normalised flux = a + b (t - t_c) + sum_k c_k r_k - depth
// shape, additive in the normalised flux, i.e. the first order of a multiplicative baseline
// (trends of a few per cent). The subset is chosen by the Bayesian information criterion
//   BIC = n ln(chi2 / n) + k ln n,
// chi2 with the given errors and k the free parameters: the likelihood with the errors' common
// scale fitted, so a night whose errors are off by a factor still chooses by the data. Every
// subset of up to max_regressors is tried (exhaustive: a handful of regressors) at the transit
// of the line-only fit, the best is refitted, and the choice is checked again at the new transit.
// Mid-time, duration and ingress are searched on a grid and then a finer one around the best;
// baseline and depth are linear and solved exactly at every grid point, so the fit cannot land in
// a local minimum of the linear part. This is what an observer fits to check a night (depth,
// mid-time, as EXOTIC does with airmass); the search for unknown transits is the
// transit-search issue's.
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "pipeline/failure.h"

namespace tianyu::pipeline {

class TransitFitError : public Failure {
 public:
  using Failure::Failure;
};

// A per-frame systematic offered to the baseline: one value per input point, in the input order.
struct BaselineRegressor {
  std::string name;  // "airmass", "fwhm", "background", "transparency", "x", "y", ...
  std::vector<double> values;
};

// Regressors over the kept points (`order`, indices into each regressor's values), each
// centred and scaled by its spread so the baseline's normal equations stay well conditioned;
// one that does not vary becomes zeros with scale 0 (the fits leave it out).
struct StandardisedRegressors {
  std::vector<std::vector<double>> values;  // [regressor][kept point]
  std::vector<double> scale;                // each one's raw spread (0: it does not vary)
  std::vector<std::string> names;
};
StandardisedRegressors standardised_regressors(const std::vector<BaselineRegressor>& regressors,
                                               const std::vector<std::size_t>& order);

struct TrapezoidFitOptions {
  double min_duration_d = 0;  // 0: 4 cadences
  double max_duration_d = 0;  // 0: 80 % of the span
  std::vector<double> ingress_fractions{0.0, 0.125, 0.25};  // ingress / duration
  int min_points_out = 5;     // on each side together, outside the transit
  // Offered to the baseline (a point where an offered regressor is not finite is left out); a
  // regressor that does not vary over the usable points is never chosen.
  std::vector<BaselineRegressor> regressors;
  int max_regressors = 3;     // the largest subset tried
};

// One baseline tried: its regressors and its BIC at the final transit.
struct BaselineChoice {
  std::vector<std::string> regressors;
  double chi2 = 0;  // with the given errors
  double bic = 0;
  int parameters = 0;
};

struct TrapezoidFit {
  double mid_time = 0, duration = 0, ingress = 0;  // days
  double depth = 0, depth_err = 0;                 // fraction of the baseline
  double baseline = 0, slope_per_day = 0;          // of the normalised flux, at mid-time
  double chi2 = 0;                                 // with errors scaled to the residual scatter
  double residual_rms = 0;                         // relative
  int points = 0, points_in_transit = 0;
  // Null hypothesis: the baseline alone; delta_chi2 = chi2(baseline) - chi2(transit).
  double delta_chi2 = 0;
  // The baseline's regressors, chosen by BIC, with their coefficients (normalised flux per unit
  // of the regressor), and every subset tried (empty when none was offered).
  std::vector<std::string> regressors;
  std::vector<double> regressor_coefficients;
  std::vector<BaselineChoice> baselines;
  double bic = 0;
  // The ratio of the residual scatter to the given errors (1 when they match: sqrt of the
  // reduced chi2 before scaling).
  double error_scale = 1;
};

// Fits finite points of (time, flux, flux_err); flux_err may be empty (equal weights).
TrapezoidFit fit_trapezoid_transit(std::span<const double> time, std::span<const double> flux,
                                   std::span<const double> flux_err = {}, const TrapezoidFitOptions& options = {});

// The trapezoid's shape at time t: 0 outside, 1 at full depth.
double trapezoid_shape(double t, double mid_time, double duration, double ingress);

}  // namespace tianyu::pipeline
