#pragma once
// The AAVSO Exoplanet Database report of one night's target (the format EXOTIC users submit):
// '#'-headed keywords, then DATE,DIFF,ERR,DETREND_1,... per clean point, DATE in BJD_TDB and
// DIFF the relative flux normalised to the night's median (DATE_TYPE and the flux scale say so).
#include <cstdint>
#include <string>
#include <vector>

#include "common/db.h"

namespace tianyu::publisher {

struct AavsoReport {
  std::string obscode;          // the observer's AAVSO code
  std::string software = "Tianyu pipeline";
  std::string star_name;
  double exposure_s = 0;
  std::string filter;           // as the frames say it; AAVSO codes (e.g. CV, R) are the observer's
  std::vector<std::string> detrend_names;  // e.g. AIRMASS, FWHM_PX
  struct Point {
    double bjd_tdb = 0, diff = 0, err = 0;
    std::vector<double> detrend;  // one per detrend name
  };
  std::vector<Point> points;
};

// The report as text (header and data lines, '\n'-terminated).
std::string format_aavso(const AavsoReport& report);

// Reads the observation's clean points of `source_id` (flags 0) with the frames' systematics;
// a detrend column is kept only when every point has it. InputError when the observation or the
// source has no clean points.
AavsoReport load_aavso(db::Connection& c, std::uint64_t observation_id, std::uint64_t source_id);

}  // namespace tianyu::publisher
