#include "consumer/steps/survey_store.h"

#include "common/db.h"
#include "consumer/steps/registry.h"

namespace tianyu::consumer::steps {

std::vector<pipeline::survey::NightSource> SurveyStore::night_sources(std::uint64_t obs) {
  const auto frames = db_.query_one("SELECT COUNT(DISTINCT frame_id) FROM relative_flux WHERE observation_id = ?", {obs});
  const int good_frames = static_cast<int>(frames.i64(0));
  std::vector<pipeline::survey::NightSource> out;
  // Flag bits as raw_flux documents them: 1 edge, 4 saturated.
  for (const auto& r : db_.query(
           "SELECT s.source_id, s.x_px, s.y_px, COALESCE(p.is_reference, 0), s.template_flux, "
           "COALESCE((SELECT SUM(f.flags & 4 <> 0) FROM relative_flux f WHERE f.observation_id = s.observation_id "
           "AND f.source_id = s.source_id), 0), "
           "COALESCE((SELECT SUM(f.flags & 1 <> 0) FROM relative_flux f WHERE f.observation_id = s.observation_id "
           "AND f.source_id = s.source_id), 0) "
           "FROM source s LEFT JOIN source_photometry p ON p.observation_id = s.observation_id "
           "AND p.source_id = s.source_id WHERE s.observation_id = ? ORDER BY s.source_id",
           {obs})) {
    pipeline::survey::NightSource s;
    s.source_id = r.u64(0);
    s.x_px = r.f64(1);
    s.y_px = r.f64(2);
    s.is_reference = r.i64(3) != 0;
    s.frames = good_frames;
    s.brightness = r.f64(4);
    s.saturated_points = static_cast<int>(r.i64(5));
    s.edge_points = static_cast<int>(r.i64(6));
    out.push_back(s);
  }
  return out;
}

std::optional<std::pair<int, int>> SurveyStore::frame_size(std::uint64_t obs) {
  const auto rows = db_.query(
      "SELECT width, height FROM raw_frame WHERE observation_id = ? AND kind = 'science' AND width > 0 "
      "GROUP BY width, height ORDER BY COUNT(*) DESC, MIN(frame_id) LIMIT 1",
      {obs});
  if (rows.empty()) return std::nullopt;
  return std::pair<int, int>(static_cast<int>(rows.front().i64(0)), static_cast<int>(rows.front().i64(1)));
}

void SurveyStore::stage_transit_vetting(std::uint64_t obs, std::vector<TransitVettingRow> rows) {
  std::vector<db::Param> values;
  for (const auto& row : rows) {
    const auto& v = row.vetting;
    const db::Param edge = v.edge_distance_px >= 0 ? db::Param(v.edge_distance_px) : db::Param(nullptr);
    values.insert(values.end(), {obs, row.source_id, std::int64_t{v.rank}, std::int64_t{v.passed}, v.dip.depth,
                                 v.dip.depth_err, v.dip.scatter, std::int64_t{v.dip.points_in},
                                 std::int64_t{v.dip.points_out}, edge, v.coverage, std::int64_t{v.comparisons},
                                 std::int64_t{v.comparisons_dipping}, v.reasons_text().substr(0, 2048)});
  }
  ctx_.on_commit([obs, values = std::move(values)](db::Connection& c) {
    c.execute("DELETE FROM transit_vetting WHERE observation_id = ?", {obs});
    db::insert_rows(c,
                    "INSERT INTO transit_vetting (observation_id, source_id, vetted_rank, passed, box_depth, "
                    "box_depth_err, scatter, points_in, points_out, edge_distance_px, coverage, comparisons, "
                    "comparisons_dipping, reasons) VALUES ",
                    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", 14, values, 500);
  });
}

std::vector<FieldSourceCurve> SurveyStore::field_curves(std::uint64_t field_id) {
  std::vector<FieldSourceCurve> out;
  for (const auto& r : db_.query("SELECT field_source_id, bjd_tdb, rel_flux, rel_flux_err, flags, observation_id "
                                 "FROM field_light_curve WHERE field_id = ? AND bjd_tdb IS NOT NULL "
                                 "ORDER BY field_source_id, bjd_tdb",
                                 {field_id})) {
    const auto id = r.u64(0);
    if (out.empty() || out.back().field_source_id != id) out.push_back({id, {}});
    FieldPoint p;
    p.bjd_tdb = r.f64(1);
    p.rel_flux = r.is_null(2) ? 0.0 : r.f64(2);
    p.rel_flux_err = r.is_null(3) ? 0.0 : r.f64(3);
    p.flags = static_cast<std::uint32_t>(r.i64(4));
    p.observation_id = r.u64(5);
    out.back().points.push_back(p);
  }
  return out;
}

std::map<std::uint64_t, SkyPosition> SurveyStore::field_positions(std::uint64_t field_id) {
  std::map<std::uint64_t, SkyPosition> out;
  for (const auto& r : db_.query("SELECT field_source_id, ra_deg, dec_deg FROM field_source WHERE field_id = ?", {field_id})) {
    out[r.u64(0)] = {r.f64(1), r.f64(2)};
  }
  return out;
}

std::optional<double> SurveyStore::field_astrometry_rms(std::uint64_t field_id) {
  const auto r = db_.query_one("SELECT MAX(rms_arcsec) FROM observation_wcs WHERE solved = 1 AND observation_id IN "
                               "(SELECT observation_id FROM source_field_match WHERE field_id = ?)",
                               {field_id});
  if (r.is_null(0)) return std::nullopt;
  return r.f64(0);
}

std::optional<SkyPosition> SurveyStore::source_position(std::uint64_t obs, std::uint64_t source_id) {
  const auto rows = db_.query("SELECT ra_deg, dec_deg FROM source WHERE observation_id = ? AND source_id = ?", {obs, source_id});
  if (rows.empty() || rows.front().is_null(0) || rows.front().is_null(1)) return std::nullopt;
  return SkyPosition{rows.front().f64(0), rows.front().f64(1)};
}

void SurveyStore::stage_survey_candidates(std::uint64_t field_id, std::vector<SurveyCandidateRow> rows) {
  std::vector<db::Param> values;
  const auto process = ctx_.process_id;
  for (const auto& row : rows) {
    const auto& k = row.candidate;
    const auto& f = k.fit;
    const bool odd_even = k.odd_even_sigma > 0, secondary = k.secondary_sigma != 0;
    values.insert(values.end(),
                  {field_id, row.field_source_id, std::int64_t{k.signal}, row.method, std::int64_t{row.rank}, f.period,
                   f.t0, f.duration, f.depth, f.depth_err, f.snr, k.sde, std::int64_t{f.transits},
                   std::int64_t{k.nights_covered}, odd_even ? db::Param(k.odd_even_diff) : db::Param(nullptr),
                   odd_even ? db::Param(k.odd_even_sigma) : db::Param(nullptr),
                   secondary ? db::Param(k.secondary_depth) : db::Param(nullptr),
                   secondary ? db::Param(k.secondary_sigma) : db::Param(nullptr), k.single_ln_bf, row.false_alarm,
                   k.flags_text().substr(0, 1024), process});
  }
  ctx_.on_commit([field_id, values = std::move(values)](db::Connection& c) {
    c.execute("DELETE FROM survey_candidate WHERE field_id = ?", {field_id});
    db::insert_rows(c,
                    "INSERT INTO survey_candidate (field_id, field_source_id, signal_index, method, field_rank, period_d, "
                    "epoch_bjd_tdb, duration_d, depth, depth_err, snr, sde, transits_with_data, nights_covered, "
                    "odd_even_depth_diff, odd_even_sigma, secondary_depth, secondary_sigma, single_ln_bf, false_alarm, "
                    "flags, search_process_id) VALUES ",
                    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", 22, values, 300);
  });
}

void SurveyStore::stage_alerts(std::vector<alerts::Alert> list) {
  if (list.empty()) return;
  ctx_.on_commit([list = std::move(list)](db::Connection& c) {
    for (const auto& a : list) alerts::insert_alert(c, a);
  });
}

}  // namespace tianyu::consumer::steps
