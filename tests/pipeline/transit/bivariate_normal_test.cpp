// The bivariate normal distribution function against its closed forms (rho = 0; a = b = 0,
// Sheppard's 1/4 + asin(rho) / 2 pi; rho -> +-1) and against the defining integral
// P = int_{-inf}^{a} phi(z) Phi((b - rho z) / sqrt(1 - rho^2)) dz by Simpson's rule on 40,000
// intervals, over the correlations of all three of its branches and into the tails.
#include "pipeline/transit/bivariate_normal.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include <gtest/gtest.h>

namespace tianyu::pipeline {
namespace {

double phi(double z) { return std::exp(-0.5 * z * z) / std::sqrt(2 * std::numbers::pi); }
double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::numbers::sqrt2); }

double by_simpson(double a, double b, double rho) {
  const int intervals = 40000;
  const double lo = std::min(a, 0.0) - 14, h = (a - lo) / intervals, q = std::sqrt(1 - rho * rho);
  double sum = 0;
  for (int k = 0; k <= intervals; ++k) {
    const double z = lo + k * h;
    const double weight = (k == 0 || k == intervals) ? 1 : (k % 2 ? 4 : 2);
    sum += weight * phi(z) * normal_cdf((b - rho * z) / q);
  }
  return sum * h / 3;
}

TEST(BivariateNormal, IndependentVariablesMultiply) {
  for (const double a : {-3.0, -0.5, 0.0, 1.2}) {
    for (const double b : {-2.0, 0.3, 2.5}) {
      EXPECT_NEAR(bivariate_normal_cdf(a, b, 0.0), normal_cdf(a) * normal_cdf(b), 1e-15);
    }
  }
}

TEST(BivariateNormal, TheOrthantIsSheppards) {
  for (const double rho : {-0.99, -0.93, -0.6, -0.2, 0.1, 0.5, 0.8, 0.95, 0.999}) {
    EXPECT_NEAR(bivariate_normal_cdf(0, 0, rho), 0.25 + std::asin(rho) / (2 * std::numbers::pi), 1e-14) << rho;
  }
}

TEST(BivariateNormal, NearlyPerfectCorrelationIsTheSmallerMarginal) {
  EXPECT_NEAR(bivariate_normal_cdf(0.4, -0.7, 0.9999999), normal_cdf(-0.7), 1e-6);
  // rho -> -1: both below only if a > -b, with probability Phi(a) + Phi(b) - 1.
  EXPECT_NEAR(bivariate_normal_cdf(1.1, 0.2, -0.9999999), normal_cdf(1.1) + normal_cdf(0.2) - 1, 1e-6);
  EXPECT_NEAR(bivariate_normal_cdf(-0.3, 0.2, -0.9999999), 0.0, 1e-6);
}

TEST(BivariateNormal, MatchesItsIntegralOnEveryBranch) {
  // |rho| < 0.3, < 0.75, < 0.925 and the strong-correlation expansion, both signs.
  for (const double rho : {-0.999, -0.95, -0.8, -0.5, -0.1, 0.2, 0.5, 0.8, 0.93, 0.99, 0.999}) {
    for (const double a : {-6.0, -2.5, -0.7, 0.0, 0.9, 3.0, 6.0}) {
      for (const double b : {-5.0, -1.5, 0.0, 0.4, 2.2, 7.0}) {
        const double p = bivariate_normal_cdf(a, b, rho), expected = by_simpson(a, b, rho);
        EXPECT_NEAR(p, expected, 2e-13) << "a " << a << " b " << b << " rho " << rho;
      }
    }
  }
}

TEST(BivariateNormal, InfiniteLimitsAreTheMarginals) {
  EXPECT_EQ(bivariate_normal_cdf(-INFINITY, 0.5, 0.3), 0.0);
  EXPECT_NEAR(bivariate_normal_cdf(INFINITY, 0.5, 0.3), normal_cdf(0.5), 1e-16);
  EXPECT_NEAR(bivariate_normal_cdf(-1.0, INFINITY, -0.6), normal_cdf(-1.0), 1e-16);
}

// The log-space tail integral as first written (issue 17): one logarithm per node for its
// weight, ln Phi always through erfc, every exponential of the sum called. The library's
// version skips work that cannot change a bit; it must agree with this to the last bit.
double log_sum_exp(const std::vector<double>& v) {
  const double m = *std::max_element(v.begin(), v.end());
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (const double x : v) s += std::exp(x - m);
  return m + std::log(s);
}

double log_normal_cdf(double x) {
  if (x > -30) return std::log(0.5 * std::erfc(-x / std::numbers::sqrt2));
  return -0.5 * x * x - std::log(-x) - 0.5 * std::log(2 * std::numbers::pi);
}

double tail_by_definition(double c1, double c2, double rho) {
  const double q = std::sqrt(1 - rho * rho);
  const int steps = 240;
  const double lo = std::min(c1, 0.0) - 12, hi = c1, h = (hi - lo) / steps;
  std::vector<double> terms;
  for (int k = 0; k <= steps; ++k) {
    const double z = lo + k * h;
    const double w = (k == 0 || k == steps) ? 0.5 : 1.0;
    terms.push_back(std::log(w * h) - 0.5 * z * z - 0.5 * std::log(2 * std::numbers::pi) +
                    log_normal_cdf((c2 - rho * z) / q));
  }
  return log_sum_exp(terms);
}

TEST(BivariateNormalTail, IsTheLogSpaceIntegralToTheLastBit) {
  int compared = 0;
  for (const double rho : {-0.999999, -0.97, -0.6, -0.1, 0.0, 0.3, 0.8, 0.99, 0.999999}) {
    for (double a = -80; a <= 2; a += 0.37) {
      for (double b = -60; b <= 40; b += 1.3) {
        const double fast = log_bivariate_normal_cdf_tail(a, b, rho), slow = tail_by_definition(a, b, rho);
        if (fast != slow) {  // a bitwise comparison (NaN never arises here)
          ADD_FAILURE() << "a " << a << " b " << b << " rho " << rho << ": " << fast << " != " << slow;
          return;
        }
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 9 * 222 * 77);
  // Where P is still large enough for the direct function, the two agree to the 240-interval
  // rule's accuracy (a known answer: under 1 % in P).
  EXPECT_NEAR(log_bivariate_normal_cdf_tail(-2.0, 1.0, 0.4), std::log(bivariate_normal_cdf(-2.0, 1.0, 0.4)), 1e-2);
  EXPECT_NEAR(log_bivariate_normal_cdf_tail(-5.0, -4.0, 0.9), std::log(bivariate_normal_cdf(-5.0, -4.0, 0.9)), 1e-2);
}

TEST(BivariateNormalTail, TheSkippedCallsAreExactlyWhatTheyWouldReturn) {
  // erfc of an argument <= -6 is 2 (so ln Phi is 0), exp below -746 is +0.
  for (double y = -6; y > -1e6; y *= 1.01) EXPECT_EQ(std::erfc(y), 2.0) << y;
  EXPECT_EQ(std::erfc(-INFINITY), 2.0);
  for (double d = -746; d > -1e6; d *= 1.001) EXPECT_EQ(std::exp(d), 0.0) << d;
  EXPECT_EQ(std::exp(-INFINITY), 0.0);
  EXPECT_LT(std::erfc(-5.0), 2.0);  // the thresholds are not far from where it starts
  EXPECT_GT(std::exp(-745.0), 0.0);
}

}  // namespace
}  // namespace tianyu::pipeline
