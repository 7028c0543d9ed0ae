#include "pipeline/transit/celerite.h"

#include <cmath>
#include <numbers>

namespace tianyu::pipeline {

std::vector<CeleriteTerm> celerite_terms(const std::vector<ShoTerm>& terms) {
  std::vector<CeleriteTerm> out;
  for (const auto& t : terms) {
    if (!(t.S0 > 0 && t.w0 > 0 && t.Q > 0)) throw GaussianProcessError("SHO terms need S0, w0 and Q > 0");
    if (t.Q >= 0.5) {
      const double f = std::sqrt(std::max(4 * t.Q * t.Q - 1, 1e-300));
      out.push_back({t.S0 * t.w0 * t.Q, t.S0 * t.w0 * t.Q / f, 0.5 * t.w0 / t.Q, 0.5 * t.w0 * f / t.Q});
    } else {
      const double f = std::sqrt(1 - 4 * t.Q * t.Q);
      out.push_back({0.5 * t.S0 * t.w0 * t.Q * (1 + 1 / f), 0, 0.5 * t.w0 / t.Q * (1 - f), 0});
      out.push_back({0.5 * t.S0 * t.w0 * t.Q * (1 - 1 / f), 0, 0.5 * t.w0 / t.Q * (1 + f), 0});
    }
  }
  return out;
}

double kernel_value(const std::vector<CeleriteTerm>& terms, double tau) {
  double k = 0;
  for (const auto& t : terms) k += std::exp(-t.c * tau) * (t.a * std::cos(t.d * tau) + t.b * std::sin(t.d * tau));
  return k;
}

CeleriteSolver::CeleriteSolver(std::span<const double> time, std::span<const double> variance,
                               const std::vector<ShoTerm>& sho) {
  const auto terms = celerite_terms(sho);
  const int n = static_cast<int>(time.size());
  if (variance.size() != time.size()) throw GaussianProcessError("time and variance differ in length");
  j2_ = 2 * static_cast<int>(terms.size());
  d_.assign(n, 0.0);
  u_.setZero(n, j2_);
  w_.setZero(n, j2_);
  phi_.setZero(n, j2_);
  if (n == 0) return;
  const double t0 = time[0];  // cos(d t) at t ~ 2.46e6 days would lose its digits
  Eigen::RowVectorXd v(j2_);
  Eigen::MatrixXd s = Eigen::MatrixXd::Zero(j2_, j2_);
  double sum_a = 0;
  for (const auto& t : terms) sum_a += t.a;
  for (int i = 0; i < n; ++i) {
    if (i > 0 && !(time[i] >= time[i - 1])) throw GaussianProcessError("times must be sorted");
    const double t = time[i] - t0;
    for (std::size_t j = 0; j < terms.size(); ++j) {
      const auto& k = terms[j];
      const double cd = std::cos(k.d * t), sd = std::sin(k.d * t);
      u_(i, 2 * j) = k.a * cd + k.b * sd;
      u_(i, 2 * j + 1) = k.a * sd - k.b * cd;
      v(2 * j) = cd;
      v(2 * j + 1) = sd;
      const double decay = i > 0 ? std::exp(-k.c * (time[i] - time[i - 1])) : 0.0;
      phi_(i, 2 * j) = phi_(i, 2 * j + 1) = decay;
    }
    if (i > 0) {
      s.noalias() += d_[i - 1] * w_.row(i - 1).transpose() * w_.row(i - 1);
      s = phi_.row(i).transpose().asDiagonal() * s * phi_.row(i).asDiagonal();
    }
    const Eigen::RowVectorXd us = u_.row(i) * s;
    d_[i] = variance[i] + sum_a - us.dot(u_.row(i));
    if (!(d_[i] > 0)) throw GaussianProcessError("the covariance matrix is not positive definite");
    w_.row(i) = (v - us) / d_[i];
  }
}

std::vector<double> CeleriteSolver::whiten(std::span<const double> y) const {
  const int n = size();
  if (static_cast<int>(y.size()) != n) throw GaussianProcessError("y has the wrong length");
  std::vector<double> z(n);
  Eigen::RowVectorXd f = Eigen::RowVectorXd::Zero(j2_);
  double previous = 0;
  for (int i = 0; i < n; ++i) {
    if (i > 0) f = (f + previous * w_.row(i - 1)).cwiseProduct(phi_.row(i));
    previous = y[i] - u_.row(i).dot(f);
    z[i] = previous;
  }
  for (int i = 0; i < n; ++i) z[i] /= std::sqrt(d_[i]);
  return z;
}

std::vector<double> CeleriteSolver::solve(std::span<const double> y) const {
  const int n = size();
  auto z = whiten(y);
  for (int i = 0; i < n; ++i) z[i] /= std::sqrt(d_[i]);  // D^-1 L^-1 y
  std::vector<double> x(n);
  Eigen::RowVectorXd g = Eigen::RowVectorXd::Zero(j2_);
  for (int i = n - 1; i >= 0; --i) {
    if (i < n - 1) g = (g + x[i + 1] * u_.row(i + 1)).cwiseProduct(phi_.row(i + 1));
    x[i] = z[i] - w_.row(i).dot(g);
  }
  return x;
}

std::vector<double> CeleriteSolver::sample(std::span<const double> z) const {
  const int n = size();
  if (static_cast<int>(z.size()) != n) throw GaussianProcessError("z has the wrong length");
  std::vector<double> y(n);
  Eigen::RowVectorXd f = Eigen::RowVectorXd::Zero(j2_);
  double previous = 0;
  for (int i = 0; i < n; ++i) {
    if (i > 0) f = (f + previous * w_.row(i - 1)).cwiseProduct(phi_.row(i));
    previous = std::sqrt(d_[i]) * z[i];
    y[i] = previous + u_.row(i).dot(f);
  }
  return y;
}

double CeleriteSolver::log_determinant() const {
  double s = 0;
  for (const double v : d_) s += std::log(v);
  return s;
}

double CeleriteSolver::log_likelihood(std::span<const double> y) const {
  const auto z = whiten(y);
  double chi2 = 0;
  for (const double v : z) chi2 += v * v;
  return -0.5 * (chi2 + log_determinant() + size() * std::log(2 * std::numbers::pi));
}

void CeleriteSolver::whiten_box(int first, int last, std::vector<double>& out, int& out_first, double tolerance) const {
  out.clear();
  out_first = first;
  const int n = size();
  Eigen::RowVectorXd f = Eigen::RowVectorXd::Zero(j2_);
  double previous = 0, peak = 0;
  for (int i = first; i < n; ++i) {
    if (i > first) f = (f + previous * w_.row(i - 1)).cwiseProduct(phi_.row(i));
    // After the box every value is -U_i f / sqrt(D_i), bounded by |f| |U_i| / sqrt(D_i): once
    // the bound is below tolerance the kernel has forgotten the box.
    if (i >= last && f.norm() * u_.row(i).norm() <= tolerance * peak * std::sqrt(d_[i])) break;
    const double m = i < last ? 1.0 : 0.0;
    previous = m - u_.row(i).dot(f);
    out.push_back(previous / std::sqrt(d_[i]));
    peak = std::max(peak, std::abs(out.back()));
  }
}

}  // namespace tianyu::pipeline
