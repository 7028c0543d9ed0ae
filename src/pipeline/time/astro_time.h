#pragma once
// Time for photometry: exposure start times as FITS headers write them, UTC -> TT -> TDB, and
// the barycentric correction that turns a mid-exposure time into BJD_TDB (the time scale of
// transit ephemerides). Pure computation: no ephemeris files, good to ~0.1 s (tested against
// astropy, which uses the ERFA epv00 ephemeris).
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "pipeline/failure.h"

namespace tianyu::pipeline {

// A header time that cannot be used, naming the keyword and its value.
class TimeError : public Failure {
 public:
  using Failure::Failure;
};

// JD of a calendar date and time (proleptic Gregorian), UTC or any scale the caller means.
double julian_date(int year, int month, int day, int hour, int minute, double second);

// Parses ISO 8601 "YYYY-MM-DD[THH:MM:SS[.fff]][Z|+HHMM|-HH:MM]" into JD UTC; an offset is the
// local zone (DATE-OBS written in local time, "-0700") and is removed. `what` names the field
// in the error.
double parse_iso_utc(const std::string& text, const std::string& what);

// ISO "YYYY-MM-DDTHH:MM:SS.mmm" of a JD.
std::string iso_from_jd(double jd);

// TAI - UTC in seconds at a JD UTC (the leap-second table, 1972 onwards; 37 s since 2017).
double tai_minus_utc(double jd_utc);

// TDB - TT in seconds (the 1.7 ms annual term and its largest companions).
double tdb_minus_tt(double jd_tt);

// The exposure start of a frame from its header, the most precise keyword first:
// UT-OBS / DATE-OBS with a time (ISO, any zone offset), then DATE-OBS + TIME-OBS / UT,
// then JD / JD-OBS, then MJD-OBS / MJD. `source` says which keyword gave it; `precision_s` how
// finely that keyword resolves time (MJD-OBS with 3 decimals: 86 s).
struct ExposureStart {
  double jd_utc = 0;
  std::string source;
  double precision_s = 0;
};
ExposureStart exposure_start(const std::map<std::string, std::string>& header);

// Barycentric Julian Date (TDB) of an event seen at JD UTC `jd_utc` from the geocentre, from a
// star at (ra_deg, dec_deg) ICRS: TDB plus the light time from the Earth to the solar-system
// barycentre along the star's direction. The observer's offset from the geocentre (<= 21 ms)
// is left out.
double bjd_tdb(double jd_utc, double ra_deg, double dec_deg);

// The Earth's barycentric position (AU, ICRS/equatorial J2000) at JD TDB: the Earth-Moon
// barycentre and the giant planets from Standish's Keplerian elements (1800-2050), the Sun's
// reflex about the barycentre from the four giants.
struct Vector3 {
  double x = 0, y = 0, z = 0;
};
Vector3 earth_barycentric_au(double jd_tdb);

}  // namespace tianyu::pipeline
