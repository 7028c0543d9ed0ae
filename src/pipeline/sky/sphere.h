#pragma once
// Positions on the celestial sphere as unit vectors (x towards RA 0 on the equator, z towards the
// north pole): no wrap at RA 0/360, no singularity at the poles, and the straight-line (chord)
// distance between two unit vectors is a monotonic function of their angle, so a KD-tree in 3-D
// finds the nearest stars on the sky.
#include <array>

namespace tianyu::pipeline::sky {

using UnitVector = std::array<double, 3>;

inline constexpr double kArcsecPerDeg = 3600.0;

// The unit vector of (RA, Dec) in degrees.
UnitVector unit_vector(double ra_deg, double dec_deg);

// RA in [0, 360) and Dec in [-90, 90] of any non-zero vector (normalised first).
struct RaDec {
  double ra_deg = 0, dec_deg = 0;
};
RaDec ra_dec(const UnitVector& v);

// The angle between two directions, accurate at every scale (atan2 of |a x b| and a . b: the
// arccos of the dot product loses all precision below ~1e-4 rad, i.e. for arcsecond separations).
double angle_rad(const UnitVector& a, const UnitVector& b);
double separation_arcsec(double ra1_deg, double dec1_deg, double ra2_deg, double dec2_deg);
double separation_arcsec(const UnitVector& a, const UnitVector& b);

// Chord length between unit vectors at `angle` (2 sin(angle/2)) and back: the KD-tree measures
// chords, callers think in arcseconds.
double chord_of_arcsec(double arcsec);
double arcsec_of_chord(double chord);

}  // namespace tianyu::pipeline::sky
