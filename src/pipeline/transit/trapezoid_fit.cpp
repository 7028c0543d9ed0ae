#include "pipeline/robust_stats.h"
#include "pipeline/transit/trapezoid_fit.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <Eigen/Dense>

namespace tianyu::pipeline {
namespace {

struct Points {
  std::vector<double> t, f, w;  // time relative to the first point, normalised flux, weight
  double t_first = 0;
};

struct Trial {
  double chi2 = std::numeric_limits<double>::infinity();
  double mid = 0, duration = 0, ingress = 0;
  Eigen::Vector3d beta = Eigen::Vector3d::Zero();
  Eigen::Matrix3d covariance = Eigen::Matrix3d::Zero();
  int in_transit = 0;
};

// Weighted least squares of f = a + b (t - centre) - depth * shape; returns chi2.
Trial solve(const Points& p, double mid, double duration, double ingress, int min_out) {
  Eigen::Matrix3d normal = Eigen::Matrix3d::Zero();
  Eigen::Vector3d rhs = Eigen::Vector3d::Zero();
  int in = 0, out = 0;
  for (std::size_t i = 0; i < p.t.size(); ++i) {
    const double s = trapezoid_shape(p.t[i], mid, duration, ingress);
    if (s > 0) ++in; else ++out;
    const Eigen::Vector3d x(1.0, p.t[i] - mid, -s);
    normal.noalias() += p.w[i] * x * x.transpose();
    rhs.noalias() += p.w[i] * p.f[i] * x;
  }
  Trial trial;
  if (in < 3 || out < min_out) return trial;
  Eigen::LDLT<Eigen::Matrix3d> ldlt(normal);
  if (ldlt.info() != Eigen::Success) return trial;
  trial.beta = ldlt.solve(rhs);
  double chi2 = 0;
  for (std::size_t i = 0; i < p.t.size(); ++i) {
    const double model = trial.beta(0) + trial.beta(1) * (p.t[i] - mid) -
                         trial.beta(2) * trapezoid_shape(p.t[i], mid, duration, ingress);
    chi2 += p.w[i] * (p.f[i] - model) * (p.f[i] - model);
  }
  trial.chi2 = chi2;
  trial.mid = mid;
  trial.duration = duration;
  trial.ingress = ingress;
  trial.covariance = normal.inverse();
  trial.in_transit = in;
  return trial;
}

bool usable(std::span<const double> time, std::span<const double> flux, std::span<const double> flux_err,
            std::size_t i) {
  return std::isfinite(time[i]) && std::isfinite(flux[i]) &&
         (flux_err.empty() || (std::isfinite(flux_err[i]) && flux_err[i] > 0));
}

// The usable points by time, flux over its median (upper middle on even counts), weights.
Points normalised_points(std::span<const double> time, std::span<const double> flux,
                         std::span<const double> flux_err) {
  if (time.size() != flux.size() || (!flux_err.empty() && flux_err.size() != flux.size())) {
    throw TransitFitError("time, flux and flux_err differ in length");
  }
  std::vector<double> finite;
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < time.size(); ++i) {
    if (!usable(time, flux, flux_err, i)) continue;
    finite.push_back(flux[i]);
    order.push_back(i);
  }
  if (finite.size() < 10) throw TransitFitError("fewer than 10 finite points");
  const double median = median_in_place(finite);
  if (!(median > 0)) throw TransitFitError("the median flux is not positive");
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return time[a] < time[b]; });
  Points p;
  p.t_first = time[order.front()];
  for (const auto i : order) {
    p.t.push_back(time[i] - p.t_first);
    p.f.push_back(flux[i] / median);
    const double e = flux_err.empty() ? 1.0 : flux_err[i] / median;
    p.w.push_back(1.0 / (e * e));
  }
  return p;
}

// The least-chi2 trapezoid: a coarse grid of mid-times, log-spaced durations and ingress
// fractions, then a tenth of its steps around the best.
Trial best_trapezoid(const Points& p, const TrapezoidFitOptions& o) {
  const double span = p.t.back();
  const double cadence = span / (p.t.size() - 1);
  const double dmin = o.min_duration_d > 0 ? o.min_duration_d : 4 * cadence;
  const double dmax = o.max_duration_d > 0 ? o.max_duration_d : 0.8 * span;
  if (!(dmax > dmin)) throw TransitFitError("the light curve is too short for the duration range");
  Trial best;
  const auto search = [&](double mid_lo, double mid_hi, double mid_step, double d_lo, double d_hi, int d_steps) {
    for (int k = 0; k <= d_steps; ++k) {
      const double d = d_steps == 0 ? d_lo : d_lo * std::pow(d_hi / d_lo, static_cast<double>(k) / d_steps);
      for (const double g : o.ingress_fractions) {
        for (double mid = mid_lo; mid <= mid_hi + 1e-12; mid += mid_step) {
          const auto trial = solve(p, mid, d, g * d, o.min_points_out);
          if (trial.chi2 < best.chi2) best = trial;
        }
      }
    }
  };
  const double coarse_step = std::max(dmin / 4, cadence);
  search(0, span, coarse_step, dmin, dmax, 40);
  if (!std::isfinite(best.chi2)) throw TransitFitError("no trial transit had points both in and out of it");
  const double ratio = std::pow(dmax / dmin, 1.0 / 40);
  const double d0 = best.duration, m0 = best.mid;
  search(m0 - coarse_step, m0 + coarse_step, coarse_step / 10, d0 / ratio, d0 * ratio, 20);
  return best;
}

struct LineFit {
  double chi2 = 0, sum_w = 0;
};

// The line alone, for delta chi2.
LineFit fit_line(const Points& p) {
  Eigen::Matrix2d normal = Eigen::Matrix2d::Zero();
  Eigen::Vector2d rhs = Eigen::Vector2d::Zero();
  for (std::size_t i = 0; i < p.t.size(); ++i) {
    const Eigen::Vector2d x(1.0, p.t[i]);
    normal.noalias() += p.w[i] * x * x.transpose();
    rhs.noalias() += p.w[i] * p.f[i] * x;
  }
  const Eigen::Vector2d line = normal.ldlt().solve(rhs);
  LineFit fit;
  for (std::size_t i = 0; i < p.t.size(); ++i) {
    const double r = p.f[i] - line(0) - line(1) * p.t[i];
    fit.chi2 += p.w[i] * r * r;
    fit.sum_w += p.w[i];
  }
  return fit;
}

}  // namespace

double trapezoid_shape(double t, double mid, double duration, double ingress) {
  const double u = std::abs(t - mid), half = duration / 2;
  if (u >= half) return 0;
  if (ingress <= 0 || u <= half - ingress) return 1;
  return (half - u) / ingress;
}

TrapezoidFit fit_trapezoid_transit(std::span<const double> time, std::span<const double> flux,
                                   std::span<const double> flux_err, const TrapezoidFitOptions& o) {
  const auto p = normalised_points(time, flux, flux_err);
  const auto best = best_trapezoid(p, o);
  const auto line = fit_line(p);
  // Errors scaled so the reduced chi2 is 1 (the given errors may be off by a common factor).
  const double dof = static_cast<double>(p.t.size()) - 3 - 3;
  const double scale = std::max(1e-300, best.chi2 / std::max(1.0, dof));
  TrapezoidFit fit;
  fit.mid_time = p.t_first + best.mid;
  fit.duration = best.duration;
  fit.ingress = best.ingress;
  fit.baseline = best.beta(0);
  fit.slope_per_day = best.beta(1);
  fit.depth = best.beta(2) / best.beta(0);
  fit.depth_err = std::sqrt(best.covariance(2, 2) * scale) / best.beta(0);
  fit.chi2 = best.chi2 / scale;
  fit.residual_rms = std::sqrt(best.chi2 / line.sum_w);
  fit.points = static_cast<int>(p.t.size());
  fit.points_in_transit = best.in_transit;
  fit.delta_chi2 = (line.chi2 - best.chi2) / scale;
  return fit;
}

}  // namespace tianyu::pipeline
