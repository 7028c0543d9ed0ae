// match_field: the night's sources joined to their field's catalogue (ids stable across nights),
// with each field source's three nearest Tycho-2 stars and, when the operator gave one, the
// three nearest stars of a catalogue extract. An unsolved night has no RA/Dec: it succeeds
// without matching (its light curves stay per observation, the reason is in observation_wcs).
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/field_catalogue.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/catalogues/tycho2.h"
#include "pipeline/sky/catalogue_extract.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

// The catalogue stars in the circle that holds the frame (with a margin for the field sources
// of other nights' pointings, which the frame may only partly overlap).
FieldNight catalogues_around(StepContext& ctx, const contract::MatchFieldParams& params, const SolvedObservation& solved) {
  FieldNight night;
  const double radius = 1.25 * solved.radius_deg;
  if (params.tycho2) {
    try {
      night.catalogues.emplace_back(
          "tycho2", pipeline::catalogues::tycho2_stars_around(solved.centre_ra_deg, solved.centre_dec_deg, radius));
    } catch (const pipeline::catalogues::CatalogueError& e) {
      if (e.retryable()) throw;
      // The neighbours are an annotation: a site without the index packages still matches.
      spdlog::warn("process {}: no Tycho-2 neighbours: {}", ctx.process_id, e.what());
    }
  }
  if (!params.catalogue_file.empty()) {
    pipeline::sky::CatalogueExtractOptions options;
    options.catalogue = params.catalogue_name;
    auto stars = pipeline::sky::read_catalogue_extract(ctx.store->for_reading(params.catalogue_file), options);
    const auto name = params.catalogue_name.empty() ? std::string("operator") : params.catalogue_name;
    night.catalogues.emplace_back(name, std::move(stars));
  }
  return night;
}

void match_field(StepContext& ctx, const contract::MatchFieldParams& params) {
  const auto obs = params.observation_id;
  run_with_failure_context(fmt::format("match the sources of observation {} to their field", obs), [&] {
    auto solved = load_solved_observation(*ctx.db, obs);
    if (!solved) {
      spdlog::info("process {}: observation {} has no astrometric solution: its sources stay per observation",
                   ctx.process_id, obs);
      return;
    }
    auto night = catalogues_around(ctx, params, *solved);
    night.observation_id = obs;
    night.sources = std::move(solved->sources);
    night.radius_arcsec = pipeline::sky::match_radius_arcsec(solved->pixel_scale_arcsec,
                                                             solved->median_fwhm_px > 0 ? solved->median_fwhm_px : 1.0);
    const auto process = ctx.process_id;
    ctx.on_commit([night = std::move(night), process](db::Connection& c) {
      const auto s = merge_night_rows(c, night);
      spdlog::info("process {}: observation {} into field {}: {} matched, {} new, {} blends; {} field sources "
                   "(radius {:.1f}\")",
                   process, night.observation_id, s.field_id, s.matched, s.new_sources, s.blends, s.field_size,
                   night.radius_arcsec);
    });
  });
}

}  // namespace

void register_match_field_step(StepRegistry& registry) {
  registry.add<contract::MatchFieldParams>("match_field", match_field);
}

}  // namespace tianyu::consumer::steps
