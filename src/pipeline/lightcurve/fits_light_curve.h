#pragma once
// A light curve as a FITS file a TESS user opens with the usual tools (astropy's
// Table.read(path, hdu='LIGHTCURVE'), lightkurve, fv), laid out like a TESS SPOC light curve:
//
//   primary HDU (no data): OBJECT, RA_OBJ, DEC_OBJ (deg, ICRS; omitted when unknown), RADESYS,
//     EQUINOX, TELESCOP, ORIGIN, DATE, and FIELD_ID / FSRC_ID (our field and field source ids)
//     when known;
//   BINTABLE 'LIGHTCURVE', one row per frame:
//     TIME      D  'd'  BJD_TDB - 2457000 (the TESS "BTJD" zero point)
//     FLUX      D       relative flux: the star's flux over its reference ensemble, normalised
//                       so the star's own level is ~1 (dimensionless, hence no TUNIT); NaN
//                       where not measured
//     FLUX_ERR  D       its 1-sigma error, same scale
//     QUALITY   J       our photometry flags (relative_flux.flags); 0 = good
//     OBS_ID    K       observation_id of the frame (0 when unknown)
//     FRAME_ID  K       frame_id (0 when unknown)
//   with BJDREFI = 2457000, BJDREFF = 0.0, TIMEREF = 'SOLARSYSTEM', TIMESYS = 'TDB',
//   TIMEUNIT = 'd', TSTART/TSTOP (BTJD), OBJECT/RA_OBJ/DEC_OBJ repeated.
//
// Written atomically (a reader never sees half a file). Errors are FitsError naming the file:
// bad content never retryable, a full disk or I/O error retryable.
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace tianyu::pipeline::lightcurve {

inline constexpr long kBjdRefInt = 2457000;

struct LightCurveTarget {
  std::string object;                                      // OBJECT: target or "field F source S"
  double ra_deg = std::numeric_limits<double>::quiet_NaN();   // RA_OBJ
  double dec_deg = std::numeric_limits<double>::quiet_NaN();  // DEC_OBJ
  std::string telescope = "Tianyu";                        // TELESCOP
  std::string origin = "Tianyu pipeline";                  // ORIGIN
  long long field_id = 0;         // FIELD_ID, written when > 0
  long long field_source_id = 0;  // FSRC_ID, written when > 0
};

struct FitsLightCurve {
  LightCurveTarget target;
  std::vector<double> bjd_tdb;  // full BJD_TDB, finite (the file stores bjd_tdb - BJDREFI)
  std::vector<double> flux, flux_err;
  std::vector<std::int32_t> quality;
  std::vector<std::int64_t> observation_id, frame_id;  // each empty (zeros written) or one per point
};

// Refuses (FitsError, bad input) columns of different lengths, a non-finite time, or an empty
// OBJECT; rows are written in the order given.
void write_fits_light_curve(const std::filesystem::path& path, const FitsLightCurve& lc);

// Reads a file written above (or any file with a 'LIGHTCURVE' table holding TIME, FLUX,
// FLUX_ERR, QUALITY and BJDREFI): times back as full BJD_TDB (TIME + BJDREFI + BJDREFF). A
// TIMESYS other than TDB is refused. Missing OBS_ID/FRAME_ID come back empty.
FitsLightCurve read_fits_light_curve(const std::filesystem::path& path);

// Whether the file starts like a FITS file ("SIMPLE  =" in its first card), whatever its name.
bool starts_like_fits(const std::filesystem::path& path);

}  // namespace tianyu::pipeline::lightcurve
