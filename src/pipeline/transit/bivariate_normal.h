#pragma once
// The standard bivariate normal distribution function P(Z1 < a, Z2 < b) for correlation rho,
// by Genz's (2004) Gauss-Legendre form of Drezner & Wesolowsky's integral: 6 to 20 nodes and
// an absolute error near 1e-15, where the single-transit search's wedge probabilities had
// taken a 241-point integral in log space (issue 17: 4/5 of the night's transit search).
// Absolute accuracy is what it gives: a caller that needs ln P far in the tail (P < 1e-6)
// integrates in log space instead.

namespace tianyu::pipeline {

double bivariate_normal_cdf(double a, double b, double rho);

}  // namespace tianyu::pipeline
