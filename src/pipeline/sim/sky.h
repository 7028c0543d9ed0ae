#pragma once
// The real-sky simulator's geometry: a night's gnomonic (TAN) projection and the field's stars.
//
// Pixel coordinates are 0-based (the centre of the first pixel is 0, 0). The reference pixel is
// (width / 2, height / 2), 0-based, where the pointing lies; standard coordinates (xi, eta), in
// degrees, are
//   xi  = cd[0][0] (x - crpix_x) + cd[0][1] (y - crpix_y)
//   eta = cd[1][0] (x - crpix_x) + cd[1][1] (y - crpix_y)
// with cd = s [[-cos r, sin r], [sin r, cos r]], s the pixel scale in degrees and r the rotation:
// at r = 0 north is +y and east is -x (as the default night's CD1_1 = -s); a positive r points
// the detector's +y axis r degrees east of north. In FITS terms CD1_1 = cd[0][0], CD1_2 =
// cd[0][1], CD2_1 = cd[1][0], CD2_2 = cd[1][1] and CRPIX = crpix + 1.
#include <string>
#include <vector>

#include "pipeline/sim/night.h"

namespace tianyu::pipeline::sim {

struct TanProjection {
  double ra0 = 0, dec0 = 0;          // the tangent point (the pointing), degrees
  double crpix_x = 0, crpix_y = 0;   // 0-based
  double cd[2][2] = {{0, 0}, {0, 0}};  // degrees per pixel
};

TanProjection night_projection(double ra_deg, double dec_deg, double scale_arcsec,
                               double rotation_deg, int width, int height);
// False (x, y untouched) for a point 90 deg or more from the tangent point.
bool sky_to_pixel(const TanProjection& p, double ra_deg, double dec_deg, double& x, double& y);
void pixel_to_sky(const TanProjection& p, double x, double y, double& ra_deg, double& dec_deg);

// A star of the field, the same every night: its place in the field's list is the truth star_id.
struct FieldStar {
  std::string id;  // "TYC2 J..." (Tycho-2) or "SIM-<n>" (synthetic; SIM-V0..V3: the variables)
  double ra_deg = 0, dec_deg = 0, mag = 0;
  int variable = 0;  // 0 none, else 1 + the index of the variable (star_id 0..3)
};

struct Field {
  std::vector<FieldStar> stars;
  double radius_deg = 0;  // the cone they fill: every night's frames, offsets and drift included
  int tycho2 = 0, synthetic = 0;
};

// The field of a real-sky config: the four variables (target at the field centre, the others at
// fixed offsets within 0.15 field of it; each is the Tycho-2 star within 3 px of its place if
// there is one, else a synthetic star of target_mag + 0, 0.5, 1, 2), then the Tycho-2 stars within the cone (brightest
// first), then synthetic stars uniform on the sphere within it, with magnitudes from
// the 10^(0.3 m) law. Depends only on the field seed, centre, size, scale, max_offset_frac,
// synthetic_* and the installed index files: never on the night.
Field field_stars(const SimConfig& c);

// The "sky" JSON object over `base` (fields of SkyConfig; SimConfigError "sky.<field>" when
// unknown or of the wrong type); enabled unless it says "enabled": false.
SkyConfig apply_sky_json(SkyConfig base, const nlohmann::json& j);
void validate_sky(const SimConfig& c);

}  // namespace tianyu::pipeline::sim
