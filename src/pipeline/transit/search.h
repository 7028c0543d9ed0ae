#pragma once
// Transit search in the manner of nuance (Garcia et al. 2024): the correlated noise (stellar
// variability) is a Gaussian process while the search runs, instead of being detrended away
// first. Linear search: for every epoch t0 on a grid and every duration, the depth of a box
// and its variance by generalised least squares under the GP (with an optional design matrix
// of systematics), in O(box + kernel memory) each thanks to the celerite factor. Periodic
// search: single events combined with a common depth in closed form over a grid of periods and
// phases. With no GP terms the same code is a box least-squares (BLS) search under white noise.
#include <span>
#include <vector>

#include "pipeline/transit/celerite.h"

namespace tianyu::pipeline {

struct LightCurveData {
  std::vector<double> time, flux, flux_err;  // days, relative flux (median 1), errors
};

// Per duration and epoch: depth = a / b_eff, its variance 1 / b_eff, delta log-likelihood
// a^2 / 2 b_eff, where b_eff = b - c^T G^-1 c removes what the systematics columns explain
// (c: the box against each column, G: the columns' Gram matrix under the GP). Kept apart so a
// periodic search can sum c over events before removing it (the events' corrections add up).
struct LinearSearch {
  std::vector<double> durations;
  double t0_first = 0, t0_step = 0;
  int epochs = 0;
  std::vector<double> a, b;  // [duration * epochs + epoch]; b = 0 where the box holds no point
  int systematics = 0;       // p columns
  std::vector<double> c;     // [(duration * epochs + epoch) * p + column]
  Eigen::MatrixXd gram_inv;  // p x p
  std::size_t index(int k, int i) const { return static_cast<std::size_t>(k) * epochs + i; }
  double effective_b(std::size_t j) const {
    if (systematics == 0 || b[j] <= 0) return b[j];
    const Eigen::Map<const Eigen::VectorXd> cj(c.data() + j * systematics, systematics);
    return b[j] - cj.dot(gram_inv * cj);
  }
  double depth(int k, int i) const { const auto j = index(k, i); const double be = effective_b(j); return be > 0 ? a[j] / be : 0.0; }
  double snr(int k, int i) const { const auto j = index(k, i); const double be = effective_b(j); return be > 0 ? a[j] / std::sqrt(be) : 0.0; }
};

struct LinearSearchOptions {
  std::vector<double> durations{0.04, 0.06, 0.08, 0.1, 0.125, 0.15, 0.2};  // days
  double t0_step = 0;  // 0: a third of the shortest duration
  int threads = 1;     // 0: one per core
  // Columns of systematics (each of the light curve's length) fitted with every box.
  std::vector<std::vector<double>> design;
};

// `gp` must be factorised on lc.time with lc's variances (plus any jitter). The model is
// flux - 1 = GP + design * beta - depth * box.
LinearSearch linear_search(const LightCurveData& lc, const CeleriteSolver& gp, const LinearSearchOptions& options);

struct TransitCandidate {
  double period = 0, t0 = 0, duration = 0, depth = 0, depth_err = 0, snr = 0;
  int transits = 0;  // epochs with data
};

struct Periodogram {
  std::vector<double> periods;
  std::vector<TransitCandidate> best;  // per period: the best phase and duration
  TransitCandidate peak;
  double sde = 0;  // (peak SNR - mean) / standard deviation over the periodogram
};

// Periods from min to max, uniform in frequency (BLS practice: equal phase resolution).
std::vector<double> period_grid(double min_period, double max_period, int count);

// Events at P-spaced epochs combined with a common depth: depth = sum a / sum b, SNR = sum a /
// sqrt(sum b). At least `min_transits` epochs with data.
Periodogram periodic_search(const LinearSearch& linear, std::span<const double> periods, int threads = 1,
                            int min_transits = 2);

// The light curve without the points within `factor` half-durations of the candidate's epochs.
LightCurveData mask_transits(const LightCurveData& lc, const TransitCandidate& c, double factor = 1.5);

// Maximum-likelihood GP for the light curve: one SHO term (Q = 1/sqrt 2) plus a white-noise
// jitter added to the errors, by Nelder-Mead over their logarithms from a few starting
// time scales. Returns the terms and sets `jitter` (relative flux).
std::vector<ShoTerm> fit_sho_gp(const LightCurveData& lc, double& jitter);

enum class SearchMethod { gp, bls, biweight_bls };

struct TransitSearchOptions {
  SearchMethod method = SearchMethod::gp;
  LinearSearchOptions linear;
  std::vector<double> periods;  // period_grid(...)
  int min_transits = 2;
  // gp: the hyperparameters are fitted again with the best candidate's transits masked, and
  // the search repeated, this many times (a deep transit otherwise pulls the fitted GP to its
  // own time scale and the GP absorbs part of it).
  int refits = 1;
  double biweight_window_factor = 3;  // biweight-bls: window = factor x the longest duration
  bool refine = true;  // the peak again on 5x finer epoch and period grids around it
};

struct TransitSearchResult {
  Periodogram periodogram;
  std::vector<ShoTerm> terms;  // gp: the fitted variability
  double jitter = 0;
};

TransitSearchResult search_transits(const LightCurveData& lc, const TransitSearchOptions& options);

// Tukey's biweight location in a sliding window of `window` days (c = 5, as wotan): the trend
// a detrend-then-search pipeline divides by.
std::vector<double> biweight_trend(std::span<const double> time, std::span<const double> flux, double window);

}  // namespace tianyu::pipeline
