// relative_flux: the observation's raw fluxes (every radius) through reference selection and
// relative-flux calibration (pipeline/photometry/relative_flux.h); each source's light curve at
// its best aperture, its decisions and its precision, replacing any earlier run's rows.
#include <algorithm>
#include <cmath>
#include <map>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/photometry/precision.h"
#include "pipeline/photometry/relative_flux.h"

namespace tianyu::consumer::steps {
namespace {

using pipeline::FluxTable;
using pipeline::RelativeFluxResult;

double median_of(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return std::nan("");
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

struct Observation {
  std::vector<std::uint64_t> source_ids, frame_ids;
  std::vector<double> bjd;
  double exptime_s = 1;
  std::vector<FluxTable> tables;  // one per aperture
};

Observation load(const StepContext& ctx, std::uint64_t obs) {
  Observation o;
  std::vector<double> x, y;
  std::vector<bool> blended;
  for (const auto& r : ctx.db->query(
           "SELECT source_id, x_px, y_px, isolated FROM source WHERE observation_id = ? ORDER BY source_id", {obs})) {
    o.source_ids.push_back(r.u64(0));
    x.push_back(r.f64(1));
    y.push_back(r.f64(2));
    blended.push_back(r.i64(3) == 0);
  }
  std::vector<double> exptimes;
  for (const auto& r : ctx.db->query(
           "SELECT f.frame_id, f.bjd_tdb_mid, f.exptime_s FROM raw_frame f JOIN frame_quality q ON q.frame_id = f.frame_id "
           "WHERE f.observation_id = ? AND q.good = 1 ORDER BY f.bjd_tdb_mid, f.frame_id",
           {obs})) {
    o.frame_ids.push_back(r.u64(0));
    o.bjd.push_back(r.f64(1));
    exptimes.push_back(r.f64(2));
  }
  const int radii = static_cast<int>(ctx.db->query_one("SELECT COUNT(*) FROM aperture WHERE observation_id = ?", {obs}).i64(0));
  if (o.source_ids.empty() || o.frame_ids.empty() || radii == 0) {
    throw InputError(fmt::format("observation {} has {} sources, {} good frames, {} apertures", obs,
                                 o.source_ids.size(), o.frame_ids.size(), radii));
  }
  o.exptime_s = median_of(exptimes);
  std::map<std::uint64_t, int> source_index, frame_index;
  for (std::size_t i = 0; i < o.source_ids.size(); ++i) source_index[o.source_ids[i]] = static_cast<int>(i);
  for (std::size_t i = 0; i < o.frame_ids.size(); ++i) frame_index[o.frame_ids[i]] = static_cast<int>(i);
  const int stars = static_cast<int>(o.source_ids.size()), frames = static_cast<int>(o.frame_ids.size());
  o.tables.resize(radii);
  for (auto& t : o.tables) {
    t.stars = stars;
    t.frames = frames;
    t.flux.assign(static_cast<std::size_t>(stars) * frames, std::nan(""));
    t.flux_err.assign(t.flux.size(), std::nan(""));
    t.flags.assign(t.flux.size(), 0);
    t.x = x;
    t.y = y;
    t.blended = blended;
    t.good_frame.assign(frames, false);
  }
  for (const auto& r : ctx.db->query(
           "SELECT frame_id, source_id, aperture_index, flux, flux_err, flags FROM raw_flux WHERE observation_id = ?",
           {obs})) {
    const auto f = frame_index.find(r.u64(0));
    const auto s = source_index.find(r.u64(1));
    const auto a = static_cast<int>(r.i64(2));
    if (f == frame_index.end() || s == source_index.end() || a >= radii) continue;
    auto& t = o.tables[a];
    const std::size_t k = static_cast<std::size_t>(s->second) * frames + f->second;
    t.flux[k] = r.is_null(3) ? std::nan("") : r.f64(3);
    t.flux_err[k] = r.is_null(4) ? std::nan("") : r.f64(4);
    t.flags[k] = static_cast<std::uint8_t>(r.i64(5));
    t.good_frame[f->second] = true;  // a frame whose photometry failed has no rows: not used
  }
  return o;
}

void calibrate_observation(StepContext& ctx) {
  const auto obs = observation_of(ctx);
  as_step(fmt::format("relative flux of observation {}", obs), [&] {
    auto o = load(ctx, obs);
    const int stars = o.tables.front().stars, frames = o.tables.front().frames;
    const auto results = pipeline::calibrate_relative_flux_radii(o.tables);
    std::vector<const RelativeFluxResult*> pointers;
    for (const auto& r : results) pointers.push_back(&r);
    const auto best = pipeline::best_radius_by_scatter(pointers);
    // The radius most stars prefer gives the groups recorded for the observation.
    std::vector<int> votes(results.size(), 0);
    for (const int b : best) if (b >= 0) ++votes[b];
    const auto main_radius = static_cast<std::size_t>(std::max_element(votes.begin(), votes.end()) - votes.begin());
    // A light curve per source at its best aperture; cdpp over ~30 min of cadences.
    double cadence_d = 0;
    if (frames > 1) cadence_d = (o.bjd.back() - o.bjd.front()) / (frames - 1);
    const int half_hour = cadence_d > 0 ? std::max(1, static_cast<int>(std::lround(0.5 / 24 / cadence_d))) : 1;

    std::vector<db::Param> curve_rows, source_rows;
    int references = 0;
    for (int s = 0; s < stars; ++s) {
      const int b = best[s];
      const auto& r = results[b >= 0 ? b : main_radius];
      std::vector<double> curve(frames), raw(frames);
      for (int f = 0; f < frames; ++f) {
        const std::size_t k = static_cast<std::size_t>(s) * frames + f;
        curve[f] = r.rel_flux[k];
        raw[f] = o.tables[b >= 0 ? b : main_radius].flux[k];
        const bool finite = std::isfinite(r.rel_flux[k]) && std::isfinite(r.rel_flux_err[k]);
        curve_rows.insert(curve_rows.end(), {obs, o.source_ids[s], o.frame_ids[f],
                                             finite ? db::Param(r.rel_flux[k]) : db::Param(nullptr),
                                             finite ? db::Param(r.rel_flux_err[k]) : db::Param(nullptr),
                                             std::uint64_t{r.flags[k]}});
      }
      const double median_flux = median_of(raw);
      int points = 0;
      for (const double v : curve) points += std::isfinite(v);
      db::Param rms = nullptr, cdpp = nullptr;
      if (points >= 3) rms = pipeline::relative_rms(curve);
      if (points > 2 * half_hour + 3) {
        try {
          const double v = pipeline::cdpp_ppm(curve, half_hour, std::min(101, (points / 2) * 2 - 1));
          if (std::isfinite(v)) cdpp = v;
        } catch (const std::exception&) {  // too short a curve for the trend window: no CDPP
        }
      }
      const bool is_reference = r.is_reference[s];
      references += is_reference;
      source_rows.insert(source_rows.end(),
                         {obs, o.source_ids[s], b >= 0 ? db::Param(std::uint64_t(b)) : db::Param(nullptr),
                          r.group[s] >= 0 ? db::Param(std::int64_t{r.group[s]}) : db::Param(nullptr),
                          std::int64_t{is_reference}, r.decision[s].substr(0, 512),
                          std::isfinite(median_flux) ? db::Param(median_flux) : db::Param(nullptr),
                          median_flux > 0 ? db::Param(-2.5 * std::log10(median_flux / o.exptime_s)) : db::Param(nullptr),
                          rms, cdpp, std::int64_t{points}});
    }
    std::vector<db::Param> group_rows;
    const auto& groups = results[main_radius].groups;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      nlohmann::json dropped = nlohmann::json::array();
      for (std::size_t d = 0; d < groups[g].dropped.size(); ++d) {
        dropped.push_back({{"source_id", o.source_ids[groups[g].dropped[d]]},
                           {"reason", d < groups[g].dropped_reason.size() ? groups[g].dropped_reason[d] : ""}});
      }
      group_rows.insert(group_rows.end(), {obs, std::int64_t(g), std::int64_t{groups[g].position_bin},
                                           groups[g].min_flux, groups[g].max_flux,
                                           std::isfinite(groups[g].snr) ? groups[g].snr : 0.0,
                                           std::int64_t(groups[g].references.size()), dropped.dump()});
    }
    spdlog::info("process {}: observation {}: {} light curves of {} good frames, {} references in {} groups",
                 ctx.process_id, obs, stars, frames, references, groups.size());
    ctx.on_commit([obs, curve_rows = std::move(curve_rows), source_rows = std::move(source_rows),
                   group_rows = std::move(group_rows)](db::Connection& c) {
      for (const char* table : {"relative_flux", "source_photometry", "reference_group"}) {
        c.execute(fmt::format("DELETE FROM {} WHERE observation_id = ?", table), {obs});
      }
      db::insert_rows(c,
                      "INSERT INTO relative_flux (observation_id, source_id, frame_id, rel_flux, rel_flux_err, flags) VALUES ",
                      "(?,?,?,?,?,?)", 6, curve_rows, 1000);
      db::insert_rows(c,
                      "INSERT INTO source_photometry (observation_id, source_id, aperture_index, group_id, is_reference, "
                      "decision, median_flux, instrumental_mag, rms, cdpp_ppm, points) VALUES ",
                      "(?,?,?,?,?,?,?,?,?,?,?)", 11, source_rows, 500);
      db::insert_rows(c,
                      "INSERT INTO reference_group (observation_id, group_id, position_bin, min_flux, max_flux, snr, "
                      "references_kept, dropped) VALUES ",
                      "(?,?,?,?,?,?,?,?)", 8, group_rows, 200);
    });
  });
}

}  // namespace

void register_relative_flux_step(StepRegistry& registry) { registry.add("relative_flux", calibrate_observation); }

}  // namespace tianyu::consumer::steps
