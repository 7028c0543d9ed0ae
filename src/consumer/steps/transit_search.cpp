// transit_search: every light curve of an observation through the recipe
// pipeline::recipes::transit_search (the single-transit model comparison on all cores), ranked
// by log Bayes factor in SQL.
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/recipes/transit_search.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

void search_observation(StepContext& ctx, const contract::ObservationParams& params) {
  const auto obs = params.observation_id;
  run_with_failure_context(fmt::format("transit search of observation {}", obs), [&] {
    auto& store = ctx.observation_store();
    const auto night = store.light_curves(obs);  // clean points only (flags 0, a positive relative flux)
    std::vector<pipeline::LightCurveData> curves;
    for (const auto& c : night) curves.push_back(c.curve);
    const auto found = pipeline::recipes::transit_search(curves);
    std::vector<TransitCandidate> candidates;
    for (std::size_t i = 0; i < found.curves.size(); ++i) {
      const auto& c = found.curves[i];
      if (!c.searched) continue;
      candidates.push_back({night[i].source_id, c.transit.ln_bayes_factor, c.transit.best_t0, c.transit.best_duration,
                            c.transit.best_depth, std::int64_t(c.points)});
    }
    const auto& best = found.curves[static_cast<std::size_t>(found.strongest)];
    spdlog::info("process {}: observation {}: {} light curves searched; the strongest single transit is source {} "
                 "(ln BF {:.1f}, depth {:.2f} %)",
                 ctx.process_id, obs, candidates.size(), night[static_cast<std::size_t>(found.strongest)].source_id,
                 best.transit.ln_bayes_factor, 100 * best.transit.best_depth);
    store.stage_transit_candidates(obs, std::move(candidates));
  });
}

}  // namespace

void register_transit_search_step(StepRegistry& registry) {
  registry.add<contract::ObservationParams>("transit_search", search_observation);
}

}  // namespace tianyu::consumer::steps
