// The observation store over MariaDB: the adapters' queries, and their writes as statements run
// in the success transaction (StepContext::on_commit). Writes replace the rows an earlier run
// of the same step wrote, so a re-run is idempotent.
#include <cmath>
#include <cstdlib>
#include <utility>

#include <spdlog/fmt/fmt.h>

#include "common/db.h"
#include "consumer/steps/light_curve_query.h"
#include "consumer/steps/observation_store.h"
#include "consumer/steps/registry.h"

namespace tianyu::consumer::steps {
namespace {

db::Param optional(const std::string& s) { return s.empty() ? db::Param(nullptr) : db::Param(s); }
template <class T> db::Param optional(const std::optional<T>& v) { return v ? db::Param(*v) : db::Param(nullptr); }
std::optional<double> optional_f64(const db::Row& r, int i) {
  return r.is_null(i) ? std::nullopt : std::optional<double>(r.f64(i));
}

ImageProduct product_from(const db::Row& r) {
  ImageProduct p;
  p.process_id = r.u64(0);
  if (!r.is_null(1)) p.frame_id = r.u64(1);
  p.path = r.str(2);
  p.mask_path = r.opt_str(3).value_or("");
  p.weight_path = r.opt_str(4).value_or("");
  p.catalog_path = r.opt_str(5).value_or("");
  p.background_rms = r.is_null(6) ? 0.0 : r.f64(6);
  p.frames = r.is_null(7) ? 0 : static_cast<int>(r.i64(7));
  return p;
}

RawFrame raw_frame_from(const db::Row& r) {
  return {r.u64(0), r.str(1), static_cast<int>(r.i64(2)), static_cast<int>(r.i64(3))};
}

class SqlObservationStore : public ObservationStore {
 public:
  SqlObservationStore(db::Connection& db, StepContext& ctx) : db_(db), ctx_(ctx) {}

  std::optional<RawFrame> raw_frame(std::uint64_t frame_id) override {
    const auto rows = db_.query("SELECT frame_id, path, width, height FROM raw_frame WHERE frame_id = ?", {frame_id});
    if (rows.empty()) return std::nullopt;
    return raw_frame_from(rows.front());
  }

  std::vector<RawFrame> raw_frames(std::uint64_t observation_id, const std::string& kind) override {
    std::vector<RawFrame> out;
    for (const auto& r : db_.query("SELECT frame_id, path, width, height FROM raw_frame WHERE observation_id = ? "
                                   "AND kind = ? ORDER BY jd_utc_mid, frame_id",
                                   {observation_id, kind})) {
      out.push_back(raw_frame_from(r));
    }
    return out;
  }

  std::optional<std::pair<int, int>> frame_size(std::uint64_t observation_id) override {
    const auto rows = db_.query(
        "SELECT width, height FROM raw_frame WHERE observation_id = ? AND kind = 'science' GROUP BY width, height "
        "ORDER BY COUNT(*) DESC, MIN(jd_utc_mid) LIMIT 1",
        {observation_id});
    if (rows.empty()) return std::nullopt;
    return std::pair<int, int>{static_cast<int>(rows.front().i64(0)), static_cast<int>(rows.front().i64(1))};
  }

  std::optional<FrameCalibration> frame_calibration(std::uint64_t frame_id) override {
    const auto rows = db_.query(
        "SELECT exptime_s, gain_e_per_adu, read_noise_e, saturation_adu FROM frame_calibration WHERE frame_id = ?",
        {frame_id});
    if (rows.empty()) return std::nullopt;
    const auto& r = rows.front();
    FrameCalibration c;
    c.exptime_s = r.is_null(0) ? 0.0 : r.f64(0);
    c.gain_e_per_adu = optional_f64(r, 1);
    c.read_noise_e = optional_f64(r, 2);
    c.saturation_adu = optional_f64(r, 3);
    return c;
  }

  std::vector<ImageProduct> dependency_products(std::uint64_t process_id, const std::string& kind) override {
    std::vector<ImageProduct> out;
    for (const auto& r : db_.query(
             "SELECT i.process_id, i.frame_id, i.path, i.mask_path, i.weight_path, i.catalog_path, "
             "i.background_rms_adu, i.frames FROM image_product i "
             "JOIN process_dependency d ON d.depends_on_id = i.process_id "
             "LEFT JOIN raw_frame f ON f.frame_id = i.frame_id "
             "WHERE d.process_id = ? AND i.kind = ? ORDER BY f.jd_utc_mid, i.frame_id, i.process_id",
             {process_id, kind})) {
      out.push_back(product_from(r));
    }
    return out;
  }

  std::optional<FrameAlignment> frame_alignment(std::uint64_t frame_id) override {
    const auto rows = db_.query(
        "SELECT dx, dy, axx, axy, ayx, ayy, good, rejected_reason FROM frame_quality WHERE frame_id = ?", {frame_id});
    if (rows.empty()) return std::nullopt;
    const auto& r = rows.front();
    FrameAlignment a;
    a.transform = {r.f64(0), r.f64(1), r.f64(2), r.f64(3), r.f64(4), r.f64(5)};
    if (!r.is_null(6)) a.good = r.i64(6) != 0;
    a.rejected_reason = r.opt_str(7).value_or("");
    return a;
  }

  std::vector<FrameQualityRow> frame_quality(std::uint64_t observation_id) override {
    std::vector<FrameQualityRow> out;
    for (const auto& r : db_.query(
             "SELECT frame_id, star_count, background_rms_adu, aligned, COALESCE(align_failure, ''), "
             "COALESCE(transparency, 0), trail_length_px, dx, dy FROM frame_quality WHERE observation_id = ? "
             "ORDER BY frame_id",  // ingest numbers a night's frames in time order
             {observation_id})) {
      out.push_back({r.u64(0), {static_cast<int>(r.i64(1)), r.f64(2), r.i64(3) != 0, r.str(4), r.f64(5), r.f64(6),
                                r.f64(7), r.f64(8)}});
    }
    return out;
  }

  TemplateSources template_sources(std::uint64_t observation_id) override {
    TemplateSources t;
    for (const auto& r : db_.query("SELECT source_id, x_px, y_px, isolated, template_flux FROM source "
                                   "WHERE observation_id = ? ORDER BY source_id",
                                   {observation_id})) {
      t.ids.push_back(r.u64(0));
      t.x.push_back(r.f64(1));
      t.y.push_back(r.f64(2));
      t.isolated.push_back(r.i64(3) != 0);
      t.flux.push_back(r.is_null(4) ? 0.0 : r.f64(4));
    }
    for (const auto& r : db_.query("SELECT radius_px FROM aperture WHERE observation_id = ? ORDER BY aperture_index",
                                   {observation_id})) {
      t.radii_px.push_back(r.f64(0));
    }
    return t;
  }

  std::vector<GoodFrame> good_frames(std::uint64_t observation_id) override {
    std::vector<GoodFrame> out;
    for (const auto& r : db_.query(
             "SELECT c.frame_id, COALESCE(m.bjd_tdb_mid, c.bjd_tdb_mid) AS t, COALESCE(m.exptime_s, c.exptime_s) "
             "FROM frame_calibration c JOIN frame_quality q ON q.frame_id = c.frame_id "
             "LEFT JOIN minute_time m ON m.frame_id = c.frame_id "
             "WHERE c.observation_id = ? AND q.good = 1 ORDER BY t, c.frame_id",
             {observation_id})) {
      out.push_back({r.u64(0), r.f64(1), optional_f64(r, 2)});
    }
    return out;
  }

  // By the frames' primary-key ranges (schema/0015_raw_flux_by_frame.sql).
  void each_raw_flux(std::uint64_t observation_id, const std::function<void(const RawFlux&)>& visit) override {
    db_.query_each(
        "SELECT rf.frame_id, rf.source_id, rf.aperture_index, rf.flux, rf.flux_err, rf.flags FROM raw_frame f "
        "JOIN raw_flux rf ON rf.frame_id = f.frame_id WHERE f.observation_id = ? AND rf.observation_id = ?",
        {observation_id, observation_id}, [&](const db::Row& r) {
          visit({r.u64(0), r.u64(1), static_cast<int>(r.i64(2)), optional_f64(r, 3), optional_f64(r, 4),
                 static_cast<std::uint32_t>(r.i64(5))});
        });
  }

  std::vector<SourceLightCurve> light_curves(std::uint64_t observation_id) override {
    return read_light_curves(db_, observation_id);
  }

  std::optional<SkyPointing> pointing(std::uint64_t observation_id) override {
    const auto header = db_.query(
        "SELECT pointing_ra_deg, pointing_dec_deg FROM frame_calibration WHERE observation_id = ? AND kind = 'science' "
        "AND pointing_ra_deg IS NOT NULL AND pointing_dec_deg IS NOT NULL ORDER BY jd_utc_mid, frame_id LIMIT 1",
        {observation_id});
    if (!header.empty()) return SkyPointing{header.front().f64(0), header.front().f64(1), "header"};
    const auto target = db_.query(
        "SELECT t.ra_deg, t.dec_deg FROM observation o JOIN target t ON t.target_id = o.target_id "
        "WHERE o.observation_id = ? AND t.ra_deg IS NOT NULL AND t.dec_deg IS NOT NULL",
        {observation_id});
    if (!target.empty()) return SkyPointing{target.front().f64(0), target.front().f64(1), "target"};
    return std::nullopt;
  }

  std::vector<FrameConditions> frame_conditions(std::uint64_t observation_id) override;
  std::optional<pipeline::Site> site_location(std::uint64_t observation_id) override;

  void stage_image_product(const ImageProductRecord& record) override;
  void stage_frame_quality(const FrameQualityRecord& record) override;
  void stage_minute(const MinuteRecord& record) override;
  void stage_frame_verdicts(std::vector<FrameVerdict> verdicts) override;
  void stage_template_catalogue(std::uint64_t observation_id,
                                const pipeline::recipes::TemplateCatalogue& catalogue) override;
  void stage_raw_fluxes(std::uint64_t observation_id, std::uint64_t frame_id, std::vector<RawFlux> rows) override;
  void stage_relative_flux(std::uint64_t observation_id, RelativeFluxRecords records) override;
  void stage_noise_and_systematics(std::uint64_t observation_id, const ObservationNoiseRecord& noise,
                                   std::vector<FrameSystematicsRecord> frames) override;
  void stage_transit_candidates(std::uint64_t observation_id, std::vector<TransitCandidate> candidates) override;
  void stage_observation_wcs(std::uint64_t observation_id, const ObservationWcsRecord& record,
                             std::vector<SourceSky> positions) override;

 private:
  db::Connection& db_;
  StepContext& ctx_;
};

// A header card's value as a number (cards are stored as their text); empty when absent or not one.
std::optional<double> card_number(const db::Row& r, int i) {
  if (r.is_null(i)) return std::nullopt;
  const std::string text = r.str(i);
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  return end != text.c_str() && std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

std::vector<FrameConditions> SqlObservationStore::frame_conditions(std::uint64_t obs) {
  std::vector<FrameConditions> out;
  for (const auto& r : db_.query(
           "SELECT c.frame_id, COALESCE(m.jd_utc_mid, c.jd_utc_mid), c.airmass, COALESCE(JSON_VALUE(f.header, "
           "'$.TELALT'), JSON_VALUE(f.header, '$.ALTITUDE'), JSON_VALUE(f.header, '$.OBJCTALT'), "
           "JSON_VALUE(f.header, '$.CENTALT')), (SELECT MAX(i.background_adu) FROM image_product i WHERE i.frame_id = "
           "c.frame_id AND i.kind IN ('calibrated', 'minute_stack')), q.dx, q.dy, "
           "COALESCE(m.bjd_tdb_mid, c.bjd_tdb_mid) AS t FROM frame_calibration c "
           "JOIN frame_quality q ON q.frame_id = c.frame_id JOIN raw_frame f ON f.frame_id = c.frame_id "
           "LEFT JOIN minute_time m ON m.frame_id = c.frame_id "
           "WHERE c.observation_id = ? AND q.good = 1 ORDER BY t, c.frame_id",
           {obs})) {
    out.push_back({r.u64(0), optional_f64(r, 1), optional_f64(r, 2), card_number(r, 3), optional_f64(r, 4), r.f64(5),
                   r.f64(6)});
  }
  return out;
}

std::optional<pipeline::Site> SqlObservationStore::site_location(std::uint64_t obs) {
  const auto rows = db_.query(
      "SELECT s.latitude_deg, s.longitude_deg, COALESCE(s.altitude_m, 0) FROM site s WHERE s.site_id = "
      "(SELECT f.site_id FROM raw_frame f WHERE f.observation_id = ? AND f.kind = 'science' LIMIT 1) "
      "AND s.latitude_deg IS NOT NULL AND s.longitude_deg IS NOT NULL",
      {obs});
  if (rows.empty()) return std::nullopt;
  return pipeline::Site{rows.front().f64(0), rows.front().f64(1), rows.front().f64(2)};
}

void SqlObservationStore::stage_noise_and_systematics(std::uint64_t obs, const ObservationNoiseRecord& n,
                                                      std::vector<FrameSystematicsRecord> frames) {
  std::vector<db::Param> noise{obs, ctx_.process_id, optional(n.gain_e_per_adu), optional(n.gain_err),
                               n.gain_method, optional(n.gain_detail.substr(0, 1024)),
                               optional(n.gain_used_by_photometry), optional(n.read_noise_e), n.constant_stars,
                               optional(n.constant_stars_reduced_chi2)};
  std::vector<db::Param> rows;
  for (const auto& f : frames) {
    rows.insert(rows.end(), {f.frame_id, obs, optional(f.airmass), optional(f.airmass_from), optional(f.fwhm_px),
                             optional(f.background_adu), optional(f.transparency), optional(f.dx_px),
                             optional(f.dy_px)});
  }
  ctx_.on_commit([obs, noise = std::move(noise), rows = std::move(rows)](db::Connection& c) {
    c.execute(
        "REPLACE INTO observation_noise (observation_id, process_id, gain_e_per_adu, gain_err, gain_method, "
        "gain_detail, gain_used_by_photometry, read_noise_e, constant_stars, constant_stars_reduced_chi2) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        noise);
    c.execute("DELETE FROM frame_systematics WHERE observation_id = ?", {obs});
    db::insert_rows(c,
                    "INSERT INTO frame_systematics (frame_id, observation_id, airmass, airmass_from, fwhm_px, "
                    "background_adu, transparency, dx_px, dy_px) VALUES ",
                    "(?,?,?,?,?,?,?,?,?)", 9, rows, 500);
  });
}

void SqlObservationStore::stage_image_product(const ImageProductRecord& r) {
  ctx_.on_commit([r](db::Connection& c) {
    const auto& p = r.product;
    c.execute(
        "REPLACE INTO image_product (process_id, observation_id, frame_id, kind, path, mask_path, weight_path, "
        "catalog_path, background_adu, background_rms_adu, masked_pixels, frames) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {r.process_id, r.observation_id, optional(p.frame_id), r.kind, p.path, optional(p.mask_path),
         optional(p.weight_path), optional(p.catalog_path), optional(r.background_adu),
         p.background_rms > 0 ? db::Param(p.background_rms) : db::Param(nullptr), optional(r.masked_pixels),
         std::int64_t{p.frames}});
  });
}

void SqlObservationStore::stage_frame_quality(const FrameQualityRecord& r) {
  ctx_.on_commit([r](db::Connection& c) {
    const auto& a = r.alignment;
    const auto& t = a.transform;
    c.execute(
        "REPLACE INTO frame_quality (frame_id, observation_id, process_id, star_count, background_rms_adu, aligned, "
        "align_failure, dx, dy, axx, axy, ayx, ayy, align_rms_px, matched_stars, transparency, trail_length_px, "
        "good, rejected_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
        {r.frame_id, r.observation_id, r.process_id, r.star_count, r.background_rms_adu, std::int64_t{a.aligned},
         a.aligned ? db::Param(nullptr) : db::Param(a.reason), t.dx, t.dy, t.axx, t.axy, t.ayx, t.ayy,
         a.aligned ? db::Param(a.rms_px) : db::Param(nullptr), std::int64_t{a.matched},
         a.aligned ? db::Param(a.transparency) : db::Param(nullptr), r.trail_length_px});
  });
}

void SqlObservationStore::stage_minute(const MinuteRecord& r) {
  if (r.frame_ids.empty()) return;
  std::vector<db::Param> params{r.frame_id, r.observation_id, r.process_id, r.frame_ids.back()};
  std::string placeholders;
  for (const auto id : r.frame_ids) {
    placeholders += placeholders.empty() ? "?" : ",?";
    params.emplace_back(id);
  }
  ctx_.on_commit([params = std::move(params), placeholders](db::Connection& c) {
    c.execute("REPLACE INTO minute_time (frame_id, observation_id, process_id, last_frame_id, short_frames, jd_utc_mid, "
              "bjd_tdb_mid, exptime_s) SELECT ?, ?, ?, ?, COUNT(*), AVG(jd_utc_mid), AVG(bjd_tdb_mid), SUM(exptime_s) "
              "FROM frame_calibration WHERE frame_id IN (" + placeholders + ")",
              params);
  });
}

void SqlObservationStore::stage_frame_verdicts(std::vector<FrameVerdict> verdicts) {
  ctx_.on_commit([verdicts = std::move(verdicts)](db::Connection& c) {
    for (const auto& v : verdicts) {
      c.execute("UPDATE frame_quality SET good = ?, rejected_reason = ? WHERE frame_id = ?",
                {std::int64_t{v.good}, v.good ? db::Param(nullptr) : db::Param(v.rejected_reason), v.frame_id});
    }
  });
}

void SqlObservationStore::stage_template_catalogue(std::uint64_t obs,
                                                   const pipeline::recipes::TemplateCatalogue& catalogue) {
  std::vector<db::Param> rows;
  for (const auto& s : catalogue.sources) {
    rows.insert(rows.end(), {obs, std::uint64_t(s.id), s.x, s.y, s.flux, s.fwhm, s.a, s.b, s.theta,
                             std::int64_t{s.sep_flag}, std::int64_t{s.isolated}});
  }
  ctx_.on_commit([obs, rows = std::move(rows), radii = catalogue.aperture_radii_px](db::Connection& c) {
    c.execute("DELETE FROM source WHERE observation_id = ?", {obs});
    c.execute("DELETE FROM aperture WHERE observation_id = ?", {obs});
    db::insert_rows(c,
                    "INSERT INTO source (observation_id, source_id, x_px, y_px, template_flux, fwhm_px, a_px, b_px, "
                    "theta_rad, sep_flag, isolated) VALUES ",
                    "(?,?,?,?,?,?,?,?,?,?,?)", 11, rows, 500);
    for (std::size_t r = 0; r < radii.size(); ++r) {
      c.execute("INSERT INTO aperture (observation_id, aperture_index, radius_px) VALUES (?, ?, ?)",
                {obs, std::uint64_t(r), radii[r]});
    }
  });
}

void SqlObservationStore::stage_raw_fluxes(std::uint64_t obs, std::uint64_t frame_id, std::vector<RawFlux> fluxes) {
  std::vector<db::Param> rows;
  rows.reserve(fluxes.size() * 7);
  for (const auto& f : fluxes) {
    rows.insert(rows.end(), {f.frame_id, f.source_id, std::uint64_t(f.aperture_index), obs, optional(f.flux),
                             optional(f.flux_err), std::uint64_t{f.flags}});
  }
  ctx_.on_commit([frame_id, rows = std::move(rows)](db::Connection& c) {
    c.execute("DELETE FROM raw_flux WHERE frame_id = ?", {frame_id});
    if (rows.empty()) return;
    db::insert_rows(c,
                    "INSERT INTO raw_flux (frame_id, source_id, aperture_index, observation_id, flux, flux_err, "
                    "flags) VALUES ",
                    "(?,?,?,?,?,?,?)", 7, rows, 1000);
  });
}

void SqlObservationStore::stage_relative_flux(std::uint64_t obs, RelativeFluxRecords records) {
  std::vector<db::Param> curves, sources, groups;
  for (const auto& p : records.curves) {
    curves.insert(curves.end(), {obs, p.source_id, p.frame_id, optional(p.rel_flux), optional(p.rel_flux_err),
                                 std::uint64_t{p.flags}});
  }
  for (const auto& s : records.sources) {
    sources.insert(sources.end(), {obs, s.source_id, optional(s.best_aperture), optional(s.group),
                                   std::int64_t{s.is_reference}, s.decision.substr(0, 512), optional(s.median_flux),
                                   optional(s.instrumental_mag), optional(s.rms), optional(s.cdpp_ppm), s.points});
  }
  for (const auto& g : records.groups) {
    groups.insert(groups.end(), {obs, g.group_id, g.position_bin, g.min_flux, g.max_flux, g.snr, g.references_kept,
                                 g.dropped_json});
  }
  ctx_.on_commit([obs, curves = std::move(curves), sources = std::move(sources),
                  groups = std::move(groups)](db::Connection& c) {
    for (const char* table : {"relative_flux", "source_photometry", "reference_group"}) {
      c.execute(fmt::format("DELETE FROM {} WHERE observation_id = ?", table), {obs});
    }
    db::insert_rows(c, "INSERT INTO relative_flux (observation_id, source_id, frame_id, rel_flux, rel_flux_err, flags) VALUES ",
                    "(?,?,?,?,?,?)", 6, curves, 1000);
    db::insert_rows(c,
                    "INSERT INTO source_photometry (observation_id, source_id, aperture_index, group_id, is_reference, "
                    "decision, median_flux, instrumental_mag, rms, cdpp_ppm, points) VALUES ",
                    "(?,?,?,?,?,?,?,?,?,?,?)", 11, sources, 500);
    db::insert_rows(c,
                    "INSERT INTO reference_group (observation_id, group_id, position_bin, min_flux, max_flux, snr, "
                    "references_kept, dropped) VALUES ",
                    "(?,?,?,?,?,?,?,?)", 8, groups, 200);
  });
}

void SqlObservationStore::stage_transit_candidates(std::uint64_t obs, std::vector<TransitCandidate> candidates) {
  std::vector<db::Param> rows;
  for (const auto& t : candidates) {
    rows.insert(rows.end(), {obs, t.source_id, t.ln_bayes_factor, t.t0_bjd_tdb, t.duration_d, t.depth, t.points});
  }
  ctx_.on_commit([obs, rows = std::move(rows)](db::Connection& c) {
    c.execute("DELETE FROM transit_candidate WHERE observation_id = ?", {obs});
    db::insert_rows(c,
                    "INSERT INTO transit_candidate (observation_id, source_id, ln_bayes_factor, t0_bjd_tdb, duration_d, "
                    "depth, points) VALUES ",
                    "(?,?,?,?,?,?,?)", 7, rows, 500);
  });
}

void SqlObservationStore::stage_observation_wcs(std::uint64_t obs, const ObservationWcsRecord& w,
                                                std::vector<SourceSky> positions) {
  std::vector<db::Param> row{obs, std::int64_t{w.solved}, w.method, optional(w.reason.substr(0, 1024)),
                             optional(w.wcs_header), optional(w.center_ra_deg), optional(w.center_dec_deg),
                             optional(w.pixel_scale_arcsec), optional(w.rotation_deg), optional(w.catalogue_stars),
                             optional(w.rms_arcsec), optional(w.solve_seconds)};
  // One UPDATE for every source: the positions travel as one JSON array [[id, ra, dec], ...].
  nlohmann::json sky = nlohmann::json::array();
  for (const auto& p : positions) sky.push_back({p.source_id, p.ra_deg, p.dec_deg});
  ctx_.on_commit([obs, row = std::move(row), sky = sky.dump()](db::Connection& c) {
    c.execute(
        "REPLACE INTO observation_wcs (observation_id, solved, method, reason, wcs_header, center_ra_deg, "
        "center_dec_deg, pixel_scale_arcsec, rotation_deg, catalogue_stars, rms_arcsec, solve_seconds) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        row);
    c.execute("UPDATE source SET ra_deg = NULL, dec_deg = NULL WHERE observation_id = ?", {obs});
    c.execute(
        "UPDATE source s JOIN JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[0]', ra DOUBLE PATH '$[1]', "
        "de DOUBLE PATH '$[2]')) v ON v.id = s.source_id SET s.ra_deg = v.ra, s.dec_deg = v.de "
        "WHERE s.observation_id = ?",
        {sky, obs});
  });
}

}  // namespace

std::unique_ptr<ObservationStore> sql_observation_store(db::Connection& db, StepContext& ctx) {
  return std::make_unique<SqlObservationStore>(db, ctx);
}

}  // namespace tianyu::consumer::steps

namespace tianyu::consumer {

steps::ObservationStore& StepContext::observation_store() {
  if (observations) return *observations;
  if (!db) throw Error("step '" + command + "' has neither an observation store nor a database connection");
  sql_observations = steps::sql_observation_store(*db, *this);
  observations = sql_observations.get();
  return *observations;
}

}  // namespace tianyu::consumer
