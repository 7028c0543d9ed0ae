#pragma once
// One night, one transit or none: the published single-transit model comparison, as a log
// Bayes factor. The transit model inside a window of duration d around t0 (x = 2 (t - t0) / d,
// |x| < 1) is a depth profile
//   delta(x) = A2 (x^2 - 1) + A4 (x^4 - 1),    flux = trend - delta,
// zero at the window's edges (so the flux is continuous), with the shape prior A2 < 0 and
// (A4 < 0 or -A2 / (2 A4) > 1): delta decreases monotonically from the centre to the edges, a
// U-shaped dip and nothing else. The night trend is quadratic in time. The null model is the
// trend alone. Linear parameters (trend, A2, A4) have Gaussian priors and are marginalised
// analytically; the shape prior truncates that Gaussian, its posterior and prior masses are
// bivariate-normal wedge probabilities (in log space, so a bump is told apart from a dip); t0 (uniform over the night), d (log-uniform) and the noise scale
// (log-uniform, multiplying the given errors) are marginalised on grids.
#include <span>

namespace tianyu::pipeline {

struct SingleTransitOptions {
  double min_duration_d = 0.02, max_duration_d = 0.2;  // log-uniform prior range
  int durations = 12, epochs = 120, noise_scales = 9;   // grid sizes
  double noise_scale_min = 0.5, noise_scale_max = 2.0;  // log-uniform prior on the error scale
  double depth_prior_sigma = 0.05;  // prior sigma of A2 and A4 (relative flux)
  // Partial events: the centre of a window of duration d may lie up to edge_fraction x d before
  // the first point or after the last (0: centres within the night; 0.25: at least a quarter
  // of the event, its ingress or egress, was observed).
  double edge_fraction = 0;
};

struct SingleTransitResult {
  double ln_bayes_factor = 0;  // ln p(y | transit) - ln p(y | trend only)
  double best_t0 = 0, best_duration = 0, best_depth = 0;  // the grid point of highest evidence
};

SingleTransitResult single_transit_bayes_factor(std::span<const double> time, std::span<const double> flux,
                                                std::span<const double> flux_err,
                                                const SingleTransitOptions& options = {});

}  // namespace tianyu::pipeline
