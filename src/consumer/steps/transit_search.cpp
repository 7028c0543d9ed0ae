// transit_search: every light curve of an observation through the recipe
// pipeline::recipes::transit_search (the single-transit model comparison on all cores, durations
// up to the whole night, partial events at either end), then every candidate vetted against its
// own light curve and the field around it (pipeline/survey/night_vetting.h) and ranked: the
// vetting and its reasons in transit_vetting, read through the survey store.
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/alerts.h"
#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "consumer/steps/survey_store.h"
#include "pipeline/recipes/transit_search.h"
#include "pipeline/time/astro_time.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

namespace survey = pipeline::survey;

// A vetted (passed) single transit at or above this ln Bayes factor is an alert: e^20 to 1 for
// the transit model, well above the constant stars of the simulated and real nights (issue 21).
constexpr double kAlertLnBayesFactor = 20;

// The night's sources in the order of `night` (by source id, as both are read); a source the
// night has no row for (not expected) gets an empty context, which only disables its tests.
std::vector<survey::NightSource> sources_for(const std::vector<SourceLightCurve>& night,
                                             const std::vector<survey::NightSource>& all) {
  std::vector<survey::NightSource> out;
  std::size_t j = 0;
  for (const auto& c : night) {
    while (j < all.size() && all[j].source_id < c.source_id) ++j;
    if (j < all.size() && all[j].source_id == c.source_id) {
      out.push_back(all[j]);
    } else {
      survey::NightSource s;
      s.source_id = c.source_id;
      s.frames = static_cast<int>(c.curve.time.size());
      out.push_back(s);
    }
  }
  return out;
}

template <class T>
alerts::Alert single_transit_alert(SurveyStore& store, std::uint64_t obs, const TransitVettingRow& r, const T& t) {
  alerts::Alert a;
  a.kind = "single_transit";
  a.role = alerts::default_role();
  a.ivorn = fmt::format("{}#single-o{}-s{}", alerts::kIvornBase, obs, r.source_id);
  a.observation_id = obs;
  a.source_id = r.source_id;
  const auto at = store.source_position(obs, r.source_id);
  if (at) a.ra_deg = at->ra_deg, a.dec_deg = at->dec_deg;
  a.event_bjd_tdb = t.best_t0;
  double jd = t.best_t0 - (32.184 + pipeline::tai_minus_utc(t.best_t0)) / 86400.0;
  if (at) {
    for (int k = 0; k < 3; ++k) jd += t.best_t0 - pipeline::bjd_tdb(jd, at->ra_deg, at->dec_deg);
  }
  a.event_utc = pipeline::iso_from_jd(jd) + "Z";
  a.duration_d = t.best_duration;
  a.depth = r.vetting.dip.depth;
  a.depth_err = r.vetting.dip.depth_err;
  a.ln_bayes_factor = t.ln_bayes_factor;
  a.snr = r.vetting.dip.snr();
  a.summary = fmt::format("observation {} source {}: a single transit, ln BF {:.1f}, depth {:.2f} +- {:.2f} %, "
                          "vetted rank {}{}{}",
                          obs, r.source_id, t.ln_bayes_factor, 100 * a.depth, 100 * a.depth_err, r.vetting.rank,
                          r.vetting.reasons.empty() ? "" : "; ", r.vetting.reasons_text());
  return a;
}

void vet_and_stage(StepContext& ctx, std::uint64_t obs, const std::vector<SourceLightCurve>& night,
                   const std::vector<pipeline::LightCurveData>& curves,
                   const pipeline::recipes::TransitCandidates& found) {
  SurveyStore store(*ctx.db, ctx);
  survey::NightVettingOptions options;
  if (const auto size = store.frame_size(obs)) std::tie(options.frame_width, options.frame_height) = *size;
  const auto sources = sources_for(night, store.night_sources(obs));
  std::vector<survey::NightCandidate> candidates;
  for (std::size_t i = 0; i < found.curves.size(); ++i) {
    const auto& t = found.curves[i].transit;
    if (found.curves[i].searched) candidates.push_back({i, t.ln_bayes_factor, t.best_t0, t.best_duration, t.best_depth});
  }
  const auto vetted = survey::vet_night(curves, sources, candidates, options);
  std::vector<TransitVettingRow> rows;
  const TransitVettingRow* first = nullptr;
  for (const auto& v : vetted) rows.push_back({night[v.curve].source_id, v});
  for (const auto& r : rows) {
    if (r.vetting.rank == 1) first = &r;
  }
  if (first) {
    spdlog::info("process {}: observation {}: first after vetting: source {} (ln BF {:.1f}, depth {:.2f} % at {:.1f} "
                 "sigma of its own scatter): {}",
                 ctx.process_id, obs, first->source_id, found.curves[first->vetting.curve].transit.ln_bayes_factor,
                 100 * first->vetting.dip.depth, first->vetting.dip.snr(), first->vetting.reasons_text());
  }
  std::vector<alerts::Alert> raised;
  for (const auto& r : rows) {
    const auto& t = found.curves[r.vetting.curve].transit;
    if (r.vetting.passed && t.ln_bayes_factor >= kAlertLnBayesFactor) {
      raised.push_back(single_transit_alert(store, obs, r, t));
    }
  }
  store.stage_transit_vetting(obs, std::move(rows));
  store.stage_alerts(std::move(raised));
}

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
    // The in-memory double of the unit tests has no database: the vetting needs the night's
    // source table, so it runs only against MariaDB.
    if (ctx.db) vet_and_stage(ctx, obs, night, curves, found);
  });
}

}  // namespace

void register_transit_search_step(StepRegistry& registry) {
  registry.add<contract::ObservationParams>("transit_search", search_observation);
}

}  // namespace tianyu::consumer::steps
