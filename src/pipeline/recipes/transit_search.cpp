#include "pipeline/recipes/transit_search.h"

#include <algorithm>
#include <string>

#include "pipeline/parallel.h"
#include "pipeline/recipes/recipe_error.h"

namespace tianyu::pipeline::recipes {

SingleTransitOptions single_transit_options(const LightCurveData& curve, const TransitSearchOptions& options) {
  SingleTransitOptions o;
  o.epochs = options.epochs;
  o.durations = options.durations;
  o.noise_scales = options.noise_scales;
  o.edge_fraction = options.edge_fraction;
  const auto& t = curve.time;
  const double span = t.size() > 1 ? t.back() - t.front() : 0.0;
  const double cadence = t.size() > 1 ? span / static_cast<double>(t.size() - 1) : 0.0;
  o.min_duration_d = std::max(options.min_duration_d, options.min_duration_cadences * cadence);
  o.max_duration_d = std::max(o.min_duration_d * 2, options.max_duration_span * span);
  return o;
}

TransitCandidates transit_search(const std::vector<LightCurveData>& curves, const TransitSearchOptions& options) {
  TransitCandidates out;
  out.curves.resize(curves.size());
  std::vector<std::size_t> searched;
  for (std::size_t i = 0; i < curves.size(); ++i) {
    out.curves[i].points = static_cast<int>(curves[i].time.size());
    if (out.curves[i].points >= options.min_points) searched.push_back(i);
  }
  if (searched.empty()) {
    throw RecipeInputError("no light curve with " + std::to_string(options.min_points) + " clean points");
  }
  parallel_for(searched.size(), options.threads, [&](std::size_t k) {
    const auto i = searched[k];
    const auto& c = curves[i];
    out.curves[i].transit = single_transit_bayes_factor(c.time, c.flux, c.flux_err, single_transit_options(c, options));
    out.curves[i].searched = true;
  });
  for (const auto i : searched) {  // the first of equals, in the input's order
    if (out.strongest < 0 || out.curves[i].transit.ln_bayes_factor > out.curves[out.strongest].transit.ln_bayes_factor) {
      out.strongest = static_cast<int>(i);
    }
  }
  return out;
}

}  // namespace tianyu::pipeline::recipes
