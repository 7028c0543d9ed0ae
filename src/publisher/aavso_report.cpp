#include "publisher/aavso_report.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include <spdlog/fmt/fmt.h>

#include "common/errors.h"

namespace tianyu::publisher {
namespace {

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The night's star name: the target's name, else the observation's.
std::string star_name(db::Connection& c, std::uint64_t obs) {
  const auto r = c.query("SELECT t.name, o.name FROM observation o JOIN target t ON t.target_id = o.target_id "
                         "WHERE o.observation_id = ?",
                         {obs});
  if (r.empty()) throw InputError(fmt::format("aavso: observation {} does not exist", obs));
  return r.front().is_null(0) ? r.front().str(1) : r.front().str(0);
}

}  // namespace

std::string format_aavso(const AavsoReport& r) {
  std::string out = "#TYPE=EXOPLANET\n";
  out += "#OBSCODE=" + r.obscode + "\n";
  out += "#SOFTWARE=" + r.software + "\n";
  out += "#DELIM=,\n#DATE_TYPE=BJD_TDB\n#OBSTYPE=CCD\n";
  out += "#STAR_NAME=" + r.star_name + "\n";
  out += fmt::format("#EXPOSURE_TIME={:g}\n", r.exposure_s);
  out += "#FILTER=" + r.filter + "\n";
  std::string names;
  for (const auto& n : r.detrend_names) names += (names.empty() ? "" : ",") + n;
  out += "#DETREND_PARAMETERS=" + names + "\n";
  out += "#DATE,DIFF,ERR";
  for (std::size_t k = 0; k < r.detrend_names.size(); ++k) out += fmt::format(",DETREND_{}", k + 1);
  out += "\n";
  for (const auto& p : r.points) {
    out += fmt::format("{:.7f},{:.7f},{:.7f}", p.bjd_tdb, p.diff, p.err);
    for (const double d : p.detrend) out += fmt::format(",{:.6g}", d);
    out += "\n";
  }
  return out;
}

AavsoReport load_aavso(db::Connection& c, std::uint64_t obs, std::uint64_t source_id) {
  AavsoReport report;
  report.star_name = star_name(c, obs);
  const auto rows = c.query(
      "SELECT COALESCE(m.bjd_tdb_mid, f.bjd_tdb_mid) AS t, r.rel_flux, r.rel_flux_err, "
      "COALESCE(m.exptime_s, f.exptime_s), COALESCE(f.filter, ''), s.airmass, s.fwhm_px "
      "FROM relative_flux r JOIN raw_frame f ON f.frame_id = r.frame_id "
      "LEFT JOIN minute_time m ON m.frame_id = r.frame_id "  // a minute stack's time and exposure
      "LEFT JOIN frame_systematics s ON s.frame_id = r.frame_id "
      "WHERE r.observation_id = ? AND r.source_id = ? AND r.flags = 0 AND r.rel_flux > 0 AND r.rel_flux_err > 0 "
      "AND COALESCE(m.bjd_tdb_mid, f.bjd_tdb_mid) IS NOT NULL ORDER BY t",
      {obs, source_id});
  if (rows.empty()) {
    throw InputError(fmt::format("aavso: source {} of observation {} has no clean points", source_id, obs));
  }
  bool airmass = true, fwhm = true;
  std::vector<double> flux;
  for (const auto& r : rows) {
    airmass = airmass && !r.is_null(5);
    fwhm = fwhm && !r.is_null(6);
    flux.push_back(r.f64(1));
  }
  const double level = median_of(flux);
  if (airmass) report.detrend_names.push_back("AIRMASS");
  if (fwhm) report.detrend_names.push_back("FWHM_PX");
  report.exposure_s = rows.front().is_null(3) ? 0.0 : rows.front().f64(3);
  report.filter = rows.front().str(4);
  for (const auto& r : rows) {
    AavsoReport::Point p{r.f64(0), r.f64(1) / level, r.f64(2) / level, {}};
    if (airmass) p.detrend.push_back(r.f64(5));
    if (fwhm) p.detrend.push_back(r.f64(6));
    report.points.push_back(std::move(p));
  }
  return report;
}

}  // namespace tianyu::publisher
