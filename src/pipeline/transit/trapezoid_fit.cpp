#include "pipeline/robust_stats.h"
#include "pipeline/transit/trapezoid_fit.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <Eigen/Dense>

namespace tianyu::pipeline {
namespace {

// The usable points by time: time relative to the first, flux over its median, weight, and
// each offered regressor standardised (zero mean, unit spread) for a well-conditioned solve.
struct Points {
  std::vector<double> t, f, w;
  double t_first = 0, t_centre = 0, sum_w = 0;
  std::vector<std::vector<double>> r;  // [regressor][point]
  std::vector<double> r_scale;         // the raw spread of each regressor (0: it does not vary)
  std::vector<std::string> names;
};

// One baseline: the line plus the regressors in `columns`, its normal equations accumulated
// once (only the transit's column changes from trial to trial).
struct Design {
  std::vector<int> columns;
  int p = 2;
  Eigen::MatrixXd x;  // points x p
  Eigen::MatrixXd normal;
  Eigen::VectorXd rhs;
  double ftf = 0;
};

struct Trial {
  double chi2 = std::numeric_limits<double>::infinity();
  double mid = 0, duration = 0, ingress = 0;
  Eigen::VectorXd beta;
  Eigen::MatrixXd covariance;
  int in_transit = 0;
};

Design make_design(const Points& pts, std::vector<int> columns) {
  Design d;
  d.columns = std::move(columns);
  d.p = 2 + static_cast<int>(d.columns.size());
  const auto n = static_cast<Eigen::Index>(pts.t.size());
  d.x.resize(n, d.p);
  for (Eigen::Index i = 0; i < n; ++i) {
    d.x(i, 0) = 1.0;
    d.x(i, 1) = pts.t[i] - pts.t_centre;
    for (int k = 0; k < static_cast<int>(d.columns.size()); ++k) d.x(i, 2 + k) = pts.r[d.columns[k]][i];
  }
  const Eigen::Map<const Eigen::VectorXd> w(pts.w.data(), n), f(pts.f.data(), n);
  d.normal = d.x.transpose() * w.asDiagonal() * d.x;
  d.rhs = d.x.transpose() * (w.array() * f.array()).matrix();
  d.ftf = (w.array() * f.array() * f.array()).sum();
  return d;
}

// Weighted least squares of f = baseline - depth * shape at one trial transit.
Trial solve(const Points& pts, const Design& d, double mid, double duration, double ingress, int min_out) {
  const auto lo = std::lower_bound(pts.t.begin(), pts.t.end(), mid - duration / 2) - pts.t.begin();
  const auto hi = std::upper_bound(pts.t.begin(), pts.t.end(), mid + duration / 2) - pts.t.begin();
  Eigen::VectorXd u = Eigen::VectorXd::Zero(d.p);
  double ss = 0, sf = 0;
  int in = 0;
  for (auto i = lo; i < hi; ++i) {
    const double s = trapezoid_shape(pts.t[i], mid, duration, ingress);
    if (s <= 0) continue;
    ++in;
    u.noalias() += pts.w[i] * s * d.x.row(i).transpose();
    ss += pts.w[i] * s * s;
    sf += pts.w[i] * s * pts.f[i];
  }
  Trial trial;
  if (in < 3 || static_cast<int>(pts.t.size()) - in < min_out) return trial;
  Eigen::MatrixXd normal(d.p + 1, d.p + 1);
  normal.topLeftCorner(d.p, d.p) = d.normal;
  normal.topRightCorner(d.p, 1) = -u;
  normal.bottomLeftCorner(1, d.p) = -u.transpose();
  normal(d.p, d.p) = ss;
  Eigen::VectorXd rhs(d.p + 1);
  rhs << d.rhs, -sf;
  Eigen::LDLT<Eigen::MatrixXd> ldlt(normal);
  if (ldlt.info() != Eigen::Success) return trial;
  trial.beta = ldlt.solve(rhs);
  trial.chi2 = std::max(0.0, d.ftf - trial.beta.dot(rhs));
  trial.mid = mid;
  trial.duration = duration;
  trial.ingress = ingress;
  trial.covariance = normal.inverse();
  trial.in_transit = in;
  return trial;
}

// The baseline alone (no transit), for delta chi2.
double baseline_chi2(const Design& d) { return std::max(0.0, d.ftf - d.rhs.dot(d.normal.ldlt().solve(d.rhs))); }

bool usable(std::span<const double> time, std::span<const double> flux, std::span<const double> flux_err,
            const std::vector<BaselineRegressor>& regressors, std::size_t i) {
  if (!std::isfinite(time[i]) || !std::isfinite(flux[i])) return false;
  if (!flux_err.empty() && !(std::isfinite(flux_err[i]) && flux_err[i] > 0)) return false;
  for (const auto& r : regressors) {
    if (!std::isfinite(r.values[i])) return false;
  }
  return true;
}

void check_lengths(std::span<const double> time, std::span<const double> flux, std::span<const double> flux_err,
                   const std::vector<BaselineRegressor>& regressors) {
  if (time.size() != flux.size() || (!flux_err.empty() && flux_err.size() != flux.size())) {
    throw TransitFitError("time, flux and flux_err differ in length");
  }
  for (const auto& r : regressors) {
    if (r.values.size() != time.size()) {
      throw TransitFitError("regressor '" + r.name + "' has " + std::to_string(r.values.size()) + " values for " +
                            std::to_string(time.size()) + " points");
    }
  }
}

Points normalised_points(std::span<const double> time, std::span<const double> flux, std::span<const double> flux_err,
                         const std::vector<BaselineRegressor>& regressors) {
  check_lengths(time, flux, flux_err, regressors);
  std::vector<double> finite;
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < time.size(); ++i) {
    if (!usable(time, flux, flux_err, regressors, i)) continue;
    finite.push_back(flux[i]);
    order.push_back(i);
  }
  if (finite.size() < 10) throw TransitFitError("fewer than 10 finite points");
  const double median = median_in_place(finite);
  if (!(median > 0)) throw TransitFitError("the median flux is not positive");
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return time[a] < time[b]; });
  Points p;
  p.t_first = time[order.front()];
  for (const auto i : order) {
    p.t.push_back(time[i] - p.t_first);
    p.f.push_back(flux[i] / median);
    const double e = flux_err.empty() ? 1.0 : flux_err[i] / median;
    p.w.push_back(1.0 / (e * e));
    p.sum_w += p.w.back();
  }
  p.t_centre = p.t.back() / 2;
  auto standardised = standardised_regressors(regressors, order);
  p.r = std::move(standardised.values);
  p.r_scale = std::move(standardised.scale);
  p.names = std::move(standardised.names);
  return p;
}

// The least-chi2 trapezoid on one baseline: a coarse grid of mid-times, log-spaced durations and
// ingress fractions, then a tenth of its steps around the best.
Trial best_trapezoid(const Points& p, const Design& design, const TrapezoidFitOptions& o) {
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
          auto trial = solve(p, design, mid, d, g * d, o.min_points_out);
          if (trial.chi2 < best.chi2) best = std::move(trial);
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

// Every subset of the varying regressors of up to `max_size`, the empty one first, smaller first.
std::vector<std::vector<int>> regressor_subsets(const Points& p, int max_size) {
  std::vector<int> varying;
  for (int k = 0; k < static_cast<int>(p.r_scale.size()); ++k) {
    if (p.r_scale[k] > 0) varying.push_back(k);
  }
  std::vector<std::vector<int>> subsets{{}};
  for (const int k : varying) {
    const auto n = subsets.size();
    for (std::size_t i = 0; i < n; ++i) {
      if (static_cast<int>(subsets[i].size()) >= max_size) continue;
      auto s = subsets[i];
      s.push_back(k);
      subsets.push_back(std::move(s));
    }
  }
  std::stable_sort(subsets.begin(), subsets.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });
  return subsets;
}

// The transit model's free parameters on a baseline of p columns: p, the depth, and the
// mid-time, duration and ingress searched on the grid.
int parameters_of(int p) { return p + 1 + 3; }

double bic_of(double chi2, int n, int parameters) {
  return n * std::log(std::max(chi2, 1e-300) / n) + parameters * std::log(static_cast<double>(n));
}

// Every subset at the transit `at` (its shape fixed): the one of least BIC (the smaller on a tie).
std::vector<int> least_bic(const Points& p, const std::vector<std::vector<int>>& subsets, const Trial& at,
                           const TrapezoidFitOptions& o, std::vector<BaselineChoice>& tried) {
  tried.clear();
  std::size_t best = 0;
  const int n = static_cast<int>(p.t.size());
  for (std::size_t s = 0; s < subsets.size(); ++s) {
    const auto d = make_design(p, subsets[s]);
    const auto trial = solve(p, d, at.mid, at.duration, at.ingress, o.min_points_out);
    BaselineChoice c;
    for (const int k : subsets[s]) c.regressors.push_back(p.names[k]);
    c.chi2 = trial.chi2;
    c.parameters = parameters_of(d.p);
    c.bic = bic_of(trial.chi2, n, c.parameters);
    tried.push_back(std::move(c));
    if (tried.back().bic < tried[best].bic) best = s;
  }
  return subsets[best];
}

TrapezoidFit summarise(const Points& p, const Design& d, const Trial& best) {
  const int n = static_cast<int>(p.t.size());
  // Errors scaled so the reduced chi2 is 1 (the given errors may be off by a common factor).
  const double dof = static_cast<double>(n - parameters_of(d.p));
  const double scale = std::max(1e-300, best.chi2 / std::max(1.0, dof));
  const double baseline = best.beta(0) + best.beta(1) * (best.mid - p.t_centre);
  TrapezoidFit fit;
  fit.mid_time = p.t_first + best.mid;
  fit.duration = best.duration;
  fit.ingress = best.ingress;
  fit.baseline = baseline;
  fit.slope_per_day = best.beta(1);
  fit.depth = best.beta(d.p) / baseline;
  fit.depth_err = std::sqrt(best.covariance(d.p, d.p) * scale) / baseline;
  fit.chi2 = best.chi2 / scale;
  fit.residual_rms = std::sqrt(best.chi2 / p.sum_w);
  fit.points = n;
  fit.points_in_transit = best.in_transit;
  fit.delta_chi2 = (baseline_chi2(d) - best.chi2) / scale;
  fit.error_scale = std::sqrt(scale);
  fit.bic = bic_of(best.chi2, n, parameters_of(d.p));
  for (std::size_t k = 0; k < d.columns.size(); ++k) {
    fit.regressors.push_back(p.names[d.columns[k]]);
    fit.regressor_coefficients.push_back(best.beta(2 + static_cast<Eigen::Index>(k)) / p.r_scale[d.columns[k]]);
  }
  return fit;
}

}  // namespace

StandardisedRegressors standardised_regressors(const std::vector<BaselineRegressor>& regressors,
                                               const std::vector<std::size_t>& order) {
  StandardisedRegressors out;
  for (const auto& reg : regressors) {
    std::vector<double> v;
    for (const auto i : order) v.push_back(reg.values[i]);
    double mean = 0, var = 0;
    for (const double x : v) mean += x / v.size();
    for (const double x : v) var += (x - mean) * (x - mean) / v.size();
    const double spread = std::sqrt(var);
    const bool varies = spread > 1e-12 * (std::abs(mean) + 1e-300);
    for (auto& x : v) x = varies ? (x - mean) / spread : 0.0;
    out.values.push_back(std::move(v));
    out.scale.push_back(varies ? spread : 0.0);
    out.names.push_back(reg.name);
  }
  return out;
}

double trapezoid_shape(double t, double mid, double duration, double ingress) {
  const double u = std::abs(t - mid), half = duration / 2;
  if (u >= half) return 0;
  if (ingress <= 0 || u <= half - ingress) return 1;
  return (half - u) / ingress;
}

TrapezoidFit fit_trapezoid_transit(std::span<const double> time, std::span<const double> flux,
                                   std::span<const double> flux_err, const TrapezoidFitOptions& o) {
  const auto p = normalised_points(time, flux, flux_err, o.regressors);
  std::vector<int> chosen;
  auto design = make_design(p, chosen);
  auto best = best_trapezoid(p, design, o);
  std::vector<BaselineChoice> tried;
  if (!o.regressors.empty()) {
    const auto subsets = regressor_subsets(p, std::max(0, o.max_regressors));
    // The choice and the transit depend on each other: choose at the line-only transit, refit,
    // and choose again at the new transit until the choice stands (twice at most: it settles).
    for (int round = 0; round < 3; ++round) {
      const auto pick = least_bic(p, subsets, best, o, tried);
      if (pick == chosen) break;
      chosen = pick;
      design = make_design(p, chosen);
      best = best_trapezoid(p, design, o);
    }
    least_bic(p, subsets, best, o, tried);  // the record at the final transit
  }
  auto fit = summarise(p, design, best);
  fit.baselines = std::move(tried);
  return fit;
}

}  // namespace tianyu::pipeline
