// relative_flux: the observation's raw fluxes (every radius) through the recipe
// pipeline::recipes::relative_flux (references, groups, pruning, best radius, precision); each
// source's light curve at its best aperture, its decisions and its precision, replacing any
// earlier run's rows. When no gain is known (no header card, no override) the errors the
// photometry computed rest on its default gain: the gain is then estimated (the flats' photon
// transfer, else the constant stars' scatter against flux) and every error recomputed with it
// before the light curves are made (issue 19). The observation's noise record (gain, method,
// the constant stars' reduced chi2) and each good frame's systematics are stored with them.
#include <cmath>
#include <map>
#include <optional>
#include <unordered_map>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/fits_io.h"
#include "pipeline/noise/night_noise.h"
#include "pipeline/photometry/aperture.h"
#include "pipeline/recipes/relative_flux.h"
#include "pipeline/robust_stats.h"
#include "pipeline/time/airmass.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

using pipeline::FluxTable;

struct Night {
  std::vector<std::uint64_t> source_ids, frame_ids;
  std::vector<double> bjd, x, y, exptimes;
  std::vector<bool> blended;
  std::vector<double> radii_px;
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
  n.radii_px = sources.radii_px;
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
  std::unordered_map<std::uint64_t, int> source_index, frame_index;
  for (std::size_t i = 0; i < n.source_ids.size(); ++i) source_index[n.source_ids[i]] = static_cast<int>(i);
  for (std::size_t i = 0; i < n.frame_ids.size(); ++i) frame_index[n.frame_ids[i]] = static_cast<int>(i);
  ctx.observation_store().each_raw_flux(obs, [&](const RawFlux& r) {
    const auto f = frame_index.find(r.frame_id);
    const auto s = source_index.find(r.source_id);
    if (f == frame_index.end() || s == source_index.end() || r.aperture_index >= n.radii) return;
    auto& t = tables[static_cast<std::size_t>(r.aperture_index)];
    const std::size_t k = static_cast<std::size_t>(s->second) * t.frames + f->second;
    t.flux[k] = r.flux.value_or(std::nan(""));
    t.flux_err[k] = r.flux_err.value_or(std::nan(""));
    t.flags[k] = static_cast<std::uint8_t>(r.flags);
    t.good_frame[f->second] = true;  // a frame whose photometry failed has no rows: not used
  });
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

// The gain from the observation's flats: flats of one level (within 10 %) paired, the first
// two biases as the bias pair; empty without a pair or when the curve refuses.
std::optional<pipeline::GainEstimate> gain_from_flats(StepContext& ctx, std::uint64_t obs) {
  const auto flats = ctx.observation_store().raw_frames(obs, "flat");
  if (flats.size() < 2) return std::nullopt;
  std::vector<pipeline::Image> images;
  for (const auto& f : flats) images.push_back(pipeline::read_fits(readable(ctx, f.path)).image);
  const auto pairs = pipeline::pair_flats_by_level(images);
  if (pairs.empty()) return std::nullopt;
  const auto biases = ctx.observation_store().raw_frames(obs, "bias");
  std::vector<pipeline::Image> bias;
  for (std::size_t i = 0; i < 2 && biases.size() >= 2; ++i) {
    bias.push_back(pipeline::read_fits(readable(ctx, biases[i].path)).image);
  }
  try {
    return pipeline::gain_from_flat_pairs(
        pairs, bias.size() == 2 ? pipeline::FramePair{&bias[0], &bias[1]} : pipeline::FramePair{});
  } catch (const pipeline::GainError& e) {
    spdlog::warn("process {}: observation {}: no gain from the flats: {}", ctx.process_id, obs, e.what());
    return std::nullopt;
  }
}

// The gain the errors rest on: the calibration's when there is one, else estimated; the
// tables' errors recomputed with an estimate. Returns the light curves made with it.
pipeline::recipes::ObservationLightCurves light_curves_with_gain(StepContext& ctx, std::uint64_t obs,
                                                                 const Night& night, double exptime_s,
                                                                 std::vector<FluxTable>& tables,
                                                                 ObservationNoiseRecord& noise) {
  const auto calibration = ctx.observation_store().frame_calibration(night.frame_ids.front());
  const auto known = calibration ? calibration->gain_e_per_adu : std::nullopt;
  const double used = known.value_or(pipeline::ApertureOptions{}.gain_e_per_adu);
  noise.gain_used_by_photometry = used;
  noise.gain_e_per_adu = used;
  noise.gain_method = known ? "header" : "assumed";
  noise.gain_detail = known ? "frame_calibration (the header's card or the observation's override)"
                            : "no gain known and none could be estimated: the photometry's default";
  auto lc = pipeline::recipes::relative_flux(tables, night.bjd, exptime_s);
  if (known) return lc;
  std::optional<pipeline::GainEstimate> estimate = gain_from_flats(ctx, obs);
  if (!estimate) {
    try {
      const auto stars = pipeline::constant_star_candidates(lc);
      const auto scatter = pipeline::constant_star_scatters(lc, tables, stars, used);
      estimate = pipeline::gain_from_constant_stars(scatter);
    } catch (const pipeline::GainError& e) {
      noise.gain_detail += std::string(" (") + e.what() + ")";
      return lc;
    }
  }
  noise.gain_e_per_adu = estimate->gain_e_per_adu;
  noise.gain_err = estimate->gain_err;
  if (std::isfinite(estimate->read_noise_e)) noise.read_noise_e = estimate->read_noise_e;
  noise.gain_method = pipeline::gain_source_name(estimate->source);
  noise.gain_detail = estimate->detail;
  spdlog::info("process {}: observation {}: gain {:.3f} +- {:.3f} e-/ADU ({}): {}", ctx.process_id, obs,
               estimate->gain_e_per_adu, estimate->gain_err, noise.gain_method, estimate->detail);
  // The constant stars' floor too (0 from flats): the errors then match their scatter at every flux.
  pipeline::recompute_flux_errors(tables, used, estimate->gain_e_per_adu, std::max(0.0, estimate->extra_variance_adu2),
                                  estimate->relative_floor);
  return pipeline::recipes::relative_flux(tables, night.bjd, exptime_s);
}

// The airmass of a frame: its AIRMASS card, else computed from the site's coordinates, the time
// and the pointing, else from a header altitude card.
void set_airmass(FrameSystematicsRecord& r, const FrameConditions& c, const std::optional<pipeline::Site>& site,
                 const std::optional<SkyPointing>& pointing) {
  if (c.airmass) {
    r.airmass = c.airmass;
    r.airmass_from = "header";
  } else if (site && pointing && c.jd_utc_mid) {
    r.airmass = finite(pipeline::airmass(*site, *c.jd_utc_mid, pointing->ra_deg, pointing->dec_deg));
    r.airmass_from = "site";
  } else if (c.altitude_deg) {
    r.airmass = finite(pipeline::pickering_airmass(*c.altitude_deg));
    r.airmass_from = "altitude";
  }
  if (!r.airmass) r.airmass_from.clear();
}

std::vector<FrameSystematicsRecord> systematics_of(StepContext& ctx, std::uint64_t obs, const Night& night,
                                                   const std::vector<FluxTable>& tables,
                                                   const pipeline::recipes::ObservationLightCurves& lc) {
  auto& store = ctx.observation_store();
  std::map<std::uint64_t, FrameConditions> conditions;
  for (const auto& c : store.frame_conditions(obs)) conditions[c.frame_id] = c;
  const auto site = store.site_location(obs);
  const auto pointing = store.pointing(obs);
  const auto stars = pipeline::constant_star_candidates(lc);
  const auto fwhm = pipeline::seeing_fwhm_px(tables, night.radii_px, stars);
  const auto clear = pipeline::transparency(tables, night.radii_px, stars);
  std::vector<FrameSystematicsRecord> out;
  for (std::size_t f = 0; f < night.frame_ids.size(); ++f) {
    FrameSystematicsRecord& r = out.emplace_back();
    r.frame_id = night.frame_ids[f];
    if (f < fwhm.size()) r.fwhm_px = finite(fwhm[f]);
    if (f < clear.size()) r.transparency = finite(clear[f]);
    const auto c = conditions.find(r.frame_id);
    if (c == conditions.end()) continue;
    set_airmass(r, c->second, site, pointing);
    r.background_adu = c->second.background_adu;
    r.dx_px = c->second.dx;
    r.dy_px = c->second.dy;
  }
  return out;
}

void calibrate_observation(StepContext& ctx, const contract::ObservationParams& params) {
  const auto obs = params.observation_id;
  run_with_failure_context(fmt::format("relative flux of observation {}", obs), [&] {
    const auto night = load_night(ctx, obs);
    const double exptime_s = night.exptimes.empty() ? std::nan("") : pipeline::median(night.exptimes);
    auto tables = load_fluxes(ctx, obs, night);
    ObservationNoiseRecord noise;
    const auto lc = light_curves_with_gain(ctx, obs, night, exptime_s, tables, noise);
    int references = 0;
    for (const auto& s : lc.sources) references += s.is_reference;
    noise.constant_stars = references;
    noise.constant_stars_reduced_chi2 = finite(lc.constant_stars_reduced_chi2);
    spdlog::info("process {}: observation {}: {} light curves of {} good frames, {} references in {} groups, "
                 "constant stars' reduced chi2 {:.3f}",
                 ctx.process_id, obs, lc.sources.size(), night.frame_ids.size(), references, lc.groups.size(),
                 lc.constant_stars_reduced_chi2);
    ctx.observation_store().stage_relative_flux(obs, records_of(night, lc));
    ctx.observation_store().stage_noise_and_systematics(obs, noise, systematics_of(ctx, obs, night, tables, lc));
  });
}

}  // namespace

void register_relative_flux_step(StepRegistry& registry) {
  registry.add<contract::ObservationParams>("relative_flux", calibrate_observation);
}

}  // namespace tianyu::consumer::steps
