#pragma once
// Light curves for the transit search: our export's CSV (bjd_tdb, rel_flux, rel_flux_err,
// frame, flags; flagged and empty points left out) or a plain CSV (time, flux, flux_err), our
// FITS light curve (pipeline/lightcurve/fits_light_curve.h: LIGHTCURVE table with TIME, FLUX,
// FLUX_ERR, QUALITY; times come back as full BJD_TDB like the CSV's), and TESS/Kepler
// light-curve FITS tables (TIME in BTJD as stored, PDCSAP_FLUX, PDCSAP_FLUX_ERR, QUALITY == 0,
// finite). Flux and errors come back divided by the median flux, sorted by time.
#include <filesystem>

#include "pipeline/transit/search.h"

namespace tianyu::pipeline {

// FITS when the name ends in .fits/.fit/.fits.gz or the file starts with a FITS card
// ("SIMPLE  ="), anything else as CSV. Throws std::runtime_error naming the file and the column
// or row at fault.
LightCurveData read_light_curve(const std::filesystem::path& path);

// Whether read_light_curve reads `path` as FITS (by extension or by its first bytes).
bool is_fits_light_curve(const std::filesystem::path& path);

// Our FITS light curve's good points (QUALITY == 0, finite FLUX, FLUX_ERR > 0) as stored: full
// BJD_TDB and relative flux, not normalised, in file order (as `tianyu-transit fit` reads the
// export's CSV). Throws std::runtime_error naming the file.
LightCurveData read_fits_light_curve_points(const std::filesystem::path& path);

}  // namespace tianyu::pipeline
