#pragma once
// Gaussian processes in O(N) for one-dimensional, sorted inputs (Foreman-Mackey et al. 2017,
// "celerite"): kernels that are sums of complex exponentials, here simple harmonic oscillator
// (SHO) terms, the model of stellar variability the transit search marginalises over, plus a
// white-noise diagonal. The semiseparable Cholesky factor K = L D L^T takes O(N J^2) for J
// exponential terms; so do solves, the log-likelihood and whitening (D^-1/2 L^-1 y).
#include <span>
#include <stdexcept>
#include <vector>

#include <Eigen/Dense>

#include "pipeline/failure.h"

namespace tianyu::pipeline {

class GaussianProcessError : public Failure {
 public:
  using Failure::Failure;
};

// k(tau) = S0 w0 Q exp(-w0 tau / 2Q) [cos(eta w0 tau) + sin(eta w0 tau) / (2 eta Q)],
// eta = sqrt(1 - 1/4Q^2) (Q > 1/2; the overdamped form below 1/2). S0 power, w0 angular
// frequency (rad/day), Q quality factor (1/sqrt 2: a smooth, non-periodic variability).
struct ShoTerm {
  double S0 = 0, w0 = 0, Q = 0.7071067811865476;
};

// One celerite term: a exp(-c tau) cos(d tau) + b exp(-c tau) sin(d tau).
struct CeleriteTerm {
  double a = 0, b = 0, c = 0, d = 0;
};
std::vector<CeleriteTerm> celerite_terms(const std::vector<ShoTerm>& terms);
// The kernel value at lag tau (>= 0).
double kernel_value(const std::vector<CeleriteTerm>& terms, double tau);

class CeleriteSolver {
 public:
  // Factorises K = diag(variance) + k(|t_i - t_j|) for sorted `time`. Throws when the times are
  // not sorted or K is not positive definite.
  CeleriteSolver(std::span<const double> time, std::span<const double> variance, const std::vector<ShoTerm>& terms);

  int size() const { return static_cast<int>(d_.size()); }
  // ln N(y | 0, K).
  double log_likelihood(std::span<const double> y) const;
  // K^-1 y.
  std::vector<double> solve(std::span<const double> y) const;
  // D^-1/2 L^-1 y: y^T K^-1 x = whiten(y) . whiten(x).
  std::vector<double> whiten(std::span<const double> y) const;
  double log_determinant() const;
  // whiten() of the vector that is 1 on [first, last) and 0 elsewhere, as (index, value) from
  // `first` until the factor's memory of the box has decayed below `tolerance` (relative): the
  // O(box + memory) step of the transit search.
  void whiten_box(int first, int last, std::vector<double>& out, int& out_first, double tolerance = 1e-9) const;
  // L D^1/2 z: for z of independent unit normals, a draw from N(0, K) (simulations).
  std::vector<double> sample(std::span<const double> z) const;

 private:
  int j2_ = 0;
  std::vector<double> d_;  // D
  Eigen::MatrixXd u_, w_, phi_;  // N x J2 (rows: U~_n, W_n, phi_n)
};

}  // namespace tianyu::pipeline
