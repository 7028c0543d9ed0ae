#pragma once
// A single transit in a night's light curve: a trapezoid (a box when the ingress is 0) times a
// straight-line baseline, fitted by least squares. Mid-time, duration and ingress are searched
// on a grid and then a finer one around the best; baseline and depth are linear and solved
// exactly at every grid point, so the fit cannot land in a local minimum of the linear part.
// This is what an observer fits to check a night (depth, mid-time); the search for unknown
// transits is the transit-search issue's.
#include <span>
#include <stdexcept>
#include <vector>

#include "pipeline/failure.h"

namespace tianyu::pipeline {

class TransitFitError : public Failure {
 public:
  using Failure::Failure;
};

struct TrapezoidFitOptions {
  double min_duration_d = 0;  // 0: 4 cadences
  double max_duration_d = 0;  // 0: 80 % of the span
  std::vector<double> ingress_fractions{0.0, 0.125, 0.25};  // ingress / duration
  int min_points_out = 5;     // on each side together, outside the transit
};

struct TrapezoidFit {
  double mid_time = 0, duration = 0, ingress = 0;  // days
  double depth = 0, depth_err = 0;                 // fraction of the baseline
  double baseline = 0, slope_per_day = 0;          // of the normalised flux
  double chi2 = 0;                                 // with errors scaled to the residual scatter
  double residual_rms = 0;                         // relative
  int points = 0, points_in_transit = 0;
  // Null hypothesis: the straight line alone; delta_chi2 = chi2(line) - chi2(transit).
  double delta_chi2 = 0;
};

// Fits finite points of (time, flux, flux_err); flux_err may be empty (equal weights).
TrapezoidFit fit_trapezoid_transit(std::span<const double> time, std::span<const double> flux,
                                   std::span<const double> flux_err = {}, const TrapezoidFitOptions& options = {});

// The trapezoid's shape at time t: 0 outside, 1 at full depth.
double trapezoid_shape(double t, double mid_time, double duration, double ingress);

}  // namespace tianyu::pipeline
