#include "pipeline/sky/sphere.h"

#include <algorithm>
#include <cmath>

namespace tianyu::pipeline::sky {
namespace {
constexpr double kPi = 3.14159265358979323846;
constexpr double kRad = kPi / 180.0;
}  // namespace

UnitVector unit_vector(double ra_deg, double dec_deg) {
  const double ra = ra_deg * kRad, dec = dec_deg * kRad;
  return {std::cos(dec) * std::cos(ra), std::cos(dec) * std::sin(ra), std::sin(dec)};
}

RaDec ra_dec(const UnitVector& v) {
  const double xy = std::hypot(v[0], v[1]);
  double ra = std::atan2(v[1], v[0]) / kRad;
  if (ra < 0) ra += 360.0;
  if (ra >= 360.0) ra -= 360.0;  // -tiny + 360 rounds to 360
  return {ra, std::atan2(v[2], xy) / kRad};
}

double angle_rad(const UnitVector& a, const UnitVector& b) {
  const double cx = a[1] * b[2] - a[2] * b[1];
  const double cy = a[2] * b[0] - a[0] * b[2];
  const double cz = a[0] * b[1] - a[1] * b[0];
  const double dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  return std::atan2(std::sqrt(cx * cx + cy * cy + cz * cz), dot);
}

double separation_arcsec(const UnitVector& a, const UnitVector& b) {
  return angle_rad(a, b) / kRad * kArcsecPerDeg;
}

double separation_arcsec(double ra1_deg, double dec1_deg, double ra2_deg, double dec2_deg) {
  return separation_arcsec(unit_vector(ra1_deg, dec1_deg), unit_vector(ra2_deg, dec2_deg));
}

double chord_of_arcsec(double arcsec) {
  const double angle = std::clamp(arcsec / kArcsecPerDeg * kRad, 0.0, kPi);
  return 2.0 * std::sin(angle / 2.0);
}

double arcsec_of_chord(double chord) {
  return 2.0 * std::asin(std::clamp(chord / 2.0, 0.0, 1.0)) / kRad * kArcsecPerDeg;
}

}  // namespace tianyu::pipeline::sky
