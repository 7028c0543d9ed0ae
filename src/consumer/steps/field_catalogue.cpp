#include "consumer/steps/field_catalogue.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>

#include "common/db.h"
#include "common/errors.h"
#include "pipeline/robust_stats.h"
#include "pipeline/sky/catalogue_neighbours.h"

namespace tianyu::consumer::steps {
namespace {

namespace sky = pipeline::sky;

db::Param optional_number(double v) { return std::isfinite(v) ? db::Param(v) : db::Param(nullptr); }

double instrumental_mag(double template_flux) {
  return template_flux > 0 ? -2.5 * std::log10(template_flux) : sky::kNaN;
}

// The frame's half-diagonal: the circle that holds every source of the night.
double frame_radius_deg(db::Connection& c, std::uint64_t obs, double scale_arcsec) {
  const auto size = c.query_one("SELECT COALESCE(MAX(width), 0), COALESCE(MAX(height), 0) FROM raw_frame "
                                "WHERE observation_id = ? AND kind = 'science'",
                                {obs});
  return 0.5 * std::hypot(size.f64(0), size.f64(1)) * scale_arcsec / 3600.0;
}

// The observation's field: the one ingest assigned, else the field named after its target
// (created on first use, centred on the target).
std::uint32_t field_of(db::Connection& c, std::uint64_t obs) {
  const auto o = c.query_one(
      "SELECT o.field_id, t.name, t.ra_deg, t.dec_deg FROM observation o JOIN target t ON t.target_id = o.target_id "
      "WHERE o.observation_id = ?",
      {obs});
  if (!o.is_null(0)) return static_cast<std::uint32_t>(o.u64(0));
  c.execute("INSERT IGNORE INTO field (name, ra_deg, dec_deg) VALUES (?, ?, ?)",
            {o.str(1), o.is_null(2) ? db::Param(nullptr) : db::Param(o.f64(2)),
             o.is_null(3) ? db::Param(nullptr) : db::Param(o.f64(3))});
  return static_cast<std::uint32_t>(c.query_one("SELECT field_id FROM field WHERE name = ?", {o.str(1)}).u64(0));
}

// Takes an earlier run of this observation out of the field: its matches go, the field sources
// only it had seen go, and the others' nights and mean positions are recounted from the
// matches that remain (the same unit-vector mean the merge keeps).
void take_out_earlier_run(db::Connection& c, std::uint32_t field, std::uint64_t obs) {
  const auto earlier = c.query_one("SELECT COUNT(*) FROM source_field_match WHERE observation_id = ?", {obs});
  if (earlier.i64(0) == 0) return;
  c.execute("DELETE FROM source_field_match WHERE observation_id = ?", {obs});
  c.execute("DELETE FROM field_source_catalogue_star WHERE field_id = ? AND field_source_id NOT IN "
            "(SELECT field_source_id FROM source_field_match WHERE field_id = ?)",
            {std::uint64_t{field}, std::uint64_t{field}});
  c.execute("DELETE FROM field_source WHERE field_id = ? AND field_source_id NOT IN "
            "(SELECT field_source_id FROM source_field_match WHERE field_id = ?)",
            {std::uint64_t{field}, std::uint64_t{field}});
  c.execute(
      "UPDATE field_source fs JOIN ("
      " SELECT m.field_source_id AS id, COUNT(DISTINCT m.observation_id) AS n,"
      "  SUM(COS(RADIANS(s.dec_deg)) * COS(RADIANS(s.ra_deg))) AS x,"
      "  SUM(COS(RADIANS(s.dec_deg)) * SIN(RADIANS(s.ra_deg))) AS y, SUM(SIN(RADIANS(s.dec_deg))) AS z,"
      "  AVG(CASE WHEN s.template_flux > 0 THEN -2.5 * LOG10(s.template_flux) END) AS mag,"
      "  MIN(m.observation_id) AS first_obs, MAX(m.observation_id) AS last_obs"
      " FROM source_field_match m JOIN source s ON s.observation_id = m.observation_id AND s.source_id = m.source_id"
      " WHERE m.field_id = ? GROUP BY m.field_source_id) a ON fs.field_id = ? AND fs.field_source_id = a.id "
      "SET fs.nights_seen = a.n, fs.ra_deg = MOD(DEGREES(ATAN2(a.y, a.x)) + 360, 360),"
      " fs.dec_deg = DEGREES(ATAN2(a.z, SQRT(a.x * a.x + a.y * a.y))), fs.mean_instrumental_mag = a.mag,"
      " fs.first_observation_id = a.first_obs, fs.last_observation_id = a.last_obs",
      {std::uint64_t{field}, std::uint64_t{field}});
}

std::vector<sky::FieldSource> load_field(db::Connection& c, std::uint32_t field) {
  std::vector<sky::FieldSource> sources;
  for (const auto& r : c.query("SELECT field_source_id, ra_deg, dec_deg, nights_seen, mean_instrumental_mag "
                               "FROM field_source WHERE field_id = ? ORDER BY field_source_id",
                               {std::uint64_t{field}})) {
    sky::FieldSource s;
    s.id = static_cast<std::uint32_t>(r.u64(0));
    s.ra_deg = r.f64(1);
    s.dec_deg = r.f64(2);
    s.nights_seen = static_cast<int>(r.i64(3));
    s.mean_instrumental_mag = r.is_null(4) ? sky::kNaN : r.f64(4);
    sources.push_back(s);
  }
  return sources;
}

void write_matches(db::Connection& c, std::uint32_t field, std::uint64_t obs, const sky::NightMerge& merge) {
  std::vector<db::Param> rows;
  for (const auto& m : merge.matches) {
    rows.insert(rows.end(), {obs, std::uint64_t{m.source_id}, std::uint64_t{field}, std::uint64_t{m.field_source_id},
                             std::string(sky::to_string(m.kind)), optional_number(m.separation_arcsec),
                             nlohmann::json(m.blend_with).dump()});
  }
  if (rows.empty()) return;
  db::insert_rows(c,
                  "INSERT INTO source_field_match (observation_id, source_id, field_id, field_source_id, match_kind, "
                  "separation_arcsec, blend_with) VALUES ",
                  "(?,?,?,?,?,?,?)", 7, rows, 500);
}

std::vector<sky::FieldSource> changed_sources(const sky::NightMerge& merge) {
  std::vector<sky::FieldSource> changed;
  for (const auto& s : merge.field) {
    if (std::binary_search(merge.changed_ids.begin(), merge.changed_ids.end(), s.id)) changed.push_back(s);
  }
  return changed;
}

void write_field_sources(db::Connection& c, std::uint32_t field, std::uint64_t obs,
                         const std::vector<sky::FieldSource>& changed) {
  std::vector<db::Param> rows;
  for (const auto& s : changed) {
    rows.insert(rows.end(), {std::uint64_t{field}, std::uint64_t{s.id}, s.ra_deg, s.dec_deg,
                             optional_number(s.mean_instrumental_mag), std::int64_t{s.nights_seen}, obs, obs});
  }
  if (rows.empty()) return;
  db::insert_rows(c,
                  "INSERT INTO field_source (field_id, field_source_id, ra_deg, dec_deg, mean_instrumental_mag, "
                  "nights_seen, first_observation_id, last_observation_id) VALUES ",
                  "(?,?,?,?,?,?,?,?)", 8, rows, 500,
                  " ON DUPLICATE KEY UPDATE ra_deg = VALUES(ra_deg), dec_deg = VALUES(dec_deg), "
                  "mean_instrumental_mag = VALUES(mean_instrumental_mag), nights_seen = VALUES(nights_seen), "
                  "first_observation_id = LEAST(first_observation_id, VALUES(first_observation_id)), "
                  "last_observation_id = GREATEST(last_observation_id, VALUES(last_observation_id))");
}

void write_catalogue_neighbours(db::Connection& c, std::uint32_t field, const std::vector<sky::FieldSource>& changed,
                                const std::string& catalogue, const pipeline::catalogues::CatalogueStars& stars) {
  if (changed.empty()) return;
  for (std::size_t begin = 0; begin < changed.size(); begin += 500) {
    const auto end = std::min(changed.size(), begin + 500);
    std::vector<db::Param> params{std::uint64_t{field}, catalogue};
    std::string marks;
    for (auto i = begin; i < end; ++i) {
      marks += marks.empty() ? "?" : ",?";
      params.emplace_back(std::uint64_t{changed[i].id});
    }
    c.execute("DELETE FROM field_source_catalogue_star WHERE field_id = ? AND catalogue = ? AND field_source_id IN (" +
                  marks + ")",
              params);
  }
  if (stars.empty()) return;
  const auto neighbours = sky::nearest_catalogue_stars(changed, stars);
  std::vector<db::Param> rows;
  for (std::size_t i = 0; i < changed.size(); ++i) {
    for (std::size_t k = 0; k < neighbours[i].size(); ++k) {
      const auto& star = stars[neighbours[i][k].star];
      rows.insert(rows.end(), {std::uint64_t{field}, std::uint64_t{changed[i].id}, catalogue, std::uint64_t{k + 1},
                               star.id, star.ra_deg, star.dec_deg, optional_number(star.mag),
                               neighbours[i][k].distance_arcsec});
    }
  }
  db::insert_rows(c,
                  "INSERT INTO field_source_catalogue_star (field_id, field_source_id, catalogue, neighbour_rank, "
                  "catalogue_star_id, ra_deg, dec_deg, mag, distance_arcsec) VALUES ",
                  "(?,?,?,?,?,?,?,?,?)", 9, rows, 500);
}

}  // namespace

std::optional<SolvedObservation> load_solved_observation(db::Connection& c, std::uint64_t obs) {
  const auto wcs = c.query("SELECT center_ra_deg, center_dec_deg, pixel_scale_arcsec FROM observation_wcs "
                           "WHERE observation_id = ? AND solved = 1",
                           {obs});
  if (wcs.empty()) return std::nullopt;
  SolvedObservation s;
  s.centre_ra_deg = wcs.front().f64(0);
  s.centre_dec_deg = wcs.front().f64(1);
  s.pixel_scale_arcsec = wcs.front().f64(2);
  s.radius_deg = frame_radius_deg(c, obs, s.pixel_scale_arcsec);
  std::vector<double> fwhm;
  for (const auto& r : c.query("SELECT source_id, ra_deg, dec_deg, template_flux, fwhm_px FROM source "
                               "WHERE observation_id = ? AND ra_deg IS NOT NULL ORDER BY source_id",
                               {obs})) {
    s.sources.push_back({static_cast<std::uint32_t>(r.u64(0)), r.f64(1), r.f64(2), instrumental_mag(r.f64(3))});
    if (r.f64(4) > 0) fwhm.push_back(r.f64(4));
  }
  s.median_fwhm_px = fwhm.empty() ? 0 : pipeline::median(fwhm);
  return s;
}

FieldNightSummary merge_night_rows(db::Connection& c, const FieldNight& night) {
  FieldNightSummary summary;
  summary.field_id = field_of(c, night.observation_id);
  c.query("SELECT field_id FROM field WHERE field_id = ? FOR UPDATE", {std::uint64_t{summary.field_id}});
  take_out_earlier_run(c, summary.field_id, night.observation_id);
  sky::MatchOptions options;
  options.radius_arcsec = night.radius_arcsec;
  const auto merge = sky::merge_night_into_field(load_field(c, summary.field_id), night.sources, options);
  write_matches(c, summary.field_id, night.observation_id, merge);
  const auto changed = changed_sources(merge);
  write_field_sources(c, summary.field_id, night.observation_id, changed);
  for (const auto& [name, stars] : night.catalogues) {
    write_catalogue_neighbours(c, summary.field_id, changed, name, stars);
  }
  for (const auto& m : merge.matches) {
    if (m.kind == sky::MatchKind::matched) ++summary.matched;
    if (m.kind == sky::MatchKind::new_source) ++summary.new_sources;
    if (m.kind == sky::MatchKind::blend) ++summary.blends;
  }
  summary.field_size = merge.field.size();
  return summary;
}

}  // namespace tianyu::consumer::steps
