#pragma once
// Where a star stands in the observer's sky: its altitude from the site, the time and the
// pointing, and the airmass of that altitude, the first regressor of a night's baseline
// (extinction dims every star by ~0.1-0.2 mag per airmass, and colour differences between the
// target and its references leave a trend in the relative flux). Pure computation; good to
// ~0.01 degree in altitude against astropy's AltAz without refraction (nutation and aberration,
// ~20 arcsec, are left out; UT1 is taken as UTC, <= 0.9 s).
#include "pipeline/failure.h"

namespace tianyu::pipeline {

struct Site {
  double latitude_deg = 0;   // geodetic, north positive
  double longitude_deg = 0;  // east positive
  double altitude_m = 0;
};

// Greenwich mean sidereal time (degrees, [0, 360)) at a JD UTC (IAU 1982, UT1 ~ UTC).
double greenwich_mean_sidereal_deg(double jd_utc);

// Altitude (degrees above the horizon, unrefracted) of ICRS (ra_deg, dec_deg) seen from `site`
// at `jd_utc`; the position is precessed from J2000 to the date (IAU 1976).
double altitude_deg(const Site& site, double jd_utc, double ra_deg, double dec_deg);

// Pickering (2002) airmass of an (apparent) altitude in degrees:
//   X = 1 / sin(h + 244 / (165 + 47 h^1.1)),
// which stays finite to the horizon (X(0) = 38.7) where sec z diverges; it includes the
// refraction's share, so it lies 0.03 % under sec z at 70 degrees, 0.35 % at 30, 2.7 % at 10.
// NaN below the horizon: no star is measured there.
double pickering_airmass(double altitude_deg);

// The airmass of the pointing at that time: pickering_airmass(altitude_deg(...)).
double airmass(const Site& site, double jd_utc, double ra_deg, double dec_deg);

}  // namespace tianyu::pipeline
