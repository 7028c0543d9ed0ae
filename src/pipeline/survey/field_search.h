#pragma once
// The survey search of one field source across its nights: its light curve joined over the
// nights (flagged points already left out by the caller), each night's offset a free column of
// the model (a normalisation per night would eat a transit that fills much of a night), searched
// for periodic transits with the GP search (pipeline/transit/search.h; BLS as the baseline),
// the best signal masked and the search repeated for more planets. Each signal is then judged
// on the same points: odd against even transits, an eclipse at phase 0.5, how many transits and
// nights hold data, the period against the day, and the best single event's ln Bayes factor.
#include <string>
#include <vector>

#include "pipeline/transit/search.h"

namespace tianyu::pipeline::survey {

// One field source's clean points across nights, in time order; night[i] numbers the night of
// point i (0, 1, ... in time order).
struct FieldCurve {
  LightCurveData lc;
  std::vector<int> night;
};

// Joins per-night curves (each in time order, nights in time order) into one field curve.
FieldCurve join_nights(const std::vector<LightCurveData>& nights);

struct FieldSearchOptions {
  SearchMethod method = SearchMethod::gp;
  double min_period_d = 0.5, max_period_d = 0;  // 0: half the time span
  int periods = 4000;
  std::vector<double> durations{0.04, 0.06, 0.08, 0.1, 0.125, 0.15};
  int min_transits = 2;
  int max_signals = 3;          // the strongest, then after masking
  double min_snr = 7;           // a signal under it is not kept (and ends the masking)
  int threads = 1;
  // Flags.
  double eb_sigma = 3;          // odd-even difference or secondary depth above this: likely EB
  int few_transits = 3;         // fewer transits with data: "too few transits"
  double day_alias_tolerance = 0.01;  // |P / n - 1| or |n P - 1| under it, n = 1, 2, 3: aligned with the day
  double max_planet_depth = 0.25;
};

struct PeriodicCandidate {
  int signal = 1;  // 1 = strongest, 2 = after masking it, ...
  TransitCandidate fit;  // period, t0, duration, depth, depth_err, snr, transits
  double sde = 0;
  int nights_covered = 0;
  double odd_even_diff = 0, odd_even_sigma = 0;
  double secondary_depth = 0, secondary_sigma = 0;
  double single_ln_bf = 0;  // the best event's night through the single-transit comparison
  std::vector<std::string> flags;
  std::string flags_text() const;
};

// The signals of one field source, strongest first; empty when none reaches min_snr.
std::vector<PeriodicCandidate> search_field_source(const FieldCurve& curve, const FieldSearchOptions& options);

// The strongest peak SNR of the same search on the curve turned upside down (1 - (f - 1)): a
// dip found there is noise or systematics, so the field's inverted peaks estimate how often a
// signal of a given SNR arises by chance. A peak that upright would carry a flag (deeper than any
// planet, too few transits, aligned with the day, odd-even or secondary) counts 0: it would never
// be alerted, so it is no false alarm of an alert.
double inverted_peak_snr(const FieldCurve& curve, const FieldSearchOptions& options);

// The fraction of `inverted_peaks` at or above `snr`.
double false_alarm_fraction(double snr, const std::vector<double>& inverted_peaks);

}  // namespace tianyu::pipeline::survey
