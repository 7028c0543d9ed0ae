#include "pipeline/survey/field_search.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "pipeline/robust_stats.h"
#include "pipeline/survey/wording.h"
#include "pipeline/transit/single_transit.h"

namespace tianyu::pipeline::survey {
namespace {

// Each night divided by its median, so the GP's hyperparameters see variability and not the
// nights' offsets; the offsets stay free in the search (night_columns), so this changes nothing
// a transit could lose.
FieldCurve normalised(const FieldCurve& in) {
  FieldCurve out = in;
  std::map<int, std::vector<double>> by_night;
  for (std::size_t i = 0; i < in.lc.flux.size(); ++i) by_night[in.night[i]].push_back(in.lc.flux[i]);
  std::map<int, double> median_of;
  for (auto& [n, v] : by_night) median_of[n] = median_in_place(v);
  for (std::size_t i = 0; i < out.lc.flux.size(); ++i) {
    out.lc.flux[i] /= median_of[in.night[i]];
    out.lc.flux_err[i] /= median_of[in.night[i]];
  }
  return out;
}

// One indicator column per night with data: each night's offset a free parameter.
std::vector<std::vector<double>> night_columns(const FieldCurve& c) {
  std::set<int> nights(c.night.begin(), c.night.end());
  std::vector<std::vector<double>> columns;
  for (const int n : nights) {
    std::vector<double> col(c.night.size(), 0.0);
    for (std::size_t i = 0; i < c.night.size(); ++i) col[i] = c.night[i] == n ? 1.0 : 0.0;
    columns.push_back(std::move(col));
  }
  return columns;
}

TransitSearchOptions search_options(const FieldCurve& c, const FieldSearchOptions& o) {
  TransitSearchOptions s;
  s.method = o.method;
  s.linear.durations = o.durations;
  s.linear.threads = o.threads;
  s.linear.design = night_columns(c);
  const double span = c.lc.time.back() - c.lc.time.front();
  const double max_period = o.max_period_d > 0 ? o.max_period_d : 0.5 * span;
  s.periods = period_grid(o.min_period_d, std::max(max_period, 1.01 * o.min_period_d), o.periods);
  s.min_transits = o.min_transits;
  return s;
}

// Signed time from the nearest event at phase `phase` (0 transit, 0.5 secondary), and its epoch.
double from_event(double t, const TransitCandidate& p, double phase, long* epoch) {
  const double x = (t - p.t0) / p.period - phase;
  const long n = std::lround(x);
  if (epoch) *epoch = n;
  return (x - n) * p.period;
}

FieldCurve mask(const FieldCurve& c, const TransitCandidate& p, double factor = 1.5) {
  FieldCurve out;
  for (std::size_t i = 0; i < c.lc.time.size(); ++i) {
    if (std::abs(from_event(c.lc.time[i], p, 0, nullptr)) < factor * p.duration / 2) continue;
    out.lc.time.push_back(c.lc.time[i]);
    out.lc.flux.push_back(c.lc.flux[i]);
    out.lc.flux_err.push_back(c.lc.flux_err[i]);
    out.night.push_back(c.night[i]);
  }
  return out;
}

struct Mean {
  double sum = 0;
  int n = 0;
  void add(double v) { sum += v, ++n; }
  double depth() const { return n ? -sum / n : 0.0; }
};

// Odd/even depths, the secondary at phase 0.5 and the nights with transit points, on each
// night's points divided by that night's median outside the transits and secondaries.
void judge_shape(const FieldCurve& c, PeriodicCandidate& k) {
  const auto& p = k.fit;
  const double half = p.duration / 2;
  std::map<int, std::vector<double>> out_of_event;
  for (std::size_t i = 0; i < c.lc.time.size(); ++i) {
    const double t = c.lc.time[i];
    if (std::abs(from_event(t, p, 0, nullptr)) >= half && std::abs(from_event(t, p, 0.5, nullptr)) >= half) {
      out_of_event[c.night[i]].push_back(c.lc.flux[i]);
    }
  }
  std::map<int, double> level;
  std::vector<double> residuals;
  for (auto& [n, v] : out_of_event) {
    level[n] = median(v);
    for (const double f : v) residuals.push_back(f / level[n] - 1);
  }
  const double scatter = residuals.size() > 2 ? mad_std(residuals) : 0.0;
  Mean odd, even, secondary;
  std::set<int> nights;
  for (std::size_t i = 0; i < c.lc.time.size(); ++i) {
    if (!level.count(c.night[i])) continue;  // a night wholly in transit: no level to measure against
    const double r = c.lc.flux[i] / level[c.night[i]] - 1;
    long epoch = 0;
    if (std::abs(from_event(c.lc.time[i], p, 0, &epoch)) < half) {
      (epoch % 2 == 0 ? even : odd).add(r);
      nights.insert(c.night[i]);
    } else if (std::abs(from_event(c.lc.time[i], p, 0.5, nullptr)) < half) {
      secondary.add(r);
    }
  }
  k.nights_covered = static_cast<int>(nights.size());
  if (odd.n > 0 && even.n > 0 && scatter > 0) {
    k.odd_even_diff = odd.depth() - even.depth();
    k.odd_even_sigma = std::abs(k.odd_even_diff) / (scatter * std::sqrt(1.0 / odd.n + 1.0 / even.n));
  }
  if (secondary.n > 0 && scatter > 0) {
    k.secondary_depth = secondary.depth();
    k.secondary_sigma = k.secondary_depth / (scatter / std::sqrt(double(secondary.n)));
  }
}

// The night's points as one light curve.
LightCurveData night_points(const FieldCurve& c, int night) {
  LightCurveData one;
  for (std::size_t i = 0; i < c.lc.time.size(); ++i) {
    if (c.night[i] != night) continue;
    one.time.push_back(c.lc.time[i]);
    one.flux.push_back(c.lc.flux[i]);
    one.flux_err.push_back(c.lc.flux_err[i]);
  }
  return one;
}

// The best single event: the highest single-transit ln Bayes factor among the nights holding at
// least half the most points in transit (an event at a night's very edge is weaker evidence
// than the same event mid-night, so the count alone does not pick it).
double best_event_ln_bf(const FieldCurve& c, const TransitCandidate& p) {
  std::map<int, int> in_transit;
  for (std::size_t i = 0; i < c.lc.time.size(); ++i) {
    if (std::abs(from_event(c.lc.time[i], p, 0, nullptr)) < p.duration / 2) ++in_transit[c.night[i]];
  }
  int most = 0;
  for (const auto& [night, n] : in_transit) most = std::max(most, n);
  double best = 0;
  bool any = false;
  for (const auto& [night, n] : in_transit) {
    if (2 * n < most) continue;
    const auto one = night_points(c, night);
    if (one.time.size() < 10) continue;
    SingleTransitOptions o;
    o.min_duration_d = p.duration / 2;
    o.max_duration_d = std::max(2 * p.duration, one.time.back() - one.time.front());
    o.durations = 6, o.epochs = 48, o.noise_scales = 5, o.edge_fraction = 0.25;
    const double bf = single_transit_bayes_factor(one.time, one.flux, one.flux_err, o).ln_bayes_factor;
    best = any ? std::max(best, bf) : bf;
    any = true;
  }
  return best;
}

void flag(PeriodicCandidate& k, const FieldSearchOptions& o) {
  const auto& p = k.fit;
  if (k.odd_even_sigma > o.eb_sigma) {
    k.flags.push_back(format("likely eclipsing binary: odd and even depths differ by %.2f %% (%.1f sigma)",
                             100 * k.odd_even_diff, k.odd_even_sigma));
  }
  if (k.secondary_sigma > o.eb_sigma) {
    k.flags.push_back(format("likely eclipsing binary: a %.2f %% eclipse at phase 0.5 (%.1f sigma)",
                             100 * k.secondary_depth, k.secondary_sigma));
  }
  if (k.secondary_sigma < -o.eb_sigma) {
    k.flags.push_back(format("variable: at phase 0.5 the flux rises %.2f %% above its level (%.1f sigma): pulsation or "
                             "ellipsoidal variation, not a transit",
                             -100 * k.secondary_depth, -k.secondary_sigma));
  }
  if (p.transits < o.few_transits) k.flags.push_back(format("too few transits: %d with data", p.transits));
  for (const int n : {1, 2, 3}) {
    if (std::abs(p.period / n - 1) < o.day_alias_tolerance) {
      k.flags.push_back(format("period %.4f d within %.0f %% of %d d: aligned with the day (systematics or an alias)",
                               p.period, 100 * o.day_alias_tolerance, n));
    } else if (n > 1 && std::abs(p.period * n - 1) < o.day_alias_tolerance) {
      k.flags.push_back(format("period %.4f d within %.0f %% of 1/%d d: aligned with the day (systematics or an alias)",
                               p.period, 100 * o.day_alias_tolerance, n));
    }
  }
  if (p.depth > o.max_planet_depth) k.flags.push_back(format("depth %.0f %%: too deep for a planet", 100 * p.depth));
}

}  // namespace

FieldCurve join_nights(const std::vector<LightCurveData>& nights) {
  FieldCurve out;
  for (std::size_t n = 0; n < nights.size(); ++n) {
    const auto& c = nights[n];
    out.lc.time.insert(out.lc.time.end(), c.time.begin(), c.time.end());
    out.lc.flux.insert(out.lc.flux.end(), c.flux.begin(), c.flux.end());
    out.lc.flux_err.insert(out.lc.flux_err.end(), c.flux_err.begin(), c.flux_err.end());
    out.night.insert(out.night.end(), c.time.size(), static_cast<int>(n));
  }
  return out;
}

std::string PeriodicCandidate::flags_text() const {
  std::string out;
  for (const auto& f : flags) out += (out.empty() ? "" : "; ") + f;
  return out;
}

std::vector<PeriodicCandidate> search_field_source(const FieldCurve& curve, const FieldSearchOptions& o) {
  std::vector<PeriodicCandidate> out;
  FieldCurve work = normalised(curve);
  for (int signal = 1; signal <= o.max_signals; ++signal) {
    if (work.lc.time.size() < 20) break;
    const auto r = search_transits(work.lc, search_options(work, o));
    const auto& peak = r.periodogram.peak;
    if (!(peak.snr >= o.min_snr)) break;
    PeriodicCandidate k;
    k.signal = signal;
    k.fit = peak;
    k.sde = r.periodogram.sde;
    judge_shape(work, k);
    k.single_ln_bf = best_event_ln_bf(work, peak);
    flag(k, o);
    // Masking an eclipsing binary's or a variable's best period leaves the rest of its light
    // curve: what the next search finds there is that star again, not a second planet.
    const bool after_variable = std::any_of(out.begin(), out.end(), [](const PeriodicCandidate& e) {
      const auto f = e.flags_text();
      return f.find("likely eclipsing binary") != std::string::npos || f.find("too deep for a planet") != std::string::npos ||
             f.find("not a transit") != std::string::npos;
    });
    if (after_variable) {
      k.flags.push_back("found after masking a likely eclipsing binary or variable: probably its residue");
    }
    out.push_back(std::move(k));
    work = mask(work, peak);
  }
  return out;
}

double inverted_peak_snr(const FieldCurve& curve, const FieldSearchOptions& o) {
  FieldCurve work = normalised(curve);
  if (work.lc.time.size() < 20) return 0;
  for (auto& f : work.lc.flux) f = 2 - f;
  const auto r = search_transits(work.lc, search_options(work, o));
  // Judged as the upright signal would be: one that a flag keeps from alerting (too deep, too
  // few transits, aligned with the day, an eclipsing binary's shape) is no false alarm of an
  // alert, and counting it would hold back a real planet in a field of few sources.
  PeriodicCandidate k;
  k.fit = r.periodogram.peak;
  judge_shape(work, k);
  flag(k, o);
  return k.flags.empty() ? k.fit.snr : 0.0;
}

double false_alarm_fraction(double snr, const std::vector<double>& inverted_peaks) {
  if (inverted_peaks.empty()) return 0;
  const auto above = std::count_if(inverted_peaks.begin(), inverted_peaks.end(), [&](double s) { return s >= snr; });
  return static_cast<double>(above) / static_cast<double>(inverted_peaks.size());
}

}  // namespace tianyu::pipeline::survey
