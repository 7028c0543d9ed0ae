// relative_flux: the observation's raw fluxes (every radius) through the recipe
// pipeline::recipes::relative_flux (references, groups, pruning, best radius, precision); each
// source's light curve at its best aperture, its decisions and its precision, replacing any
// earlier run's rows.
#include <cmath>
#include <map>
#include <optional>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/recipes/relative_flux.h"
#include "pipeline/robust_stats.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

using pipeline::FluxTable;

struct Night {
  std::vector<std::uint64_t> source_ids, frame_ids;
  std::vector<double> bjd, x, y, exptimes;
  std::vector<bool> blended;
  int radii = 0;
};

Night load_night(StepContext& ctx, std::uint64_t obs) {
  auto& store = ctx.observation_store();
  Night n;
  const auto sources = store.template_sources(obs);
  n.source_ids = sources.ids;
  n.x = sources.x;
  n.y = sources.y;
  for (const bool isolated : sources.isolated) n.blended.push_back(!isolated);
  for (const auto& f : store.good_frames(obs)) {
    n.frame_ids.push_back(f.frame_id);
    n.bjd.push_back(f.bjd_tdb_mid);
    if (f.exptime_s) n.exptimes.push_back(*f.exptime_s);
  }
  n.radii = static_cast<int>(sources.radii_px.size());
  if (n.source_ids.empty() || n.frame_ids.empty() || n.radii == 0) {
    throw InputError(fmt::format("observation {} has {} sources, {} good frames, {} apertures", obs,
                                 n.source_ids.size(), n.frame_ids.size(), n.radii));
  }
  return n;
}

std::vector<FluxTable> empty_tables(const Night& n) {
  const int stars = static_cast<int>(n.source_ids.size()), frames = static_cast<int>(n.frame_ids.size());
  std::vector<FluxTable> tables(static_cast<std::size_t>(n.radii));
  for (auto& t : tables) {
    t.stars = stars;
    t.frames = frames;
    t.flux.assign(static_cast<std::size_t>(stars) * frames, std::nan(""));
    t.flux_err.assign(t.flux.size(), std::nan(""));
    t.flags.assign(t.flux.size(), 0);
    t.x = n.x;
    t.y = n.y;
    t.blended = n.blended;
    t.good_frame.assign(frames, false);
  }
  return tables;
}

std::vector<FluxTable> load_fluxes(StepContext& ctx, std::uint64_t obs, const Night& n) {
  auto tables = empty_tables(n);
  std::map<std::uint64_t, int> source_index, frame_index;
  for (std::size_t i = 0; i < n.source_ids.size(); ++i) source_index[n.source_ids[i]] = static_cast<int>(i);
  for (std::size_t i = 0; i < n.frame_ids.size(); ++i) frame_index[n.frame_ids[i]] = static_cast<int>(i);
  for (const auto& r : ctx.observation_store().raw_fluxes(obs)) {
    const auto f = frame_index.find(r.frame_id);
    const auto s = source_index.find(r.source_id);
    if (f == frame_index.end() || s == source_index.end() || r.aperture_index >= n.radii) continue;
    auto& t = tables[static_cast<std::size_t>(r.aperture_index)];
    const std::size_t k = static_cast<std::size_t>(s->second) * t.frames + f->second;
    t.flux[k] = r.flux.value_or(std::nan(""));
    t.flux_err[k] = r.flux_err.value_or(std::nan(""));
    t.flags[k] = static_cast<std::uint8_t>(r.flags);
    t.good_frame[f->second] = true;  // a frame whose photometry failed has no rows: not used
  }
  return tables;
}

std::optional<double> finite(double v) { return std::isfinite(v) ? std::optional<double>(v) : std::nullopt; }

std::vector<ReferenceGroup> groups_of(const Night& n, const pipeline::recipes::ObservationLightCurves& lc) {
  std::vector<ReferenceGroup> out;
  for (std::size_t g = 0; g < lc.groups.size(); ++g) {
    const auto& group = lc.groups[g];
    nlohmann::json dropped = nlohmann::json::array();
    for (std::size_t d = 0; d < group.dropped.size(); ++d) {
      dropped.push_back({{"source_id", n.source_ids[static_cast<std::size_t>(group.dropped[d])]},
                         {"reason", d < group.dropped_reason.size() ? group.dropped_reason[d] : ""}});
    }
    out.push_back({std::int64_t(g), std::int64_t{group.position_bin}, group.min_flux, group.max_flux,
                   std::isfinite(group.snr) ? group.snr : 0.0, std::int64_t(group.references.size()),
                   dropped.dump()});
  }
  return out;
}

RelativeFluxRecords records_of(const Night& n, const pipeline::recipes::ObservationLightCurves& lc) {
  RelativeFluxRecords out;
  for (std::size_t s = 0; s < lc.sources.size(); ++s) {
    const auto& src = lc.sources[s];
    for (std::size_t f = 0; f < n.frame_ids.size(); ++f) {
      const bool ok = std::isfinite(src.rel_flux[f]) && std::isfinite(src.rel_flux_err[f]);
      out.curves.push_back({n.source_ids[s], n.frame_ids[f], ok ? finite(src.rel_flux[f]) : std::nullopt,
                            ok ? finite(src.rel_flux_err[f]) : std::nullopt, std::uint32_t{src.flags[f]}});
    }
    SourcePhotometry& p = out.sources.emplace_back();
    p.source_id = n.source_ids[s];
    if (src.best_aperture >= 0) p.best_aperture = std::uint64_t(src.best_aperture);
    if (src.group >= 0) p.group = std::int64_t{src.group};
    p.is_reference = src.is_reference;
    p.decision = src.decision;
    p.median_flux = finite(src.median_flux);
    p.instrumental_mag = finite(src.instrumental_mag);
    p.rms = finite(src.rms);
    p.cdpp_ppm = finite(src.cdpp_ppm);
    p.points = std::int64_t{src.points};
  }
  out.groups = groups_of(n, lc);
  return out;
}

void calibrate_observation(StepContext& ctx, const contract::ObservationParams& params) {
  const auto obs = params.observation_id;
  run_with_failure_context(fmt::format("relative flux of observation {}", obs), [&] {
    const auto night = load_night(ctx, obs);
    const double exptime_s = night.exptimes.empty() ? std::nan("") : pipeline::median(night.exptimes);
    const auto lc = pipeline::recipes::relative_flux(load_fluxes(ctx, obs, night), night.bjd, exptime_s);
    int references = 0;
    for (const auto& s : lc.sources) references += s.is_reference;
    spdlog::info("process {}: observation {}: {} light curves of {} good frames, {} references in {} groups",
                 ctx.process_id, obs, lc.sources.size(), night.frame_ids.size(), references, lc.groups.size());
    ctx.observation_store().stage_relative_flux(obs, records_of(night, lc));
  });
}

}  // namespace

void register_relative_flux_step(StepRegistry& registry) {
  registry.add<contract::ObservationParams>("relative_flux", calibrate_observation);
}

}  // namespace tianyu::consumer::steps
