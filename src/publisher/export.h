#pragma once
// Export for people: an observation's sources and light curves as CSV files, and PNG plots of
// the light curves near given pixel positions (gnuplot, with binned points, as observers
// expect them).
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/db.h"

namespace tianyu::publisher {

struct ExportOptions {
  std::uint64_t observation_id = 0;
  std::filesystem::path out;
  std::vector<std::pair<double, double>> plot_near;  // first-frame pixel positions (0-based)
  int bin = 10;                                       // points per binned point in plots
};

struct ExportReport {
  int sources = 0;
  int light_curves = 0;
  std::vector<std::filesystem::path> plots;
};

// Writes OUT/sources.csv (source_id, x, y, mag, is_reference, group_id, rms, cdpp_ppm; x, y
// 0-based on the first frame's grid) and OUT/lightcurves/<source_id>.csv (bjd_tdb, rel_flux,
// rel_flux_err, frame, flags; frame is the 0-based index of the science frame in time order;
// then the frame's systematics, empty where not measured: airmass, fwhm_px, background_adu,
// transparency, and x_px, y_px, the source's position in that frame through its alignment).
// With the relative_flux step's records (issue 19) also OUT/noise.json (the gain, how it was
// obtained, the constant stars' reduced chi2), OUT/frames.csv (each good frame's systematics)
// and OUT/diagnostics.png (FWHM, airmass, background, transparency, dx/dy against time), that
// plot listed first among `plots`.
ExportReport export_observation(db::Connection& c, const ExportOptions& options);

// "X,Y" -> (x, y); InputError otherwise.
std::pair<double, double> parse_position(const std::string& text);

}  // namespace tianyu::publisher
