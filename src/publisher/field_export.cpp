#include "publisher/field_export.h"

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/site_store.h"
#include "pipeline/astrometry/wcs.h"
#include "pipeline/fits_io.h"
#include "pipeline/lightcurve/fits_light_curve.h"
#include "pipeline/robust_stats.h"

namespace tianyu::publisher {
namespace {

namespace fs = std::filesystem;

double parse_number(const std::string& text, const std::string& what) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || !std::isfinite(v)) throw InputError(fmt::format("--cone: {} '{}' is not a number", what, text));
  return v;
}

// The field's id from its name or id; InputError when there is none.
std::uint32_t resolve_field(db::Connection& c, const std::string& field) {
  const auto rows = c.query("SELECT field_id FROM field WHERE name = ? OR CAST(field_id AS CHAR) = ?", {field, field});
  if (rows.empty()) throw InputError(fmt::format("--field: no field named (or numbered) '{}'", field));
  return static_cast<std::uint32_t>(rows.front().u64(0));
}

FieldSourceHit hit_from(const db::Row& r) {
  FieldSourceHit h;
  h.field_id = static_cast<std::uint32_t>(r.u64(0));
  h.field_source_id = static_cast<std::uint32_t>(r.u64(1));
  h.field = r.str(2);
  h.ra_deg = r.f64(3);
  h.dec_deg = r.f64(4);
  h.nights_seen = static_cast<int>(r.i64(5));
  if (!r.is_null(6)) h.mean_instrumental_mag = r.f64(6);
  h.distance_arcsec = r.is_null(7) ? 0 : r.f64(7);
  return h;
}

constexpr const char* kHitColumns =
    "SELECT s.field_id, s.field_source_id, f.name, s.ra_deg, s.dec_deg, s.nights_seen, s.mean_instrumental_mag";

std::vector<FieldSourceHit> named_sources(db::Connection& c, std::uint32_t field, const std::vector<std::uint32_t>& ids) {
  std::vector<FieldSourceHit> hits;
  for (const auto id : ids) {
    const auto rows = c.query(std::string(kHitColumns) + ", NULL FROM field_source s JOIN field f ON f.field_id = s.field_id "
                                                         "WHERE s.field_id = ? AND s.field_source_id = ?",
                              {std::uint64_t{field}, std::uint64_t{id}});
    if (rows.empty()) throw InputError(fmt::format("--field-source: field {} has no source {}", field, id));
    hits.push_back(hit_from(rows.front()));
  }
  return hits;
}

struct CurvePoint {
  double bjd = 0;
  std::optional<double> rel_flux, rel_flux_err;
  int flags = 0;
  std::uint64_t observation_id = 0, frame_id = 0;
};

std::vector<CurvePoint> light_curve_of(db::Connection& c, const FieldSourceHit& s) {
  std::vector<CurvePoint> points;
  for (const auto& r : c.query("SELECT bjd_tdb, rel_flux, rel_flux_err, flags, observation_id, frame_id "
                               "FROM field_light_curve WHERE field_id = ? AND field_source_id = ? ORDER BY bjd_tdb",
                               {std::uint64_t{s.field_id}, std::uint64_t{s.field_source_id}})) {
    CurvePoint p;
    p.bjd = r.f64(0);
    if (!r.is_null(1)) p.rel_flux = r.f64(1);
    if (!r.is_null(2)) p.rel_flux_err = r.f64(2);
    p.flags = static_cast<int>(r.i64(3));
    p.observation_id = r.u64(4);
    p.frame_id = r.u64(5);
    points.push_back(p);
  }
  return points;
}

// Each night's median relative flux: the references differ between nights, so levels do.
std::map<std::uint64_t, double> night_medians(const std::vector<CurvePoint>& points) {
  std::map<std::uint64_t, std::vector<double>> by_night;
  for (const auto& p : points) {
    if (p.rel_flux && *p.rel_flux > 0 && p.flags == 0) by_night[p.observation_id].push_back(*p.rel_flux);
  }
  std::map<std::uint64_t, double> medians;
  for (auto& [obs, values] : by_night) medians[obs] = pipeline::median(values);
  return medians;
}

void write_text_atomically(const fs::path& path, const std::string& text) {
  const fs::path part = path.string() + ".part";
  {
    std::ofstream out(part);
    out << text;
    if (!out) throw ResourceFailure("cannot write " + part.string());
  }
  fs::rename(part, path);
}

std::size_t write_light_curve(db::Connection& c, const FieldSourceHit& s, const fs::path& dir) {
  const auto points = light_curve_of(c, s);
  const auto medians = night_medians(points);
  namespace lc = pipeline::lightcurve;
  lc::FitsLightCurve fits;
  fits.target.object = fmt::format("{} source {}", s.field, s.field_source_id);
  fits.target.ra_deg = s.ra_deg;
  fits.target.dec_deg = s.dec_deg;
  fits.target.field_id = s.field_id;
  fits.target.field_source_id = s.field_source_id;
  std::ostringstream csv;
  csv << "bjd_tdb,rel_flux,rel_flux_err,flux,flags,observation_id,frame_id\n";
  for (const auto& p : points) {
    const auto m = medians.find(p.observation_id);
    const double scale = m == medians.end() ? NAN : 1.0 / m->second;
    const double flux = p.rel_flux ? *p.rel_flux * scale : NAN;
    const double err = p.rel_flux_err ? *p.rel_flux_err * scale : NAN;
    csv << fmt::format("{:.8f},{},{},{},{},{},{}\n", p.bjd, p.rel_flux ? fmt::format("{:.10g}", *p.rel_flux) : "",
                       p.rel_flux_err ? fmt::format("{:.10g}", *p.rel_flux_err) : "",
                       std::isfinite(flux) ? fmt::format("{:.10g}", flux) : "", p.flags, p.observation_id, p.frame_id);
    fits.bjd_tdb.push_back(p.bjd);
    fits.flux.push_back(flux);
    fits.flux_err.push_back(err);
    fits.quality.push_back(p.flags);
    fits.observation_id.push_back(static_cast<std::int64_t>(p.observation_id));
    fits.frame_id.push_back(static_cast<std::int64_t>(p.frame_id));
  }
  const auto stem = fmt::format("field{}_source{}", s.field_id, s.field_source_id);
  write_text_atomically(dir / (stem + ".csv"), csv.str());
  lc::write_fits_light_curve(dir / (stem + ".fits"), fits);
  return points.size();
}

void write_source_table(const std::vector<FieldSourceHit>& hits, const fs::path& path) {
  std::ostringstream csv;
  csv << "field,field_id,field_source_id,ra_deg,dec_deg,nights_seen,mean_instrumental_mag,distance_arcsec\n";
  for (const auto& h : hits) {
    csv << fmt::format("{},{},{},{:.8f},{:.8f},{},{},{:.3f}\n", h.field, h.field_id, h.field_source_id, h.ra_deg,
                       h.dec_deg, h.nights_seen,
                       h.mean_instrumental_mag ? fmt::format("{:.4f}", *h.mean_instrumental_mag) : "",
                       h.distance_arcsec);
  }
  write_text_atomically(path, csv.str());
}

}  // namespace

std::optional<fs::path> export_template_with_wcs(db::Connection& c, std::uint64_t observation_id, const fs::path& out) {
  const auto rows = c.query(
      "SELECT w.wcs_header, p.path, s.root_path FROM observation_wcs w JOIN image_product p "
      "ON p.observation_id = w.observation_id AND p.kind IN ('template', 'calibrated') "
      "JOIN observation o ON o.observation_id = w.observation_id JOIN site s ON s.site_id = o.site_id "
      "WHERE w.observation_id = ? AND w.solved = 1 AND w.wcs_header IS NOT NULL "
      "ORDER BY p.kind = 'template' DESC, p.frame_id LIMIT 1",
      {observation_id});
  if (rows.empty()) return std::nullopt;
  namespace astrometry = pipeline::astrometry;
  const auto wcs = astrometry::wcs_from_header(astrometry::parse_header_cards(rows.front().str(0)));
  const auto image = pipeline::read_fits(store::SiteStore(rows.front().str(2)).for_reading(rows.front().str(1))).image;
  auto header = astrometry::wcs_cards(wcs);
  header.push_back({"OBSID", static_cast<long long>(observation_id), "tianyu observation_id"});
  const auto path = out / "template.fits";
  fs::create_directories(out);
  pipeline::write_fits(path, image, header);
  return path;
}

Cone parse_cone(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) parts.push_back(part);
  if (parts.size() != 3) throw InputError(fmt::format("--cone '{}': expected RA,DEC,RADIUS (deg, deg, arcsec)", text));
  Cone cone{parse_number(parts[0], "RA"), parse_number(parts[1], "Dec"), parse_number(parts[2], "radius")};
  if (cone.ra_deg < 0 || cone.ra_deg >= 360) throw InputError(fmt::format("--cone: RA {} is outside [0, 360)", parts[0]));
  if (std::abs(cone.dec_deg) > 90) throw InputError(fmt::format("--cone: Dec {} is outside [-90, 90]", parts[1]));
  if (cone.radius_arcsec <= 0 || cone.radius_arcsec > 36000) {
    throw InputError(fmt::format("--cone: radius {} arcsec is outside (0, 36000]", parts[2]));
  }
  return cone;
}

std::vector<FieldSourceHit> cone_search(db::Connection& c, const Cone& cone, std::uint32_t field_id) {
  const double band = cone.radius_arcsec / 3600.0;
  std::vector<FieldSourceHit> hits;
  for (const auto& r : c.query(
           std::string(kHitColumns) +
               ", 3600 * DEGREES(2 * ASIN(SQRT(POW(SIN(RADIANS(s.dec_deg - ?) / 2), 2) + COS(RADIANS(s.dec_deg)) * "
               "COS(RADIANS(?)) * POW(SIN(RADIANS(s.ra_deg - ?) / 2), 2)))) AS distance_arcsec "
               "FROM field_source s JOIN field f ON f.field_id = s.field_id "
               "WHERE (? = 0 OR s.field_id = ?) AND s.dec_deg BETWEEN ? AND ? "
               "HAVING distance_arcsec <= ? ORDER BY distance_arcsec, s.field_id, s.field_source_id",
           {cone.dec_deg, cone.dec_deg, cone.ra_deg, std::uint64_t{field_id}, std::uint64_t{field_id},
            cone.dec_deg - band, cone.dec_deg + band, cone.radius_arcsec})) {
    hits.push_back(hit_from(r));
  }
  return hits;
}

FieldExportReport export_field(db::Connection& c, const FieldExportOptions& options) {
  if (options.field_sources.empty() && !options.cone) {
    throw InputError("export: give --field-source (with --field) or --cone");
  }
  const std::uint32_t field = options.field.empty() ? 0 : resolve_field(c, options.field);
  if (!options.field_sources.empty() && field == 0) throw InputError("export: --field-source needs --field");
  FieldExportReport report;
  report.sources = options.cone ? cone_search(c, *options.cone, field) : named_sources(c, field, options.field_sources);
  fs::create_directories(options.out / "lightcurves");
  write_source_table(report.sources, options.out / "field_sources.csv");
  for (const auto& s : report.sources) report.points += write_light_curve(c, s, options.out / "lightcurves");
  spdlog::info("export: {} field sources, {} light-curve points into {}", report.sources.size(), report.points,
               options.out.string());
  return report;
}

}  // namespace tianyu::publisher
