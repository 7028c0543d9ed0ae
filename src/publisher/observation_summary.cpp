#include "publisher/observation_summary.h"

#include <spdlog/fmt/fmt.h>

namespace tianyu::publisher {

nlohmann::json observation_astrometry(db::Connection& c, std::uint64_t observation_id) {
  const auto rows = c.query("SELECT solved, method, reason, pixel_scale_arcsec, rms_arcsec, catalogue_stars, "
                            "center_ra_deg, center_dec_deg FROM observation_wcs WHERE observation_id = ?",
                            {observation_id});
  if (rows.empty()) return {{"state", "not run"}, {"summary", "not run yet"}};
  const auto& r = rows.front();
  if (r.i64(0) == 0) {
    const auto reason = r.opt_str(2).value_or("");
    return {{"state", "not solved"}, {"method", r.str(1)}, {"reason", reason},
            {"summary", "not solved (sources by pixel only): " + reason}};
  }
  nlohmann::json j = {{"state", "solved"}, {"method", r.str(1)}, {"pixel_scale_arcsec", r.f64(3)},
                      {"centre_ra_deg", r.f64(6)}, {"centre_dec_deg", r.f64(7)}};
  if (!r.is_null(4)) j["rms_arcsec"] = r.f64(4);
  if (!r.is_null(5)) j["catalogue_stars"] = r.i64(5);
  j["summary"] = fmt::format("solved by {}: centre {:.5f} {:+.5f}, {:.4f}\"/px{}", r.str(1), r.f64(6), r.f64(7),
                             r.f64(3),
                             r.is_null(4) ? std::string()
                                          : fmt::format(", {} catalogue stars at rms {:.2f}\"", r.i64(5), r.f64(4)));
  return j;
}

nlohmann::json observation_noise(db::Connection& c, std::uint64_t observation_id) {
  const auto rows = c.query("SELECT gain_e_per_adu, gain_err, gain_method, constant_stars_reduced_chi2, constant_stars "
                            "FROM observation_noise WHERE observation_id = ?",
                            {observation_id});
  if (rows.empty()) return {{"state", "not run"}, {"summary", "not measured yet"}};
  const auto& r = rows.front();
  nlohmann::json j = {{"state", "measured"}, {"gain_method", r.str(2)}, {"constant_stars", r.i64(4)}};
  std::string gain = "unknown";
  if (!r.is_null(0)) {
    j["gain_e_per_adu"] = r.f64(0);
    gain = r.is_null(1) ? fmt::format("{:.3g} e-/ADU", r.f64(0)) : fmt::format("{:.3g} +- {:.2g} e-/ADU", r.f64(0), r.f64(1));
  }
  if (!r.is_null(1)) j["gain_err"] = r.f64(1);
  std::string chi2;
  if (!r.is_null(3)) {
    j["constant_stars_reduced_chi2"] = r.f64(3);
    chi2 = fmt::format("; {} constant stars' reduced chi2 {:.2f}", r.i64(4), r.f64(3));
  }
  j["summary"] = fmt::format("gain {} ({}){}", gain, r.str(2), chi2);
  return j;
}

}  // namespace tianyu::publisher
