// One observation in full: its DAG as a grid, failures, rejected frames, per-frame diagnostics
// and transit candidates.
#include <map>

#include "publisher/publisher.h"
#include "web/read_model.h"

namespace tianyu::web {
namespace {

using nlohmann::json;

// Steps x frames: a per-frame step (params.frame_id) fills one cell per frame; a step over the
// whole observation is one cell. Rows in the order the DAG was published.
json grid(db::Connection& c, std::uint64_t id) {
  json frames = json::array();
  for (const auto& r : c.query("SELECT frame_id FROM raw_frame WHERE observation_id = ? AND kind = 'science' "
                               "ORDER BY jd_utc_mid, frame_id", {id})) {
    frames.push_back(r.u64(0));
  }
  json rows = json::array();
  std::map<std::string, std::size_t> row_of;
  for (const auto& r : c.query(
           "SELECT process_id, command, state, JSON_VALUE(params, '$.frame_id') FROM process "
           "WHERE observation_id = ? ORDER BY process_id", {id})) {
    const std::string command = r.str(1);
    auto [it, added] = row_of.try_emplace(command, rows.size());
    if (added) rows.push_back({{"step", command}, {"cells", json::array()}});
    json cell = {{"process_id", r.u64(0)}, {"state", r.str(2)}};
    if (const auto frame = r.opt_str(3)) cell["frame_id"] = std::stoull(*frame);
    rows[it->second]["cells"].push_back(cell);
  }
  return {{"frames", frames}, {"steps", rows}};
}

json failures(db::Connection& c, std::uint64_t id) {
  json out = json::array();
  // The consumer of the last attempt (last_consumer, kept when the lease is cleared), or the
  // lease owner while the process runs.
  for (const auto& r : c.query(
           "SELECT process_id, command, state, attempt, max_attempts, error, COALESCE(lease_owner, last_consumer), "
           "DATE_FORMAT(finished_at, '%Y-%m-%d %H:%i:%s') FROM process WHERE observation_id = ? "
           "AND state IN ('failed', 'retry_wait') ORDER BY finished_at DESC, process_id LIMIT 200", {id})) {
    out.push_back({{"process_id", r.u64(0)}, {"command", r.str(1)}, {"state", r.str(2)},
                   {"attempt", r.u64(3)}, {"max_attempts", r.u64(4)}, {"error", r.opt_str(5).value_or("")},
                   {"consumer", r.opt_str(6).value_or("")}, {"finished_at", r.opt_str(7).value_or("")}});
  }
  return out;
}

json rejected(db::Connection& c, std::uint64_t id) {
  json out = json::array();
  for (const auto& r : c.query("SELECT frame_id, path, bjd_tdb, rejected_reason, align_failure FROM rejected_frame "
                               "WHERE observation_id = ? ORDER BY bjd_tdb, frame_id", {id})) {
    out.push_back({{"frame_id", r.u64(0)}, {"path", r.str(1)},
                   {"bjd_tdb", r.is_null(2) ? json(nullptr) : json(r.f64(2))},
                   {"reason", r.opt_str(3).value_or("")}, {"align_failure", r.opt_str(4).value_or("")}});
  }
  return out;
}

json optional_number(const db::Row& r, std::size_t i) { return r.is_null(i) ? json(nullptr) : json(r.f64(i)); }

// Per science frame over time: FWHM, background, transparency, airmass, dx/dy. The relative_flux
// step measures each good frame's systematics (frame_systematics); a frame it has not measured
// (rejected, or the night still running) shows its header airmass and its alignment.
json diagnostics(db::Connection& c, std::uint64_t id) {
  json out = json::array();
  for (const auto& r : c.query(
           "SELECT f.frame_id, f.jd_utc_mid, COALESCE(s.airmass, f.airmass), q.background_rms_adu, "
           "COALESCE(s.transparency, q.transparency), q.dx, q.dy, q.good, COALESCE(s.background_adu, i.background_adu), "
           "s.fwhm_px FROM raw_frame f LEFT JOIN frame_quality q ON q.frame_id = f.frame_id "
           "LEFT JOIN frame_systematics s ON s.frame_id = f.frame_id "
           "LEFT JOIN image_product i ON i.frame_id = f.frame_id AND i.kind = 'calibrated' "
           "WHERE f.observation_id = ? AND f.kind = 'science' ORDER BY f.jd_utc_mid, f.frame_id", {id})) {
    out.push_back({{"frame_id", r.u64(0)}, {"jd_utc", optional_number(r, 1)}, {"airmass", optional_number(r, 2)},
                   {"background_rms_adu", optional_number(r, 3)}, {"transparency", optional_number(r, 4)},
                   {"dx", optional_number(r, 5)}, {"dy", optional_number(r, 6)},
                   {"good", r.is_null(7) ? json(nullptr) : json(r.i64(7) != 0)},
                   {"background_adu", optional_number(r, 8)}, {"fwhm_px", optional_number(r, 9)}});
  }
  return out;
}

json candidates(db::Connection& c, std::uint64_t id) {
  json out = json::array();
  for (const auto& r : c.query("SELECT source_id, ln_bayes_factor, t0_bjd_tdb, duration_d, depth, points "
                               "FROM transit_candidate WHERE observation_id = ? "
                               "ORDER BY ln_bayes_factor DESC LIMIT 100", {id})) {
    out.push_back({{"source_id", r.u64(0)}, {"ln_bayes_factor", r.f64(1)}, {"t0_bjd_tdb", r.f64(2)},
                   {"duration_d", r.f64(3)}, {"depth", r.f64(4)}, {"points", r.i64(5)}});
  }
  return out;
}

}  // namespace

json observation(db::Connection& c, std::uint64_t observation_id) {
  json o = observation_summary(c, observation_id);
  o["status"] = publisher::status(c, observation_id);
  o["grid"] = grid(c, observation_id);
  o["failures"] = failures(c, observation_id);
  o["rejected_frames"] = rejected(c, observation_id);
  o["diagnostics"] = diagnostics(c, observation_id);
  o["candidates"] = candidates(c, observation_id);
  return o;
}

}  // namespace tianyu::web
