#include "pipeline/transit/limb_darkened_fit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include <Eigen/Dense>

#include "pipeline/robust_stats.h"

namespace tianyu::pipeline {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The usable points by time, flux over its median, weights, each regressor standardised.
struct Night {
  std::vector<double> t, f, w;
  double t_centre = 0, sum_w = 0;
  std::vector<std::vector<double>> r;
  std::vector<double> r_scale;
  std::vector<std::string> names;
};

Night night_of(std::span<const double> time, std::span<const double> flux, std::span<const double> err,
               const std::vector<BaselineRegressor>& regressors) {
  if (time.size() != flux.size() || (!err.empty() && err.size() != flux.size())) {
    throw TransitFitError("time, flux and flux_err differ in length");
  }
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < time.size(); ++i) {
    bool ok = std::isfinite(time[i]) && std::isfinite(flux[i]) && (err.empty() || (std::isfinite(err[i]) && err[i] > 0));
    for (const auto& reg : regressors) {
      if (reg.values.size() != time.size()) throw TransitFitError("regressor '" + reg.name + "' is not one per point");
      ok = ok && std::isfinite(reg.values[i]);
    }
    if (ok) order.push_back(i);
  }
  if (order.size() < 10) throw TransitFitError("fewer than 10 usable points");
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return time[a] < time[b]; });
  std::vector<double> f;
  for (const auto i : order) f.push_back(flux[i]);
  const double level = median(f);
  if (!(level > 0)) throw TransitFitError("the median flux is not positive");
  Night n;
  for (const auto i : order) {
    n.t.push_back(time[i]);
    n.f.push_back(flux[i] / level);
    const double e = err.empty() ? 1.0 : err[i] / level;
    n.w.push_back(1 / (e * e));
    n.sum_w += n.w.back();
  }
  n.t_centre = (n.t.front() + n.t.back()) / 2;
  auto standardised = standardised_regressors(regressors, order);
  n.r = std::move(standardised.values);
  n.r_scale = std::move(standardised.scale);
  n.names = std::move(standardised.names);
  return n;
}

// One evaluation: the baseline solved exactly (linear) under the transit at (mid, k).
struct Solution {
  double chi2 = kInf;
  Eigen::VectorXd beta;
};

Solution solve(const Night& n, const std::vector<int>& columns, double mid, double k, const PlanetShape& shape) {
  const int p = 2 + static_cast<int>(columns.size());
  Eigen::MatrixXd normal = Eigen::MatrixXd::Zero(p, p);
  Eigen::VectorXd rhs = Eigen::VectorXd::Zero(p), x(p);
  double ftf = 0;
  for (std::size_t i = 0; i < n.t.size(); ++i) {
    const double lambda = limb_darkened_transit(n.t[i], mid, k, shape);
    x(0) = lambda;
    x(1) = lambda * (n.t[i] - n.t_centre);
    for (int c = 0; c < static_cast<int>(columns.size()); ++c) x(2 + c) = lambda * n.r[columns[c]][i];
    normal.noalias() += n.w[i] * x * x.transpose();
    rhs.noalias() += n.w[i] * n.f[i] * x;
    ftf += n.w[i] * n.f[i] * n.f[i];
  }
  Solution s;
  Eigen::LDLT<Eigen::MatrixXd> ldlt(normal);
  if (ldlt.info() != Eigen::Success) return s;
  s.beta = ldlt.solve(rhs);
  s.chi2 = std::max(0.0, ftf - s.beta.dot(rhs));
  return s;
}

// The least-chi2 k at one mid-time (golden section: chi2 is smooth and single-valleyed in k).
std::pair<double, double> best_k(const Night& n, const std::vector<int>& cols, double mid, const PlanetShape& shape,
                                 double lo = 0.01, double hi = 0.4) {
  const double g = (std::sqrt(5.0) - 1) / 2;
  double a = lo, b = hi, c = b - g * (b - a), d = a + g * (b - a);
  double fc = solve(n, cols, mid, c, shape).chi2, fd = solve(n, cols, mid, d, shape).chi2;
  while (b - a > 1e-4) {
    if (fc < fd) {
      b = d; d = c; fd = fc; c = b - g * (b - a); fc = solve(n, cols, mid, c, shape).chi2;
    } else {
      a = c; c = d; fc = fd; d = a + g * (b - a); fd = solve(n, cols, mid, d, shape).chi2;
    }
  }
  return fc < fd ? std::pair{c, fc} : std::pair{d, fd};
}

struct Best {
  double mid = 0, k = 0, chi2 = kInf;
};

// Mid-times on a grid (step `step` over [lo, hi]), k at each; then refined by halving the step.
Best search(const Night& n, const std::vector<int>& cols, const PlanetShape& shape, double lo, double hi, double step) {
  Best best;
  for (double mid = lo; mid <= hi + 1e-12; mid += step) {
    const auto [k, chi2] = best_k(n, cols, mid, shape);
    if (chi2 < best.chi2) best = {mid, k, chi2};
  }
  for (double s = step / 2; s > 1e-5; s /= 2) {
    for (const double mid : {best.mid - s, best.mid + s}) {
      const auto [k, chi2] = best_k(n, cols, mid, shape);
      if (chi2 < best.chi2) best = {mid, k, chi2};
    }
  }
  return best;
}

double bic_of(double chi2, int n, int parameters) {
  return n * std::log(std::max(chi2, 1e-300) / n) + parameters * std::log(static_cast<double>(n));
}

// Errors of (mid, k) from the curvature of the profiled chi2 (the baseline re-solved at each
// step, which marginalises it in the quadratic approximation), scaled by the reduced chi2.
std::pair<double, double> errors_of(const Night& n, const std::vector<int>& cols, const PlanetShape& shape,
                                    const Best& b, double scale) {
  const double hm = 2e-4, hk = 2e-3;
  auto c = [&](double dm, double dk) { return solve(n, cols, b.mid + dm, b.k + dk, shape).chi2; };
  const double c0 = c(0, 0);
  const double hmm = (c(hm, 0) - 2 * c0 + c(-hm, 0)) / (hm * hm);
  const double hkk = (c(0, hk) - 2 * c0 + c(0, -hk)) / (hk * hk);
  const double hmk = (c(hm, hk) - c(hm, -hk) - c(-hm, hk) + c(-hm, -hk)) / (4 * hm * hk);
  Eigen::Matrix2d h;
  h << hmm, hmk, hmk, hkk;
  const Eigen::Matrix2d cov = 2 * h.inverse() * scale;
  return {std::sqrt(std::max(0.0, cov(0, 0))), std::sqrt(std::max(0.0, cov(1, 1)))};
}

std::vector<std::vector<int>> subsets_of(const Night& n, int max_size) {
  std::vector<std::vector<int>> subsets{{}};
  for (int j = 0; j < static_cast<int>(n.r_scale.size()); ++j) {
    if (!(n.r_scale[j] > 0)) continue;
    const auto count = subsets.size();
    for (std::size_t i = 0; i < count; ++i) {
      if (static_cast<int>(subsets[i].size()) >= max_size) continue;
      auto s = subsets[i];
      s.push_back(j);
      subsets.push_back(std::move(s));
    }
  }
  std::stable_sort(subsets.begin(), subsets.end(), [](auto& a, auto& b) { return a.size() < b.size(); });
  return subsets;
}

// Every set of systematics at the mid-time `mid`, k refitted for each: the one of least BIC.
std::vector<int> least_bic(const Night& n, const std::vector<std::vector<int>>& subsets, const PlanetShape& shape,
                           double mid, std::vector<BaselineChoice>& tried) {
  tried.clear();
  std::size_t best = 0;
  const int points = static_cast<int>(n.t.size());
  for (std::size_t s = 0; s < subsets.size(); ++s) {
    BaselineChoice choice;
    for (const int c : subsets[s]) choice.regressors.push_back(n.names[c]);
    choice.chi2 = best_k(n, subsets[s], mid, shape).second;
    choice.parameters = 2 + static_cast<int>(subsets[s].size()) + 2;  // line, systematics, mid-time, k
    choice.bic = bic_of(choice.chi2, points, choice.parameters);
    tried.push_back(std::move(choice));
    if (tried.back().bic < tried[best].bic) best = s;
  }
  return subsets[best];
}

}  // namespace

double occulted_flux(double z, double k, double u1, double u2) {
  z = std::abs(z);
  if (!(k > 0) || z >= 1 + k) return 1.0;
  const double lo = std::max(0.0, z - k), hi = std::min(1.0, z + k);
  constexpr int steps = 200;
  const double dr = (hi - lo) / steps;
  double blocked = 0;
  for (int i = 0; i < steps; ++i) {
    const double r = lo + (i + 0.5) * dr;
    double covered;  // the fraction of the circle of radius r behind the planet
    if (r <= k - z) covered = 1;
    else if (z == 0) covered = r < k ? 1 : 0;
    else covered = std::acos(std::clamp((r * r + z * z - k * k) / (2 * r * z), -1.0, 1.0)) / std::numbers::pi;
    const double m = 1 - std::sqrt(std::max(0.0, 1 - r * r));  // 1 - mu
    blocked += (1 - u1 * m - u2 * m * m) * 2 * r * covered * dr;
  }
  return 1 - blocked / (1 - u1 / 3 - u2 / 6);
}

double limb_darkened_transit(double t, double mid, double k, const PlanetShape& s) {
  const double phase = 2 * std::numbers::pi * (t - mid) / s.period_d;
  if (std::cos(phase) <= 0) return 1.0;  // the planet behind the star
  const double cos_i = s.impact / s.a_over_rstar;
  const double z = s.a_over_rstar * std::sqrt(std::pow(std::sin(phase), 2) + std::pow(cos_i * std::cos(phase), 2));
  return occulted_flux(z, k, s.u1, s.u2);
}

double transit_duration_d(double k, const PlanetShape& s) {
  const double sin_i = std::sqrt(1 - std::pow(s.impact / s.a_over_rstar, 2));
  const double chord = std::pow(1 + k, 2) - s.impact * s.impact;
  if (chord <= 0) return 0;
  return s.period_d / std::numbers::pi * std::asin(std::min(1.0, std::sqrt(chord) / (s.a_over_rstar * sin_i)));
}

LimbDarkenedFit fit_limb_darkened_transit(std::span<const double> time, std::span<const double> flux,
                                          std::span<const double> flux_err, const LimbDarkenedFitOptions& o) {
  const auto& shape = o.shape;
  if (!(shape.period_d > 0 && shape.a_over_rstar > 1 && shape.impact >= 0 && shape.impact < shape.a_over_rstar)) {
    throw TransitFitError("the planet's shape needs a period > 0, a/R* > 1 and 0 <= b < a/R*");
  }
  const auto n = night_of(time, flux, flux_err, o.regressors);
  double lo = n.t.front(), hi = n.t.back();
  if (o.mid_time_guess > 0 && o.mid_time_window_d > 0) {
    lo = std::max(lo, o.mid_time_guess - o.mid_time_window_d);
    hi = std::min(hi, o.mid_time_guess + o.mid_time_window_d);
  }
  const int points = static_cast<int>(n.t.size());
  // The line over the whole window; then the systematics chosen by BIC at that transit, the
  // transit refitted on them, and the choice made again there until it stands.
  Best best = search(n, {}, shape, lo, hi, 0.002);
  std::vector<int> chosen;
  LimbDarkenedFit fit;
  if (!o.regressors.empty()) {
    const auto subsets = subsets_of(n, std::max(0, o.max_regressors));
    for (int round = 0; round < 3; ++round) {
      const auto pick = least_bic(n, subsets, shape, best.mid, fit.baselines);
      if (pick == chosen) break;
      chosen = pick;
      best = search(n, chosen, shape, std::max(lo, best.mid - 0.004), std::min(hi, best.mid + 0.004), 0.001);
    }
    least_bic(n, subsets, shape, best.mid, fit.baselines);  // the record at the final transit
  }
  const int parameters = 2 + static_cast<int>(chosen.size()) + 2;
  const double best_bic = bic_of(best.chi2, points, parameters);
  const double scale = best.chi2 / std::max(1, points - parameters);
  const auto solution = solve(n, chosen, best.mid, best.k, shape);
  const auto [mid_err, k_err] = errors_of(n, chosen, shape, best, scale);
  fit.mid_time = best.mid;
  fit.mid_time_err = mid_err;
  fit.radius_ratio = best.k;
  fit.radius_ratio_err = k_err;
  fit.depth = best.k * best.k;
  fit.depth_err = 2 * best.k * k_err;
  fit.duration = transit_duration_d(best.k, shape);
  fit.residual_rms = std::sqrt(best.chi2 / n.sum_w);
  fit.error_scale = std::sqrt(scale);
  fit.chi2 = best.chi2;
  fit.bic = best_bic;
  fit.points = points;
  for (std::size_t c = 0; c < chosen.size(); ++c) {
    fit.regressors.push_back(n.names[chosen[c]]);
    fit.regressor_coefficients.push_back(solution.beta(2 + static_cast<Eigen::Index>(c)) / n.r_scale[chosen[c]]);
  }
  return fit;
}

}  // namespace tianyu::pipeline
