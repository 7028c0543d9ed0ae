#pragma once
// The standard bivariate normal distribution function P(Z1 < a, Z2 < b) for correlation rho,
// by Genz's (2004) Gauss-Legendre form of Drezner & Wesolowsky's integral: 6 to 20 nodes and
// an absolute error near 1e-15, where the single-transit search's wedge probabilities had
// taken a 241-point integral in log space (issue 17: 4/5 of the night's transit search).
// Absolute accuracy is what it gives: a caller that needs ln P far in the tail (P < 1e-6)
// integrates in log space instead.

namespace tianyu::pipeline {

double bivariate_normal_cdf(double a, double b, double rho);

// ln P(Z1 < a, Z2 < b) where P is too small for the function above (P < 1e-6): the trapezoid
// rule on 240 intervals over z in [min(a, 0) - 12, a] of phi(z) Phi((b - rho z) / sqrt(1 - rho^2)),
// each node's term and their sum in log space, so that P ~ 1e-100 (a bump in the single-transit
// search) is still told apart from P ~ 1e-10. |rho| < 1.
double log_bivariate_normal_cdf_tail(double a, double b, double rho);

}  // namespace tianyu::pipeline
