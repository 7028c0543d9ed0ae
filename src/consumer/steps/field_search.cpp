// field_search: the survey search of one field (issue 21). Every field source's light curve is
// read across its nights through field_light_curve (flagged points left out), searched for
// periodic transits by pipeline::survey::search_field_source (each night's offset free, the
// best signal masked and searched again), and the same search runs on every source's inverted
// curve: what it finds there is noise or systematics, so the field itself says how often a
// signal of a given SNR arises by chance. The candidates are ranked (flags that disqualify a
// planet last, then by SNR) into survey_candidate; those above the alert thresholds become alert
// rows in the same transaction, which the manager's relay publishes once committed.
#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/alerts.h"
#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "consumer/steps/survey_store.h"
#include "pipeline/parallel.h"
#include "pipeline/time/astro_time.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

namespace survey = pipeline::survey;
using contract::FieldSearchParams;

// The source's clean points (flags 0, positive flux and error), one night per observation in
// time order (the points arrive by time, so first appearance is time order).
survey::FieldCurve clean_curve(const FieldSourceCurve& c) {
  std::vector<pipeline::LightCurveData> nights;
  std::map<std::uint64_t, std::size_t> night_of;
  for (const auto& p : c.points) {
    if (p.flags != 0 || !(p.rel_flux > 0) || !(p.rel_flux_err > 0)) continue;
    const auto [it, fresh] = night_of.emplace(p.observation_id, nights.size());
    if (fresh) nights.emplace_back();
    auto& n = nights[it->second];
    n.time.push_back(p.bjd_tdb);
    n.flux.push_back(p.rel_flux);
    n.flux_err.push_back(p.rel_flux_err);
  }
  return survey::join_nights(nights);
}

survey::FieldSearchOptions options_of(const FieldSearchParams& p) {
  survey::FieldSearchOptions o;
  if (p.method != "gp" && p.method != "bls") {
    throw InputError("field_search: parameter 'method' must be gp or bls, got '" + p.method + "'");
  }
  o.method = p.method == "gp" ? pipeline::SearchMethod::gp : pipeline::SearchMethod::bls;
  o.min_period_d = p.min_period_d;
  o.max_period_d = p.max_period_d;
  o.periods = static_cast<int>(p.periods);
  o.max_signals = static_cast<int>(p.max_signals);
  o.min_snr = p.min_snr;
  o.threads = 1;  // the sources run in parallel instead
  return o;
}

// A flag that says "not a planet" (as opposed to "weaker evidence", e.g. too few transits).
bool disqualifying(const std::string& flag) {
  return flag.rfind("likely eclipsing binary", 0) == 0 || flag.find("aligned with the day") != std::string::npos ||
         flag.find("too deep for a planet") != std::string::npos || flag.find("probably its residue") != std::string::npos ||
         flag.find("not a transit") != std::string::npos;
}

bool disqualified(const survey::PeriodicCandidate& k) {
  return std::any_of(k.flags.begin(), k.flags.end(), disqualifying);
}

struct Searched {
  std::vector<survey::PeriodicCandidate> signals;
  double inverted_peak = 0;
  bool searched = false;
};

std::vector<Searched> search_all(const std::vector<FieldSourceCurve>& curves, const FieldSearchParams& p,
                                 const StepContext& ctx) {
  const auto o = options_of(p);
  std::vector<Searched> out(curves.size());
  pipeline::parallel_for(curves.size(), static_cast<int>(p.threads), [&](std::size_t i) {
    ctx.check_lease();
    const auto curve = clean_curve(curves[i]);
    if (curve.lc.time.size() < p.min_points) return;
    // A curve shorter than the shortest period searched cannot hold two transits (a source seen
    // on one night only, most of a drifting field's edge): no periodic search, and no inverted
    // one to dilute the field's false-alarm estimate.
    if (curve.lc.time.back() - curve.lc.time.front() < p.min_period_d) return;
    out[i].searched = true;
    out[i].signals = survey::search_field_source(curve, o);
    out[i].inverted_peak = survey::inverted_peak_snr(curve, o);
  });
  return out;
}

std::vector<SurveyCandidateRow> ranked(const std::vector<FieldSourceCurve>& curves, const std::vector<Searched>& found,
                                       const std::string& method) {
  std::vector<double> inverted;
  for (const auto& s : found) {
    if (s.searched) inverted.push_back(s.inverted_peak);
  }
  std::vector<SurveyCandidateRow> rows;
  for (std::size_t i = 0; i < found.size(); ++i) {
    for (const auto& k : found[i].signals) {
      rows.push_back({curves[i].field_source_id, 0, method, k, survey::false_alarm_fraction(k.fit.snr, inverted)});
    }
  }
  // Clean first, then those with a reason to doubt (e.g. too few transits), then the ones a flag
  // says are no planet; by SNR within each.
  auto tier = [](const survey::PeriodicCandidate& k) { return disqualified(k) ? 2 : k.flags.empty() ? 0 : 1; };
  std::stable_sort(rows.begin(), rows.end(), [&](const auto& a, const auto& b) {
    const int ta = tier(a.candidate), tb = tier(b.candidate);
    return ta != tb ? ta < tb : a.candidate.fit.snr > b.candidate.fit.snr;
  });
  for (std::size_t r = 0; r < rows.size(); ++r) rows[r].rank = static_cast<int>(r + 1);
  return rows;
}

// ISO UTC at the geocentre of a BJD_TDB: the light time to the barycentre along the star's
// direction undone by fixed-point iteration (it changes by < 1 ms over the 8 minutes).
std::string utc_of(double bjd, const std::optional<SkyPosition>& at) {
  const double tt_minus_utc_d = (32.184 + pipeline::tai_minus_utc(bjd)) / 86400.0;
  double jd = bjd - tt_minus_utc_d;
  if (at) {
    for (int k = 0; k < 3; ++k) jd += bjd - pipeline::bjd_tdb(jd, at->ra_deg, at->dec_deg);
  }
  return pipeline::iso_from_jd(jd) + "Z";
}

alerts::Alert periodic_alert(std::uint64_t field_id, const SurveyCandidateRow& row, const std::optional<SkyPosition>& at,
                             std::optional<double> position_err, const std::string& role, std::size_t searched) {
  const auto& k = row.candidate;
  alerts::Alert a;
  a.kind = "periodic";
  a.role = role;
  a.ivorn = fmt::format("{}#periodic-f{}-s{}-n{}-p{}", alerts::kIvornBase, field_id, row.field_source_id, k.signal,
                        std::llround(k.fit.period * 1e4));
  a.field_id = field_id;
  a.field_source_id = row.field_source_id;
  if (at) a.ra_deg = at->ra_deg, a.dec_deg = at->dec_deg, a.position_err_arcsec = position_err;
  a.event_bjd_tdb = k.fit.t0;
  a.event_utc = utc_of(k.fit.t0, at);
  a.period_d = k.fit.period;
  a.duration_d = k.fit.duration;
  a.depth = k.fit.depth;
  a.depth_err = k.fit.depth_err;
  a.snr = k.fit.snr;
  a.ln_bayes_factor = k.single_ln_bf;
  a.summary = fmt::format("field {} source {}: P = {:.5f} d, depth {:.3f} +- {:.3f} %, SNR {:.1f}, {} transits over {} "
                          "nights, false-alarm fraction {:.4f} over {} inverted curves{}{}",
                          field_id, row.field_source_id, k.fit.period, 100 * k.fit.depth, 100 * k.fit.depth_err,
                          k.fit.snr, k.fit.transits, k.nights_covered, row.false_alarm, searched,
                          k.flags.empty() ? "" : "; ", k.flags_text());
  return a;
}

std::string role_of(const FieldSearchParams& p) {
  if (p.role.empty()) return alerts::default_role();
  if (p.role != "observation" && p.role != "test" && p.role != "utility") {
    throw InputError("field_search: parameter 'role' must be observation, test or utility, got '" + p.role + "'");
  }
  return p.role;
}

// The field a search after a night covers: the one its sources were matched into; none for a
// night without an astrometric solution.
std::optional<std::uint64_t> field_of_night(db::Connection& c, std::uint64_t observation_id) {
  const auto rows = c.query("SELECT DISTINCT field_id FROM source_field_match WHERE observation_id = ? ORDER BY field_id",
                            {observation_id});
  if (rows.empty()) return std::nullopt;
  if (rows.size() > 1) {
    spdlog::warn("observation {} was matched into {} fields; searching field {}", observation_id, rows.size(),
                 rows.front().u64(0));
  }
  return rows.front().u64(0);
}

void search_one_field(StepContext& ctx, const FieldSearchParams& p);

void search_field(StepContext& ctx, const FieldSearchParams& p) {
  if (!ctx.db) throw InputError("field_search needs the database (field_light_curve)");
  if ((p.field_id == 0) == (p.observation_id == 0)) {
    throw InputError("field_search: give exactly one of the parameters 'field_id' and 'observation_id'");
  }
  if (p.field_id != 0) return search_one_field(ctx, p);
  const auto field = field_of_night(*ctx.db, p.observation_id);
  if (!field) {
    spdlog::info("process {}: observation {} was not matched into a field (no astrometric solution): nothing to search",
                 ctx.process_id, p.observation_id);
    return;
  }
  auto q = p;
  q.field_id = *field;
  search_one_field(ctx, q);
}

void search_one_field(StepContext& ctx, const FieldSearchParams& p) {
  run_with_failure_context(fmt::format("field search of field {}", p.field_id), [&] {
    SurveyStore store(*ctx.db, ctx);
    const auto curves = store.field_curves(p.field_id);
    const auto found = search_all(curves, p, ctx);
    const auto searched = static_cast<std::size_t>(std::count_if(found.begin(), found.end(), [](auto& s) { return s.searched; }));
    auto rows = ranked(curves, found, p.method);
    const auto positions = store.field_positions(p.field_id);
    const auto position_err = store.field_astrometry_rms(p.field_id);
    const auto role = role_of(p);
    std::vector<alerts::Alert> raised;
    for (const auto& row : rows) {
      const auto& k = row.candidate;
      // Any flag (too few transits included) is a reason to look before anyone is alerted.
      if (k.fit.snr < p.alert_snr || row.false_alarm > p.alert_false_alarm || !k.flags.empty()) continue;
      const auto it = positions.find(row.field_source_id);
      const auto at = it == positions.end() ? std::nullopt : std::optional<SkyPosition>(it->second);
      raised.push_back(periodic_alert(p.field_id, row, at, position_err, role, searched));
    }
    spdlog::info("process {}: field {}: {} of {} field sources searched, {} candidates, {} alerts{}", ctx.process_id,
                 p.field_id, searched, curves.size(), rows.size(), raised.size(),
                 rows.empty() ? std::string()
                              : fmt::format("; first: source {} P = {:.5f} d SNR {:.1f} {}", rows[0].field_source_id,
                                            rows[0].candidate.fit.period, rows[0].candidate.fit.snr,
                                            rows[0].candidate.flags_text()));
    store.stage_survey_candidates(p.field_id, std::move(rows));
    store.stage_alerts(std::move(raised));
  });
}

}  // namespace

void register_field_search_step(StepRegistry& registry) {
  registry.add<FieldSearchParams>("field_search", search_field);
}

}  // namespace tianyu::consumer::steps
