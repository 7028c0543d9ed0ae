#include "pipeline/robust_stats.h"
#include "pipeline/transit/single_transit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <vector>

#include <Eigen/Dense>

namespace tianyu::pipeline {
namespace {

double log_sum_exp(const std::vector<double>& v) {
  const double m = *std::max_element(v.begin(), v.end());
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (const double x : v) s += std::exp(x - m);
  return m + std::log(s);
}

// ln Phi(x), accurate far into the lower tail.
double log_normal_cdf(double x) {
  if (x > -30) return std::log(0.5 * std::erfc(-x / std::numbers::sqrt2));
  return -0.5 * x * x - std::log(-x) - 0.5 * std::log(2 * std::numbers::pi);
}

// The shape prior's region: A2 < 0 and (A4 < 0 or -A2 / 2A4 > 1), which is the wedge
// {A2 < 0} and {A2 + 2 A4 < 0}. ln P(a in it) for a ~ N(mean, cov): with L1 = A2 and
// L2 = A2 + 2 A4 (jointly normal), P = integral over z < c1 of phi(z) Phi((c2 - rho z) / sqrt(1 - rho^2)),
// evaluated in log space so that a bump (P ~ 1e-100) is still told apart from a dip.
double log_dip_probability(const Eigen::Vector2d& mean, const Eigen::Matrix2d& cov) {
  const Eigen::Vector2d g1(1, 0), g2(1, 2);
  const double m1 = g1.dot(mean), m2 = g2.dot(mean);
  const double s1 = std::sqrt(g1.dot(cov * g1)), s2 = std::sqrt(g2.dot(cov * g2));
  const double rho = std::clamp(g1.dot(cov * g2) / (s1 * s2), -0.999999, 0.999999);
  const double c1 = -m1 / s1, c2 = -m2 / s2, q = std::sqrt(1 - rho * rho);
  // Deep inside the wedge: P = 1 - (mass beyond either edge), to well under 1e-12.
  if (c1 > 8 && c2 > 8) return std::log1p(-0.5 * std::erfc(c1 / std::numbers::sqrt2) - 0.5 * std::erfc(c2 / std::numbers::sqrt2));
  // The integrand phi(z) Phi(...) lives within a dozen sigma below its upper end (or below 0).
  const int steps = 240;
  const double lo = std::min(c1, 0.0) - 12, hi = c1, h = (hi - lo) / steps;
  std::vector<double> terms;
  terms.reserve(steps + 1);
  for (int k = 0; k <= steps; ++k) {
    const double z = lo + k * h;
    const double w = (k == 0 || k == steps) ? 0.5 : 1.0;
    terms.push_back(std::log(w * h) - 0.5 * z * z - 0.5 * std::log(2 * std::numbers::pi) + log_normal_cdf((c2 - rho * z) / q));
  }
  return log_sum_exp(terms);
}

// ln N(y | 0, S + X L X^T) for S = s2 * diag(e2), prior L = diag(prior_var), by Woodbury; also
// the posterior mean and covariance of the coefficients.
double log_evidence(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const Eigen::VectorXd& e2, double s2,
                    const Eigen::VectorXd& prior_var, Eigen::VectorXd* mean, Eigen::MatrixXd* cov) {
  const Eigen::VectorXd w = (s2 * e2).cwiseInverse();
  Eigen::MatrixXd a = x.transpose() * w.asDiagonal() * x;
  a.diagonal() += prior_var.cwiseInverse();
  const Eigen::VectorXd b = x.transpose() * w.cwiseProduct(y);
  const Eigen::LLT<Eigen::MatrixXd> llt(a);
  const Eigen::VectorXd m = llt.solve(b);
  const double quad = y.dot(w.cwiseProduct(y)) - b.dot(m);
  const double log_det_a = 2 * Eigen::MatrixXd(llt.matrixL()).diagonal().array().log().sum();
  const double log_det = -w.array().log().sum() + prior_var.array().log().sum() + log_det_a;
  if (mean) *mean = m;
  if (cov) *cov = llt.solve(Eigen::MatrixXd::Identity(a.rows(), a.cols()));
  return -0.5 * (quad + log_det + y.size() * std::log(2 * std::numbers::pi));
}

// The night as the models see it: y = flux / median - 1, its error variances, the quadratic
// trend's columns (time scaled to the span), and the Gaussian priors of the linear parameters.
struct Night {
  int n = 0;
  double span = 0;
  Eigen::VectorXd y, e2;
  Eigen::MatrixXd trend;
  Eigen::VectorXd trend_prior, full_prior;  // (trend), (trend, A2, A4)
};

Night prepare(std::span<const double> time, std::span<const double> flux, std::span<const double> flux_err,
              const SingleTransitOptions& o) {
  Night night;
  const int n = night.n = static_cast<int>(time.size());
  if (n < 10 || flux.size() != time.size() || (!flux_err.empty() && flux_err.size() != time.size())) {
    throw std::invalid_argument("single_transit_bayes_factor: at least 10 points, with matching columns");
  }
  std::vector<double> f(flux.begin(), flux.end());
  const double median = median_in_place(f);
  const double t_mid = 0.5 * (time.front() + time.back());
  night.span = std::max(time.back() - time.front(), 1e-6);
  night.y.resize(n);
  night.e2.resize(n);
  night.trend.resize(n, 3);
  double mean_err2 = 0;
  for (int i = 0; i < n; ++i) {
    night.y(i) = flux[i] / median - 1;
    const double e = flux_err.empty() ? 1.0 : flux_err[i] / median;
    night.e2(i) = e * e;
    mean_err2 += e * e / n;
    const double u = (time[i] - t_mid) / night.span;
    night.trend.row(i) << 1.0, u, u * u;
  }
  if (flux_err.empty()) {  // no errors: the point-to-point scatter sets the scale
    double d2 = 0;
    for (int i = 1; i < n; ++i) d2 += (night.y(i) - night.y(i - 1)) * (night.y(i) - night.y(i - 1)) / (2.0 * (n - 1));
    night.e2.setConstant(d2);
    mean_err2 = d2;
  }
  const double y_scale = std::sqrt(std::max(mean_err2, (night.y.array() - night.y.mean()).square().mean()));
  night.trend_prior = Eigen::VectorXd::Constant(3, std::pow(10 * y_scale + 0.01, 2));
  night.full_prior.resize(5);
  night.full_prior << night.trend_prior, Eigen::VectorXd::Constant(2, o.depth_prior_sigma * o.depth_prior_sigma);
  return night;
}

// The noise scales, log-uniform from noise_scale_min to noise_scale_max.
std::vector<double> noise_scales(const SingleTransitOptions& o) {
  std::vector<double> scales;
  for (int k = 0; k < o.noise_scales; ++k) {
    scales.push_back(o.noise_scale_min * std::pow(o.noise_scale_max / o.noise_scale_min,
                                                  o.noise_scales > 1 ? k / (o.noise_scales - 1.0) : 0.0));
  }
  return scales;
}

// The transit columns of x for the window (t0, d); returns how many points it holds.
int fill_window(Eigen::MatrixXd& x, std::span<const double> time, double t0, double d) {
  int in_window = 0;
  for (int i = 0; i < static_cast<int>(time.size()); ++i) {
    const double xi = 2 * (time[i] - t0) / d;
    const bool in = std::abs(xi) < 1;
    in_window += in;
    // flux = trend - delta: the columns are -(x^2 - 1) and -(x^4 - 1).
    x(i, 3) = in ? -(xi * xi - 1) : 0.0;
    x(i, 4) = in ? -(xi * xi * xi * xi - 1) : 0.0;
  }
  return in_window;
}

}  // namespace

SingleTransitResult single_transit_bayes_factor(std::span<const double> time, std::span<const double> flux,
                                                std::span<const double> flux_err, const SingleTransitOptions& o) {
  const auto night = prepare(time, flux, flux_err, o);
  const auto scales = noise_scales(o);
  // The null model: the trend, over the noise scale.
  std::vector<double> null_terms;
  for (const double s : scales) {
    null_terms.push_back(log_evidence(night.trend, night.y, night.e2, s * s, night.trend_prior, nullptr, nullptr));
  }
  const double ln_z0 = log_sum_exp(null_terms) - std::log(static_cast<double>(scales.size()));
  // The shape prior's mass under the Gaussian prior of (A2, A4), the same for every window.
  const double ln_prior_mass = log_dip_probability(Eigen::Vector2d::Zero(), Eigen::Matrix2d::Identity() * night.full_prior(3));
  SingleTransitResult r;
  double best = -std::numeric_limits<double>::infinity();
  std::vector<double> terms;
  Eigen::MatrixXd x(night.n, 5);
  x.leftCols(3) = night.trend;
  for (int di = 0; di < o.durations; ++di) {
    const double d = o.min_duration_d * std::pow(o.max_duration_d / o.min_duration_d,
                                                 o.durations > 1 ? di / (o.durations - 1.0) : 0.0);
    for (int ti = 0; ti < o.epochs; ++ti) {
      const double first = time.front() - o.edge_fraction * d, range = night.span + 2 * o.edge_fraction * d;
      const double t0 = first + range * (ti + 0.5) / o.epochs;
      const int in_window = fill_window(x, time, t0, d);
      for (const double s : scales) {
        if (in_window < 3) {  // a window over no data leaves the trend alone
          terms.push_back(log_evidence(night.trend, night.y, night.e2, s * s, night.trend_prior, nullptr, nullptr));
          continue;
        }
        Eigen::VectorXd mean;
        Eigen::MatrixXd cov;
        const double ln_z = log_evidence(x, night.y, night.e2, s * s, night.full_prior, &mean, &cov);
        // The truncation: posterior mass of the monotone-dip region over its prior mass.
        const double term = ln_z + log_dip_probability(mean.tail(2), cov.bottomRightCorner(2, 2)) - ln_prior_mass;
        terms.push_back(term);
        if (term > best) {
          best = term;
          r.best_t0 = t0;
          r.best_duration = d;
          r.best_depth = -mean(3) - mean(4);  // delta(0) = -A2 - A4
        }
      }
    }
  }
  r.ln_bayes_factor = log_sum_exp(terms) - std::log(static_cast<double>(terms.size())) - ln_z0;
  return r;
}

}  // namespace tianyu::pipeline
