#pragma once
// Whether a light curve's error bars match its scatter: the reduced chi2 of a constant star's
// curve against a constant. About 1 when they match, (true / stated)^2 otherwise: 0.25 for
// errors twice the scatter, 12 for errors 3.5 x too small.
#include <span>
#include <vector>

namespace tianyu::pipeline {

// sum ((v - mean_w) / e)^2 / (n - 1) over the points where v and e > 0 are finite, mean_w the
// inverse-variance weighted mean; NaN under 2 points.
double reduced_chi2_against_constant(std::span<const double> values, std::span<const double> errors);

// The same with points more than `clip_sigma` (in their own errors, about the weighted mean,
// iterated) left out, so that one cosmic ray does not decide an observation's verdict.
double clipped_reduced_chi2_against_constant(std::span<const double> values, std::span<const double> errors,
                                             double clip_sigma = 5.0);

}  // namespace tianyu::pipeline
