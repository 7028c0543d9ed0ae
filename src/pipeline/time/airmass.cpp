#include "pipeline/time/airmass.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tianyu::pipeline {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;
constexpr double kJ2000 = 2451545.0;

// J2000 equatorial -> mean equator and equinox of the date (Lieske et al. 1977 angles): the
// equinox moves 50"/yr, 0.25 degree by 2020, worth 0.02 in airmass at 20 degrees.
void precess_from_j2000(double jd, double& ra, double& dec) {
  const double t = (jd - kJ2000) / 36525.0;
  const double as = kDeg / 3600.0;
  const double zeta = (2306.2181 * t + 0.30188 * t * t + 0.017998 * t * t * t) * as;
  const double z = (2306.2181 * t + 1.09468 * t * t + 0.018203 * t * t * t) * as;
  const double theta = (2004.3109 * t - 0.42665 * t * t - 0.041833 * t * t * t) * as;
  const double a = std::cos(dec) * std::sin(ra + zeta);
  const double b = std::cos(theta) * std::cos(dec) * std::cos(ra + zeta) - std::sin(theta) * std::sin(dec);
  const double c = std::sin(theta) * std::cos(dec) * std::cos(ra + zeta) + std::cos(theta) * std::sin(dec);
  ra = std::atan2(a, b) + z;
  dec = std::asin(std::clamp(c, -1.0, 1.0));
}

}  // namespace

double greenwich_mean_sidereal_deg(double jd_utc) {
  const double d = jd_utc - kJ2000;
  const double t = d / 36525.0;
  const double gmst = 280.46061837 + 360.98564736629 * d + 0.000387933 * t * t - t * t * t / 38710000.0;
  const double wrapped = std::fmod(gmst, 360.0);
  return wrapped < 0 ? wrapped + 360.0 : wrapped;
}

double altitude_deg(const Site& site, double jd_utc, double ra_deg, double dec_deg) {
  double ra = ra_deg * kDeg, dec = dec_deg * kDeg;
  precess_from_j2000(jd_utc, ra, dec);
  const double hour_angle = (greenwich_mean_sidereal_deg(jd_utc) + site.longitude_deg) * kDeg - ra;
  const double lat = site.latitude_deg * kDeg;
  const double sin_alt = std::sin(lat) * std::sin(dec) + std::cos(lat) * std::cos(dec) * std::cos(hour_angle);
  return std::asin(std::clamp(sin_alt, -1.0, 1.0)) / kDeg;
}

double pickering_airmass(double h) {
  if (!(h >= 0)) return std::numeric_limits<double>::quiet_NaN();
  return 1.0 / std::sin((h + 244.0 / (165.0 + 47.0 * std::pow(h, 1.1))) * kDeg);
}

double airmass(const Site& site, double jd_utc, double ra_deg, double dec_deg) {
  return pickering_airmass(altitude_deg(site, jd_utc, ra_deg, dec_deg));
}

}  // namespace tianyu::pipeline
