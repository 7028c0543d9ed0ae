#include "pipeline/transit/single_transit.h"

#include "pipeline/robust_stats.h"
#include "pipeline/transit/bivariate_normal.h"

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

// The shape prior's region: A2 < 0 and (A4 < 0 or -A2 / 2A4 > 1), which is the wedge
// {A2 < 0} and {A2 + 2 A4 < 0}. ln P(a in it) for a ~ N(mean, cov): with L1 = A2 and
// L2 = A2 + 2 A4 (jointly normal), P = integral over z < c1 of phi(z) Phi((c2 - rho z) / sqrt(1 - rho^2)),
// evaluated in log space so that a bump (P ~ 1e-100) is still told apart from a dip.
double log_dip_probability(const Eigen::Vector2d& mean, const Eigen::Matrix2d& cov) {
  const Eigen::Vector2d g1(1, 0), g2(1, 2);
  const double m1 = g1.dot(mean), m2 = g2.dot(mean);
  const double s1 = std::sqrt(g1.dot(cov * g1)), s2 = std::sqrt(g2.dot(cov * g2));
  const double rho = std::clamp(g1.dot(cov * g2) / (s1 * s2), -0.999999, 0.999999);
  const double c1 = -m1 / s1, c2 = -m2 / s2;
  // Deep inside the wedge: P = 1 - (mass beyond either edge), to well under 1e-12.
  if (c1 > 8 && c2 > 8) return std::log1p(-0.5 * std::erfc(c1 / std::numbers::sqrt2) - 0.5 * std::erfc(c2 / std::numbers::sqrt2));
  // Anywhere but far in the tail, the bivariate normal function itself (P(L1 < 0, L2 < 0) with
  // z_i = (L_i - m_i) / s_i standard normal); its absolute error (~1e-15) is then negligible
  // next to P. Below that, the log-space integral tells a bump (P ~ 1e-100) from a dip.
  if (const double p = bivariate_normal_cdf(c1, c2, rho); p > 1e-6) return std::log(p);
  return log_bivariate_normal_cdf_tail(c1, c2, rho);
}

// The weighted normal equations of the linear model at unit noise scale (weights 1 / e^2). A
// noise scale s only divides every weight by s^2, so one pass over the points serves all the
// scales, and fixed-size matrices keep the inner loop free of allocations.
template <int P>
struct NormalEquations {
  Eigen::Matrix<double, P, P> xtwx;
  Eigen::Matrix<double, P, 1> xtwy;
};

// What ln N(y | 0, S + X L X^T) needs of the data besides X: y^T W y, sum ln w and n.
struct WeightedData {
  double ytwy = 0, sum_log_w = 0;
  int n = 0;
};

// The Gaussian prior L = diag(variance) as log_evidence uses it, and a noise scale s as s^2 and
// ln s^2: the same for every window, so computed once a curve rather than once a window and
// scale (they were 6 of the 11 logarithms of each evidence).
template <int P>
struct GaussianPrior {
  Eigen::Matrix<double, P, 1> inverse;  // 1 / variance
  double log_det = 0;                   // sum of ln variance
  explicit GaussianPrior(const Eigen::Matrix<double, P, 1>& variance)
      : inverse(variance.cwiseInverse()), log_det(variance.array().log().sum()) {}
};

struct NoiseScale {
  double s2 = 0, log_s2 = 0;
  explicit NoiseScale(double s) : s2(s * s), log_s2(std::log(s2)) {}
};

// ln N(y | 0, S + X L X^T) for S = s2 * diag(e2), prior L, by Woodbury; also the posterior mean
// and covariance of the coefficients.
template <int P>
double log_evidence(const NormalEquations<P>& ne, const WeightedData& data, const NoiseScale& scale,
                    const GaussianPrior<P>& prior, Eigen::Matrix<double, P, 1>* mean,
                    Eigen::Matrix<double, P, P>* cov) {
  const double s2 = scale.s2;
  Eigen::Matrix<double, P, P> a = ne.xtwx / s2;
  a.diagonal() += prior.inverse;
  const Eigen::Matrix<double, P, 1> b = ne.xtwy / s2;
  const Eigen::LLT<Eigen::Matrix<double, P, P>> llt(a);
  const Eigen::Matrix<double, P, 1> m = llt.solve(b);
  const double quad = data.ytwy / s2 - b.dot(m);
  const double log_det_a = 2 * llt.matrixLLT().diagonal().array().log().sum();
  const double log_det = -(data.sum_log_w - data.n * scale.log_s2) + prior.log_det + log_det_a;
  if (mean) *mean = m;
  if (cov) *cov = llt.solve(Eigen::Matrix<double, P, P>::Identity());
  return -0.5 * (quad + log_det + data.n * std::log(2 * std::numbers::pi));
}

// The night as the models see it: y = flux / median - 1, its error variances, the quadratic
// trend's columns (time scaled to the span), and the Gaussian priors of the linear parameters.
using Vector3 = Eigen::Matrix<double, 3, 1>;
using Vector5 = Eigen::Matrix<double, 5, 1>;
using Matrix5 = Eigen::Matrix<double, 5, 5>;

struct Night {
  int n = 0;
  double span = 0;
  std::vector<double> y, w;           // flux / median - 1 and its weights 1 / e^2
  std::vector<Vector3> trend;         // the quadratic trend's columns per point
  WeightedData data;
  NormalEquations<3> trend_equations;  // the null model's, shared by every window
  Vector3 trend_prior;
  Vector5 full_prior;  // (trend, A2, A4)
};

// The point-to-point scatter's variance: the error scale of a curve given without errors.
double successive_difference_variance(const std::vector<double>& y) {
  const auto n = y.size();
  double d2 = 0;
  for (std::size_t i = 1; i < n; ++i) d2 += (y[i] - y[i - 1]) * (y[i] - y[i - 1]) / (2.0 * (n - 1));
  return d2;
}

void accumulate_trend(Night& night) {
  auto& ne = night.trend_equations;
  ne.xtwx.setZero();
  ne.xtwy.setZero();
  for (int i = 0; i < night.n; ++i) {
    ne.xtwx.noalias() += night.w[i] * night.trend[i] * night.trend[i].transpose();
    ne.xtwy += night.w[i] * night.y[i] * night.trend[i];
    night.data.ytwy += night.w[i] * night.y[i] * night.y[i];
    night.data.sum_log_w += std::log(night.w[i]);
  }
  night.data.n = night.n;
}

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
  std::vector<double> e2(n);
  double mean_err2 = 0;
  for (int i = 0; i < n; ++i) {
    night.y.push_back(flux[i] / median - 1);
    const double e = flux_err.empty() ? 1.0 : flux_err[i] / median;
    e2[i] = e * e;
    mean_err2 += e * e / n;
    const double u = (time[i] - t_mid) / night.span;
    night.trend.push_back(Vector3(1.0, u, u * u));
  }
  if (flux_err.empty()) {  // no errors: the point-to-point scatter sets the scale
    mean_err2 = successive_difference_variance(night.y);
    std::fill(e2.begin(), e2.end(), mean_err2);
  }
  for (const double v : e2) night.w.push_back(1 / v);
  accumulate_trend(night);
  double mean_y = 0, var_y = 0;
  for (const double v : night.y) mean_y += v / n;
  for (const double v : night.y) var_y += (v - mean_y) * (v - mean_y) / n;
  const double y_scale = std::sqrt(std::max(mean_err2, var_y));
  night.trend_prior = Vector3::Constant(std::pow(10 * y_scale + 0.01, 2));
  night.full_prior << night.trend_prior, Eigen::Vector2d::Constant(o.depth_prior_sigma * o.depth_prior_sigma);
  return night;
}

// The noise scales, log-uniform from noise_scale_min to noise_scale_max.
std::vector<NoiseScale> noise_scales(const SingleTransitOptions& o) {
  std::vector<NoiseScale> scales;
  for (int k = 0; k < o.noise_scales; ++k) {
    scales.emplace_back(o.noise_scale_min * std::pow(o.noise_scale_max / o.noise_scale_min,
                                                     o.noise_scales > 1 ? k / (o.noise_scales - 1.0) : 0.0));
  }
  return scales;
}

// The normal equations with the window (t0, d)'s transit columns -(x^2 - 1) and -(x^4 - 1)
// (flux = trend - delta), which are zero outside it; returns how many points it holds.
int window_equations(const Night& night, std::span<const double> time, double t0, double d, NormalEquations<5>& ne) {
  ne.xtwx.setZero();
  ne.xtwy.setZero();
  ne.xtwx.topLeftCorner<3, 3>() = night.trend_equations.xtwx;
  ne.xtwy.head<3>() = night.trend_equations.xtwy;
  int in_window = 0;
  for (int i = 0; i < night.n; ++i) {
    const double xi = 2 * (time[i] - t0) / d;
    if (!(std::abs(xi) < 1)) continue;
    ++in_window;
    const double x2 = xi * xi;
    const Eigen::Vector2d c(-(x2 - 1), -(x2 * x2 - 1));
    const double w = night.w[i];
    ne.xtwx.block<3, 2>(0, 3).noalias() += w * night.trend[i] * c.transpose();
    ne.xtwx.bottomRightCorner<2, 2>().noalias() += w * c * c.transpose();
    ne.xtwy.tail<2>() += w * night.y[i] * c;
  }
  ne.xtwx.block<2, 3>(3, 0) = ne.xtwx.block<3, 2>(0, 3).transpose();
  return in_window;
}

}  // namespace

SingleTransitResult single_transit_bayes_factor(std::span<const double> time, std::span<const double> flux,
                                                std::span<const double> flux_err, const SingleTransitOptions& o) {
  const auto night = prepare(time, flux, flux_err, o);
  const auto scales = noise_scales(o);
  // The null model: the trend, over the noise scale.
  const GaussianPrior<3> trend_prior(night.trend_prior);
  const GaussianPrior<5> full_prior(night.full_prior);
  std::vector<double> null_terms;
  for (const auto& s : scales) {
    null_terms.push_back(log_evidence<3>(night.trend_equations, night.data, s, trend_prior, nullptr, nullptr));
  }
  const double ln_z0 = log_sum_exp(null_terms) - std::log(static_cast<double>(scales.size()));
  // The shape prior's mass under the Gaussian prior of (A2, A4), the same for every window.
  const double ln_prior_mass = log_dip_probability(Eigen::Vector2d::Zero(), Eigen::Matrix2d::Identity() * night.full_prior(3));
  SingleTransitResult r;
  double best = -std::numeric_limits<double>::infinity();
  std::vector<double> terms;
  terms.reserve(static_cast<std::size_t>(std::max(0, o.durations)) * static_cast<std::size_t>(std::max(0, o.epochs)) *
                scales.size());
  NormalEquations<5> ne;
  for (int di = 0; di < o.durations; ++di) {
    const double d = o.min_duration_d * std::pow(o.max_duration_d / o.min_duration_d,
                                                 o.durations > 1 ? di / (o.durations - 1.0) : 0.0);
    for (int ti = 0; ti < o.epochs; ++ti) {
      const double first = time.front() - o.edge_fraction * d, range = night.span + 2 * o.edge_fraction * d;
      const double t0 = first + range * (ti + 0.5) / o.epochs;
      const int in_window = window_equations(night, time, t0, d, ne);
      for (std::size_t k = 0; k < scales.size(); ++k) {
        if (in_window < 3) {  // a window over no data leaves the trend alone
          terms.push_back(null_terms[k]);
          continue;
        }
        Vector5 mean;
        Matrix5 cov;
        const double ln_z = log_evidence<5>(ne, night.data, scales[k], full_prior, &mean, &cov);
        // The truncation: posterior mass of the monotone-dip region over its prior mass.
        const double term = ln_z + log_dip_probability(mean.tail<2>(), cov.bottomRightCorner<2, 2>()) - ln_prior_mass;
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
