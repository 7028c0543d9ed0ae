#include "pipeline/noise/ensemble.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "pipeline/robust_stats.h"

namespace tianyu::pipeline {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check(const ReferenceFluxes& r) {
  if (r.references < 2) throw std::invalid_argument("ensemble weights: fewer than 2 references");
  if (r.frames < 1 || r.flux.size() != static_cast<std::size_t>(r.references) * r.frames) {
    throw std::invalid_argument("ensemble weights: the flux table is not references x frames");
  }
  if (!r.use_frame.empty() && r.use_frame.size() != static_cast<std::size_t>(r.frames)) {
    throw std::invalid_argument("ensemble weights: use_frame is not one per frame");
  }
}

bool good(double v) { return std::isfinite(v) && v > 0; }

std::vector<double> levels(const ReferenceFluxes& r) {
  std::vector<double> m(r.references);
  for (int k = 0; k < r.references; ++k) {
    std::vector<double> v;
    for (int f = 0; f < r.frames; ++f) {
      if (r.used(f) && good(r.value(k, f))) v.push_back(r.value(k, f));
    }
    m[k] = median(v);
  }
  return m;
}

// Reference k's curve against the ensemble without it.
std::vector<double> own_curve(const ReferenceFluxes& r, std::span<const double> w, std::span<const double> m, int k) {
  const auto c = weighted_comparison(r, w, m, k);
  std::vector<double> curve(r.frames, kNaN);
  for (int f = 0; f < r.frames; ++f) {
    if (good(r.value(k, f)) && good(c[f])) curve[f] = r.value(k, f) / m[k] / c[f];
  }
  return curve;
}

std::vector<double> scatters(const ReferenceFluxes& r, std::span<const double> w, std::span<const double> m, double clip) {
  std::vector<double> s(r.references);
  for (int k = 0; k < r.references; ++k) s[k] = clipped_relative_scatter(own_curve(r, w, m, k), clip);
  return s;
}

void normalise(std::vector<double>& w) {
  double total = 0;
  for (const double x : w) total += x;
  for (auto& x : w) x /= total;
}

std::string format(const char* pattern, auto... values) {
  char text[240];
  std::snprintf(text, sizeof text, pattern, values...);
  return text;
}

}  // namespace

double clipped_relative_scatter(std::span<const double> curve, double clip_sigma) {
  std::vector<double> finite;
  for (const double v : curve) {
    if (std::isfinite(v)) finite.push_back(v);
  }
  if (finite.size() < 3) return kNaN;
  const auto s = sigma_clipped_stats(finite, {clip_sigma, clip_sigma, 10});
  return s.stddev / std::abs(s.median);
}

std::vector<double> weighted_comparison(const ReferenceFluxes& r, std::span<const double> w,
                                        std::span<const double> m, int without) {
  std::vector<double> c(r.frames, kNaN);
  for (int f = 0; f < r.frames; ++f) {
    if (!r.used(f)) continue;
    double sum = 0, total = 0;
    for (int j = 0; j < r.references; ++j) {
      if (j == without || !good(r.value(j, f)) || !(w[j] > 0)) continue;
      sum += w[j] * r.value(j, f) / m[j];
      total += w[j];
    }
    if (total > 0) c[f] = sum / total;
  }
  return c;
}

EnsembleWeights broeg_weights(const ReferenceFluxes& r, const BroegOptions& o) {
  check(r);
  EnsembleWeights out;
  out.level = levels(r);
  out.weight = out.level;  // the plain sum of fluxes
  normalise(out.weight);
  for (out.iterations = 1; out.iterations <= o.max_iterations; ++out.iterations) {
    out.scatter = scatters(r, out.weight, out.level, o.clip_sigma);
    std::vector<double> next(r.references);
    for (int k = 0; k < r.references; ++k) next[k] = out.scatter[k] > 0 ? 1.0 / (out.scatter[k] * out.scatter[k]) : 0.0;
    normalise(next);
    double change = 0;
    for (int k = 0; k < r.references; ++k) change = std::max(change, std::abs(next[k] - out.weight[k]) / std::max(next[k], 1e-12));
    out.weight = std::move(next);
    if (change < o.tolerance) {
      out.converged = true;
      break;
    }
  }
  out.iterations = std::min(out.iterations, o.max_iterations);
  out.scatter = scatters(r, out.weight, out.level, o.clip_sigma);
  return out;
}

EnsembleChoice choose_ensemble_weighting(const ReferenceFluxes& r, double min_gain, const BroegOptions& o) {
  EnsembleChoice choice;
  choice.weights = broeg_weights(r, o);
  std::vector<double> plain = choice.weights.level;
  choice.scatter_equal = median(scatters(r, plain, choice.weights.level, o.clip_sigma));
  choice.scatter_weighted = median(choice.weights.scatter);
  choice.weighted = choice.scatter_weighted < (1 - min_gain) * choice.scatter_equal;
  choice.decision = format("%s: median reference scatter %.3f %% with weights by scatter (Broeg, %d iterations), %.3f %% with the plain sum",
                           choice.weighted ? "weighted by each reference's scatter" : "plain sum of the references",
                           100 * choice.scatter_weighted, choice.weights.iterations, 100 * choice.scatter_equal);
  return choice;
}

}  // namespace tianyu::pipeline
