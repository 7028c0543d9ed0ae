// The truth beside the frames: truth/stars.csv, frames.csv, flux.csv and signals.json.
#include "pipeline/sim/night_parts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "pipeline/time/astro_time.h"

namespace tianyu::pipeline::sim::detail {

void Night::write_star_truth() const {
  const bool sky = c_.sky.enabled;
  // On the real sky a star's id is its place in the field, the same every night; its catalogue
  // id and whether the first frame holds it follow the original columns.
  auto star_id = [&](std::size_t i) { return sky ? stars_[i].field_index : static_cast<long>(i); };
  std::ofstream stars(out_ / "truth" / "stars.csv");
  stars << "star_id,ra_deg,dec_deg,x_first,y_first,mag,variability" << (sky ? ",catalogue_id,in_frame" : "") << "\n";
  char line[256];
  for (std::size_t i = 0; i < stars_.size(); ++i) {
    const auto& s = stars_[i];
    if (sky) {
      // Full precision: re-projecting RA/Dec must give x/y to 1e-6 px.
      const bool in = s.x >= -0.5 && s.x < c_.width - 0.5 && s.y >= -0.5 && s.y < c_.height - 0.5;
      std::snprintf(line, sizeof line, "%ld,%.12f,%.12f,%.7f,%.7f,%.4f,%s,%s,%d\n", star_id(i), s.ra, s.dec, s.x,
                    s.y, s.mag, name(s.variability), s.id.c_str(), in ? 1 : 0);
    } else {
      std::snprintf(line, sizeof line, "%zu,%.8f,%.8f,%.4f,%.4f,%.4f,%s\n", i, s.ra, s.dec, s.x,
                    s.y, s.mag, name(s.variability));
    }
    stars << line;
  }
}

void Night::write_truth() const {
  const bool sky = c_.sky.enabled;
  auto star_id = [&](std::size_t i) { return sky ? stars_[i].field_index : static_cast<long>(i); };
  write_star_truth();
  char line[256];
  std::ofstream frames(out_ / "truth" / "frames.csv");
  frames << "file,bjd_tdb,dx,dy,fwhm_px,transparency,sky_adu,bad\n";
  for (const auto& f : frames_) {
    std::snprintf(line, sizeof line, "%s,%.8f,%.4f,%.4f,%.4f,%.5f,%.3f,%d\n", f.file.c_str(),
                  f.bjd_tdb, f.dx, f.dy, f.fwhm, f.transparency, f.sky_e / c_.gain,
                  f.fault != Fault::none);
    frames << line;
  }
  std::ofstream flux(out_ / "truth" / "flux.csv");
  flux << "star_id,file,flux_e\n";
  for (std::size_t i = 0; i < stars_.size(); ++i) {
    for (const auto& f : frames_) {
      std::snprintf(line, sizeof line, "%ld,%s,%.3f\n", star_id(i), f.file.c_str(), flux_e(stars_[i], f));
      flux << line;
    }
  }
  nlohmann::json faults = nlohmann::json::array();
  for (const auto& f : frames_) {
    if (f.fault == Fault::none) continue;
    faults.push_back({{"file", f.file},
                      {"fault", f.fault == Fault::satellite_trail ? "satellite_trail"
                                : f.fault == Fault::cloud_out     ? "cloud_out"
                                                                  : "double_image"}});
  }
  nlohmann::json signals = {
      {"seed", c_.seed},
      {"time_system", "BJD_TDB (light time from a low-precision solar ephemeris, +-5 s)"},
      {"transit", {{"star_id", 0}, {"shape", "trapezoid"}, {"depth", c_.transit_depth},
                   {"duration_d", c_.transit_duration_d}, {"ingress_d", signals_.transit_ingress},
                   {"t_mid_bjd_tdb", signals_.transit_mid}}},
      {"variables", nlohmann::json::array(
                        {{{"star_id", 1}, {"type", "eclipsing"}, {"subtype", "EW"},
                          {"amplitude", c_.ew_amplitude}, {"period_d", c_.ew_period_d},
                          {"epoch_bjd_tdb", signals_.t0}},
                         {{"star_id", 2}, {"type", "pulsating"}, {"subtype", "RRab-like"},
                          {"amplitude", c_.rr_amplitude}, {"period_d", c_.rr_period_d}},
                         {{"star_id", 3}, {"type", "flare"}, {"amplitude", c_.flare_amplitude},
                          {"decay_d", c_.flare_decay_d}, {"t_peak_bjd_tdb", signals_.flare_time}}})},
      {"bad_frames", faults}};
  if (c_.transit_period_d > 0) signals["transit"]["period_d"] = c_.transit_period_d;
  std::ofstream(out_ / "truth" / "signals.json") << signals.dump(2) << "\n";
  if (sky) write_sky_truth();
}

}  // namespace tianyu::pipeline::sim::detail
