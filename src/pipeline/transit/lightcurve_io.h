#pragma once
// Light curves for the transit search: our export's CSV (bjd_tdb, rel_flux, rel_flux_err,
// frame, flags; flagged and empty points left out) or a plain CSV (time, flux, flux_err), and
// TESS/Kepler light-curve FITS tables (TIME, PDCSAP_FLUX, PDCSAP_FLUX_ERR, QUALITY == 0, finite).
// Flux and errors come back divided by the median flux, sorted by time.
#include <filesystem>

#include "pipeline/transit/search.h"

namespace tianyu::pipeline {

// By extension: .fits/.fit/.fits.gz as a FITS table, anything else as CSV. Throws
// std::runtime_error naming the file and the column or row at fault.
LightCurveData read_light_curve(const std::filesystem::path& path);

}  // namespace tianyu::pipeline
