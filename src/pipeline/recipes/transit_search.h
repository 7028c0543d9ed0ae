#pragma once
// The transit_search step's recipe, the one the consumer runs and the tests and benchmarks
// judge: every light curve of an observation through the single-transit model comparison
// (pipeline/transit/single_transit.h) on a coarser grid than the interactive default (every
// source of the night is searched), on all cores (parallel.h: a worker's exception reaches the
// caller).
#include <vector>

#include "pipeline/transit/search.h"
#include "pipeline/transit/single_transit.h"

namespace tianyu::pipeline::recipes {

struct TransitSearchOptions {
  int epochs = 48, durations = 8, noise_scales = 5;  // grid sizes of the marginalisation
  // Durations searched per curve: from max(min_duration_d, min_duration_cadences x its mean
  // cadence) to max(2 x that, max_duration_span x its time span).
  double min_duration_d = 0.01;
  double min_duration_cadences = 5;
  double max_duration_span = 1.0;  // the whole night: a long transit fills it
  double edge_fraction = 0.25;     // partial events at either end (SingleTransitOptions)
  int min_points = 20;  // a curve with fewer points is not searched
  int threads = 0;      // 0: one per core; results do not depend on it
};

struct TransitSearchResult {
  bool searched = false;  // false: under min_points
  int points = 0;
  SingleTransitResult transit;
};

struct TransitCandidates {
  std::vector<TransitSearchResult> curves;  // in the input's order
  int strongest = -1;                       // index of the highest ln Bayes factor searched
};

// `curves`: time (BJD, ascending), relative flux and its error per source, clean points only.
// Throws RecipeInputError when no curve has min_points; rethrows any curve's failure.
TransitCandidates transit_search(const std::vector<LightCurveData>& curves, const TransitSearchOptions& options = {});

// The single-transit options for one curve (grid and duration range as above).
SingleTransitOptions single_transit_options(const LightCurveData& curve, const TransitSearchOptions& options);

}  // namespace tianyu::pipeline::recipes
