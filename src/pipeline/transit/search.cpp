#include "pipeline/robust_stats.h"
#include "pipeline/transit/search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "pipeline/parallel.h"

namespace tianyu::pipeline {
namespace {

// The whitened light curve and systematics columns, their Gram matrix inverse and the
// systematics' fit without a transit (beta).
struct Whitened {
  std::vector<double> yw;
  std::vector<std::vector<double>> xw;
  Eigen::MatrixXd gram_inv;
  Eigen::VectorXd beta;
};

Whitened whiten(const LightCurveData& lc, const CeleriteSolver& gp, const LinearSearchOptions& o) {
  const int n = static_cast<int>(lc.time.size());
  Whitened w;
  std::vector<double> y(n);
  for (int i = 0; i < n; ++i) y[i] = lc.flux[i] - 1.0;
  w.yw = gp.whiten(y);
  const int p = static_cast<int>(o.design.size());
  if (p == 0) return w;
  Eigen::MatrixXd gram(p, p);
  Eigen::VectorXd xty(p);
  for (const auto& col : o.design) {
    if (static_cast<int>(col.size()) != n) throw std::invalid_argument("linear_search: a design column has the wrong length");
    w.xw.push_back(gp.whiten(col));
  }
  for (int i = 0; i < p; ++i) {
    xty(i) = std::inner_product(w.xw[i].begin(), w.xw[i].end(), w.yw.begin(), 0.0);
    for (int j = 0; j < p; ++j) gram(i, j) = std::inner_product(w.xw[i].begin(), w.xw[i].end(), w.xw[j].begin(), 0.0);
  }
  w.gram_inv = gram.inverse();
  w.beta = w.gram_inv * xty;
  return w;
}

// The boxes of every duration at epoch e, each whitened from its first point, into s.
void search_epoch(const LightCurveData& lc, const CeleriteSolver& gp, const LinearSearchOptions& o,
                  const Whitened& w, int e, LinearSearch& s) {
  const int p = s.systematics, k_count = static_cast<int>(o.durations.size());
  std::vector<double> bw;
  Eigen::VectorXd c(p);
  for (int k = 0; k < k_count; ++k) {
    const double t0 = s.t0_first + e * s.t0_step, half = o.durations[k] / 2;
    const int first = static_cast<int>(std::lower_bound(lc.time.begin(), lc.time.end(), t0 - half) - lc.time.begin());
    const int last = static_cast<int>(std::upper_bound(lc.time.begin(), lc.time.end(), t0 + half) - lc.time.begin());
    if (last <= first) continue;
    int start = 0;
    gp.whiten_box(first, last, bw, start);
    double a = 0, b = 0;
    for (std::size_t i = 0; i < bw.size(); ++i) {
      a -= bw[i] * w.yw[start + i];  // a dip is a positive depth
      b += bw[i] * bw[i];
    }
    if (p > 0) {
      for (int j = 0; j < p; ++j) {
        double v = 0;
        for (std::size_t i = 0; i < bw.size(); ++i) v -= bw[i] * w.xw[j][start + i];
        c(j) = v;
      }
      a -= c.dot(w.beta);  // the box against what the systematics do not explain (linear in the box)
      for (int j = 0; j < p; ++j) s.c[s.index(k, e) * p + j] = c(j);
    }
    if (b > 0) {
      s.a[s.index(k, e)] = a;
      s.b[s.index(k, e)] = b;
    }
  }
}

}  // namespace

LinearSearch linear_search(const LightCurveData& lc, const CeleriteSolver& gp, const LinearSearchOptions& o) {
  const int n = static_cast<int>(lc.time.size());
  if (n < 3 || gp.size() != n) throw std::invalid_argument("linear_search: the GP must be factorised on the light curve");
  if (o.durations.empty()) throw std::invalid_argument("linear_search: no durations");
  LinearSearch s;
  s.durations = o.durations;
  const double shortest = *std::min_element(o.durations.begin(), o.durations.end());
  s.t0_step = o.t0_step > 0 ? o.t0_step : shortest / 3;
  s.t0_first = lc.time.front();
  s.epochs = static_cast<int>(std::floor((lc.time.back() - lc.time.front()) / s.t0_step)) + 1;
  s.a.assign(o.durations.size() * static_cast<std::size_t>(s.epochs), 0.0);
  s.b.assign(s.a.size(), 0.0);
  // Systematics: whitened columns, their Gram matrix and the fit without a transit.
  const auto w = whiten(lc, gp, o);
  const int p = static_cast<int>(o.design.size());
  if (p > 0) {
    s.systematics = p;
    s.gram_inv = w.gram_inv;
    s.c.assign(s.a.size() * p, 0.0);
  }
  // Each epoch on one thread.
  parallel_for(static_cast<std::size_t>(s.epochs), o.threads,
               [&](std::size_t e) { search_epoch(lc, gp, o, w, static_cast<int>(e), s); });
  return s;
}

std::vector<double> period_grid(double min_period, double max_period, int count) {
  if (!(min_period > 0 && max_period > min_period && count >= 2)) throw std::invalid_argument("period_grid: bad range");
  std::vector<double> out;
  const double f0 = 1 / max_period, f1 = 1 / min_period;
  for (int i = 0; i < count; ++i) out.push_back(1 / (f1 - (f1 - f0) * i / (count - 1)));
  return out;
}

Periodogram periodic_search(const LinearSearch& s, std::span<const double> periods, int threads, int min_transits) {
  Periodogram g;
  g.periods.assign(periods.begin(), periods.end());
  g.best.assign(periods.size(), {});
  const int k_count = static_cast<int>(s.durations.size());
  const int p = s.systematics;
  parallel_for(periods.size(), threads, [&](std::size_t pi) {
    const double period = periods[pi];
    const double steps_per_period = period / s.t0_step;
    const int phases = std::min(s.epochs, static_cast<int>(std::ceil(steps_per_period)));
    TransitCandidate best;
    Eigen::VectorXd sc(p);
    for (int k = 0; k < k_count; ++k) {
      const std::size_t base = static_cast<std::size_t>(k) * s.epochs;
      const double* a = s.a.data() + base;
      const double* b = s.b.data() + base;
      for (int phase = 0; phase < phases; ++phase) {
        double sa = 0, sb = 0;
        sc.setZero();
        int transits = 0;
        for (int e = 0;; ++e) {
          const int idx = phase + static_cast<int>(std::lround(e * steps_per_period));
          if (idx >= s.epochs) break;
          if (b[idx] > 0) {
            sa += a[idx];
            sb += b[idx];
            for (int j = 0; j < p; ++j) sc(j) += s.c[(base + idx) * p + j];
            ++transits;
          }
        }
        if (p > 0) sb -= sc.dot(s.gram_inv * sc);  // one box for all events, against the columns
        if (transits < min_transits || sb <= 0) continue;
        const double snr = sa / std::sqrt(sb);
        if (snr > best.snr) {
          best = {period, s.t0_first + phase * s.t0_step, s.durations[k], sa / sb, 1 / std::sqrt(sb), snr, transits};
        }
      }
    }
    g.best[pi] = best;
  });
  double sum = 0, sum2 = 0;
  for (const auto& c : g.best) {
    sum += c.snr;
    sum2 += c.snr * c.snr;
    if (c.snr > g.peak.snr) g.peak = c;
  }
  const double n = static_cast<double>(g.best.size());
  const double mean = sum / n, sd = std::sqrt(std::max(0.0, sum2 / n - mean * mean));
  g.sde = sd > 0 ? (g.peak.snr - mean) / sd : 0.0;
  return g;
}

LightCurveData mask_transits(const LightCurveData& lc, const TransitCandidate& c, double factor) {
  LightCurveData out;
  const double half = factor * c.duration / 2;
  for (std::size_t i = 0; i < lc.time.size(); ++i) {
    const double phase = std::remainder(lc.time[i] - c.t0, c.period);
    if (std::abs(phase) < half) continue;
    out.time.push_back(lc.time[i]);
    out.flux.push_back(lc.flux[i]);
    out.flux_err.push_back(lc.flux_err[i]);
  }
  return out;
}

namespace {

// Nelder-Mead minimisation of f over R^n from x0 with initial steps `step`.
template <class F>
Eigen::VectorXd nelder_mead(F&& f, Eigen::VectorXd x0, double step, int iterations) {
  const int n = static_cast<int>(x0.size());
  std::vector<Eigen::VectorXd> x(n + 1, x0);
  std::vector<double> v(n + 1);
  for (int i = 0; i < n; ++i) x[i + 1](i) += step;
  for (int i = 0; i <= n; ++i) v[i] = f(x[i]);
  for (int it = 0; it < iterations; ++it) {
    std::vector<int> order(n + 1);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return v[a] < v[b]; });
    std::vector<Eigen::VectorXd> xs;
    std::vector<double> vs;
    for (int i : order) { xs.push_back(x[i]); vs.push_back(v[i]); }
    x = xs;
    v = vs;
    if (std::abs(v[n] - v[0]) < 1e-9 * (1 + std::abs(v[0]))) break;
    Eigen::VectorXd centre = Eigen::VectorXd::Zero(n);
    for (int i = 0; i < n; ++i) centre += x[i] / n;
    const Eigen::VectorXd reflected = centre + (centre - x[n]);
    const double fr = f(reflected);
    if (fr < v[0]) {
      const Eigen::VectorXd expanded = centre + 2 * (centre - x[n]);
      const double fe = f(expanded);
      if (fe < fr) { x[n] = expanded; v[n] = fe; } else { x[n] = reflected; v[n] = fr; }
    } else if (fr < v[n - 1]) {
      x[n] = reflected;
      v[n] = fr;
    } else {
      const Eigen::VectorXd contracted = centre + 0.5 * (x[n] - centre);
      const double fc = f(contracted);
      if (fc < v[n]) {
        x[n] = contracted;
        v[n] = fc;
      } else {
        for (int i = 1; i <= n; ++i) {
          x[i] = x[0] + 0.5 * (x[i] - x[0]);
          v[i] = f(x[i]);
        }
      }
    }
  }
  return x[0];
}

}  // namespace

std::vector<ShoTerm> fit_sho_gp(const LightCurveData& lc, double& jitter) {
  const int n = static_cast<int>(lc.time.size());
  std::vector<double> y(n), err2(n);
  double var = 0;
  for (int i = 0; i < n; ++i) {
    y[i] = lc.flux[i] - 1.0;
    err2[i] = lc.flux_err[i] * lc.flux_err[i];
    var += y[i] * y[i] / n;
  }
  const double q = 1 / std::sqrt(2.0);
  auto cost = [&](const Eigen::VectorXd& p) {
    const double s0 = std::exp(p(0)), w0 = std::exp(p(1)), jit = std::exp(p(2));
    if (w0 > 1e4 || w0 < 1e-3) return 1e300;
    std::vector<double> v(n);
    for (int i = 0; i < n; ++i) v[i] = err2[i] + jit * jit;
    try {
      return -CeleriteSolver(lc.time, v, {{s0, w0, q}}).log_likelihood(y);
    } catch (const GaussianProcessError&) {
      return 1e300;
    }
  };
  Eigen::VectorXd best;
  double best_cost = std::numeric_limits<double>::infinity();
  for (const double timescale : {0.1, 0.5, 2.0}) {  // days
    const double w0 = 2 * 3.141592653589793 / timescale;
    Eigen::VectorXd x0(3);
    x0 << std::log(std::max(var, 1e-12) / (w0 * q)), std::log(w0), std::log(std::sqrt(std::max(var, 1e-12)) * 0.1);
    const auto x = nelder_mead(cost, x0, 1.0, 400);
    const double c = cost(x);
    if (c < best_cost) {
      best_cost = c;
      best = x;
    }
  }
  jitter = std::exp(best(2));
  return {{std::exp(best(0)), std::exp(best(1)), q}};
}

std::vector<double> biweight_trend(std::span<const double> time, std::span<const double> flux, double window) {
  const int n = static_cast<int>(time.size());
  std::vector<double> trend(n), values;
  int lo = 0, hi = 0;
  for (int i = 0; i < n; ++i) {
    while (lo < n && time[lo] < time[i] - window / 2) ++lo;
    while (hi < n && time[hi] <= time[i] + window / 2) ++hi;
    values.assign(flux.begin() + lo, flux.begin() + hi);
    double location = median_in_place(values);
    std::vector<double> dev(values.size());
    for (std::size_t k = 0; k < values.size(); ++k) dev[k] = std::abs(values[k] - location);
    const double mad = median_in_place(dev);
    if (mad > 0) {
      for (int iteration = 0; iteration < 5; ++iteration) {
        double num = 0, den = 0;
        for (const double v : values) {
          const double u = (v - location) / (5 * mad);
          if (std::abs(u) >= 1) continue;
          const double w = (1 - u * u) * (1 - u * u);
          num += w * (v - location);
          den += w;
        }
        if (den <= 0) break;
        const double shift = num / den;
        location += shift;
        if (std::abs(shift) < 1e-12 * std::abs(location)) break;
      }
    }
    trend[i] = location;
  }
  return trend;
}

TransitSearchResult search_transits(const LightCurveData& input, const TransitSearchOptions& o) {
  LightCurveData lc = input;
  if (o.method == SearchMethod::biweight_bls) {
    const double longest = *std::max_element(o.linear.durations.begin(), o.linear.durations.end());
    const auto trend = biweight_trend(lc.time, lc.flux, o.biweight_window_factor * longest);
    for (std::size_t i = 0; i < lc.flux.size(); ++i) {
      lc.flux[i] /= trend[i];
      lc.flux_err[i] /= trend[i];
    }
  }
  TransitSearchResult r;
  LightCurveData fit_on = lc;
  for (int round = 0; round <= (o.method == SearchMethod::gp ? o.refits : 0); ++round) {
    if (o.method == SearchMethod::gp) r.terms = fit_sho_gp(fit_on, r.jitter);
    std::vector<double> variance;
    for (const double e : lc.flux_err) variance.push_back(e * e + r.jitter * r.jitter);
    const CeleriteSolver gp(lc.time, variance, r.terms);
    r.periodogram = periodic_search(linear_search(lc, gp, o.linear), o.periods, o.linear.threads, o.min_transits);
    if (r.periodogram.peak.snr <= 0) break;
    const bool last = o.method != SearchMethod::gp || round == o.refits;
    if (last && o.refine) {
      // The epoch grid (a third of the shortest duration) limits the period to about
      // step / transits: around the peak, a five times finer epoch grid and period grid.
      LinearSearchOptions fine = o.linear;
      const double shortest = *std::min_element(fine.durations.begin(), fine.durations.end());
      fine.t0_step = (o.linear.t0_step > 0 ? o.linear.t0_step : shortest / 3) / 5;
      const double p = r.periodogram.peak.period;
      std::size_t at = 0;
      while (at < o.periods.size() && o.periods[at] != p) ++at;
      const double lo = o.periods[at > 2 ? at - 2 : 0], hi = o.periods[std::min(at + 2, o.periods.size() - 1)];
      const auto local = periodic_search(linear_search(lc, gp, fine), period_grid(std::min(lo, hi), std::max(lo, hi) + 1e-9, 201),
                                         o.linear.threads, o.min_transits);
      if (local.peak.snr >= r.periodogram.peak.snr) r.periodogram.peak = local.peak;
    }
    fit_on = mask_transits(lc, r.periodogram.peak, 2.0);
  }
  return r;
}

}  // namespace tianyu::pipeline
