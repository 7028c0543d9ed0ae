// The real-sky simulator's geometry: TAN projection, the field's stars, the "sky" config.
#include "pipeline/sim/sky.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "pipeline/catalogues/tycho2.h"
#include "pipeline/sim/night_parts.h"

namespace tianyu::pipeline::sim {

using detail::kDeg;
using detail::kPi;

TanProjection night_projection(double ra_deg, double dec_deg, double scale_arcsec,
                               double rotation_deg, int width, int height) {
  TanProjection p;
  p.ra0 = ra_deg;
  p.dec0 = dec_deg;
  p.crpix_x = width / 2.0;
  p.crpix_y = height / 2.0;
  const double s = scale_arcsec / 3600.0, c = std::cos(rotation_deg * kDeg), n = std::sin(rotation_deg * kDeg);
  p.cd[0][0] = -s * c;
  p.cd[0][1] = s * n;
  p.cd[1][0] = s * n;
  p.cd[1][1] = s * c;
  return p;
}

bool sky_to_pixel(const TanProjection& p, double ra_deg, double dec_deg, double& x, double& y) {
  const double d0 = p.dec0 * kDeg, d = dec_deg * kDeg, da = (ra_deg - p.ra0) * kDeg;
  const double cos_c = std::sin(d0) * std::sin(d) + std::cos(d0) * std::cos(d) * std::cos(da);
  if (!(cos_c > 0)) return false;
  const double xi = std::cos(d) * std::sin(da) / cos_c / kDeg;
  const double eta = (std::cos(d0) * std::sin(d) - std::sin(d0) * std::cos(d) * std::cos(da)) / cos_c / kDeg;
  const double det = p.cd[0][0] * p.cd[1][1] - p.cd[0][1] * p.cd[1][0];
  x = p.crpix_x + (p.cd[1][1] * xi - p.cd[0][1] * eta) / det;
  y = p.crpix_y + (-p.cd[1][0] * xi + p.cd[0][0] * eta) / det;
  return true;
}

void pixel_to_sky(const TanProjection& p, double x, double y, double& ra_deg, double& dec_deg) {
  const double u = x - p.crpix_x, v = y - p.crpix_y;
  detail::tan_to_sky(p.cd[0][0] * u + p.cd[0][1] * v, p.cd[1][0] * u + p.cd[1][1] * v, p.ra0, p.dec0,
                     ra_deg, dec_deg);
}

namespace {

// The point `rho` degrees from (ra0, dec0) at position angle `pa` (radians, east of north).
void offset_on_sphere(double ra0, double dec0, double rho_deg, double pa, double& ra, double& dec) {
  const double d0 = dec0 * kDeg, r = rho_deg * kDeg;
  const double sd = std::sin(d0) * std::cos(r) + std::cos(d0) * std::sin(r) * std::cos(pa);
  dec = std::asin(std::clamp(sd, -1.0, 1.0)) / kDeg;
  ra = ra0 + std::atan2(std::sin(pa) * std::sin(r) * std::cos(d0), std::cos(r) - std::sin(d0) * sd) / kDeg;
  ra = std::fmod(ra + 360.0, 360.0);
}

// The cone every night's frames can reach: half the diagonal, the largest pointing offset and
// 200 px of tracking drift.
double field_radius_deg(const SimConfig& c) {
  const double diagonal = std::hypot(c.width, c.height);
  return (diagonal / 2 + c.sky.max_offset_frac * diagonal + 200.0) * c.pixel_scale_arcsec / 3600.0;
}

}  // namespace

Field field_stars(const SimConfig& c) {
  Field f;
  f.radius_deg = field_radius_deg(c);
  auto tycho2 = catalogues::tycho2_stars_around(c.ra_deg, c.dec_deg, f.radius_deg, c.sky.index_dir);
  std::vector<bool> taken(tycho2.size(), false);
  // The variables sit at fixed places in the unrotated field, well inside every night's frame. A
  // Tycho-2 star within 3 px of a place becomes the variable (HAT-P-32 at the centre of its own
  // field transits): a synthetic star on top of a real one would be a blend.
  const auto centre = night_projection(c.ra_deg, c.dec_deg, c.pixel_scale_arcsec, 0, c.width, c.height);
  const double places[4][3] = {{0, 0, 0}, {-0.15, -0.12, 0.5}, {0.15, -0.10, 1.0}, {-0.10, 0.15, 2.0}};
  for (int v = 0; v < 4; ++v) {
    FieldStar s;
    s.id = "SIM-V" + std::to_string(v);
    const double x = centre.crpix_x + places[v][0] * c.width, y = centre.crpix_y + places[v][1] * c.height;
    pixel_to_sky(centre, x, y, s.ra_deg, s.dec_deg);
    s.mag = c.target_mag + places[v][2];
    s.variable = v + 1;
    for (std::size_t t = 0; t < tycho2.size(); ++t) {
      double tx, ty;
      if (taken[t] || !sky_to_pixel(centre, tycho2[t].ra_deg, tycho2[t].dec_deg, tx, ty)) continue;
      if (std::hypot(tx - x, ty - y) > 3.0) continue;
      s = {tycho2[t].id, tycho2[t].ra_deg, tycho2[t].dec_deg, tycho2[t].mag, v + 1};
      taken[t] = true;
      break;
    }
    f.stars.push_back(s);
  }
  for (std::size_t t = 0; t < tycho2.size(); ++t) {
    if (taken[t]) continue;
    f.stars.push_back({tycho2[t].id, tycho2[t].ra_deg, tycho2[t].dec_deg, tycho2[t].mag, 0});
  }
  for (const auto& s : f.stars) f.tycho2 += s.id.rfind("TYC2", 0) == 0;
  auto rng = detail::stream(c.sky.field_seed ? c.sky.field_seed : c.seed, detail::kSkyField);
  std::uniform_real_distribution<double> u01;
  const double cos_r = std::cos(f.radius_deg * kDeg);
  const double area_deg2 = 2 * kPi * (1 - cos_r) / (kDeg * kDeg);
  const long n = std::lround(c.sky.synthetic_per_deg2 * area_deg2);
  const double a = std::pow(10.0, 0.3 * c.sky.synthetic_mag_bright), b = std::pow(10.0, 0.3 * c.sky.synthetic_mag_faint);
  for (long i = 0; i < n; ++i) {
    FieldStar s;
    s.id = "SIM-" + std::to_string(i + 1);
    // Uniform on the sphere: cos(rho) uniform over the cap, position angle uniform.
    const double rho = std::acos(1 - u01(rng) * (1 - cos_r)) / kDeg;
    offset_on_sphere(c.ra_deg, c.dec_deg, rho, 2 * kPi * u01(rng), s.ra_deg, s.dec_deg);
    s.mag = std::log10(a + u01(rng) * (b - a)) / 0.3;
    f.stars.push_back(s);
    ++f.synthetic;
  }
  return f;
}

SkyConfig apply_sky_json(SkyConfig s, const nlohmann::json& j) {
  if (!j.is_object()) throw SimConfigError("sky", "must be a JSON object, got " + j.dump());
  s.enabled = true;
  for (const auto& [key, value] : j.items()) {
    const std::string field = "sky." + key;
    auto number = [&](double& v) {
      if (!value.is_number()) throw SimConfigError(field, "must be a number, got " + value.dump());
      v = value.get<double>();
    };
    auto text = [&](std::string& v) {
      if (!value.is_string()) throw SimConfigError(field, "must be a string, got " + value.dump());
      v = value.get<std::string>();
    };
    if (key == "enabled") {
      if (!value.is_boolean()) throw SimConfigError(field, "must be true or false, got " + value.dump());
      s.enabled = value.get<bool>();
    } else if (key == "catalogue") text(s.catalogue);
    else if (key == "index_dir") text(s.index_dir);
    else if (key == "pointing_ra_deg") number(s.pointing_ra_deg);
    else if (key == "pointing_dec_deg") number(s.pointing_dec_deg);
    else if (key == "rotation_deg") number(s.rotation_deg);
    else if (key == "synthetic_per_deg2") number(s.synthetic_per_deg2);
    else if (key == "synthetic_mag_bright") number(s.synthetic_mag_bright);
    else if (key == "synthetic_mag_faint") number(s.synthetic_mag_faint);
    else if (key == "max_offset_frac") number(s.max_offset_frac);
    else if (key == "max_rotation_deg") number(s.max_rotation_deg);
    else if (key == "field_seed") {
      if (!value.is_number_unsigned()) throw SimConfigError(field, "must be a non-negative integer, got " + value.dump());
      s.field_seed = value.get<std::uint64_t>();
    } else {
      throw SimConfigError(field, "unknown field");
    }
  }
  return s;
}

void validate_sky(const SimConfig& c) {
  const auto& s = c.sky;
  if (!s.enabled) return;
  auto shown = [](double v) {
    std::ostringstream out;
    out << v;
    return out.str();
  };
  if (s.catalogue != "tycho2") throw SimConfigError("sky.catalogue", "must be \"tycho2\", got \"" + s.catalogue + "\"");
  if (!(s.synthetic_per_deg2 >= 0 && s.synthetic_per_deg2 <= 1e6)) {
    throw SimConfigError("sky.synthetic_per_deg2", "must be within [0, 1e6], got " + shown(s.synthetic_per_deg2));
  }
  if (!(s.synthetic_mag_faint > s.synthetic_mag_bright)) {
    throw SimConfigError("sky.synthetic_mag_faint", "must be fainter (larger) than sky.synthetic_mag_bright");
  }
  if (!(s.max_offset_frac >= 0 && s.max_offset_frac <= 0.5)) {
    throw SimConfigError("sky.max_offset_frac", "must be within [0, 0.5], got " + shown(s.max_offset_frac));
  }
  if (!(s.max_rotation_deg >= 0 && s.max_rotation_deg <= 180)) {
    throw SimConfigError("sky.max_rotation_deg", "must be within [0, 180], got " + shown(s.max_rotation_deg));
  }
  if (!std::isfinite(s.rotation_deg)) throw SimConfigError("sky.rotation_deg", "must be finite");
  if (std::isnan(s.pointing_ra_deg) != std::isnan(s.pointing_dec_deg)) {
    throw SimConfigError("sky.pointing_ra_deg", "give both sky.pointing_ra_deg and sky.pointing_dec_deg, or neither");
  }
  if (!std::isnan(s.pointing_dec_deg) && !(s.pointing_dec_deg >= -90 && s.pointing_dec_deg <= 90)) {
    throw SimConfigError("sky.pointing_dec_deg", "must be within [-90, 90], got " + shown(s.pointing_dec_deg));
  }
  // Beyond ~60 deg from the tangent point TAN distorts more than any camera; keep well inside.
  if (!(std::hypot(c.width, c.height) * c.pixel_scale_arcsec / 3600.0 < 30.0)) {
    throw SimConfigError("pixel_scale_arcsec", "a real-sky field must be less than 30 deg across");
  }
}

}  // namespace tianyu::pipeline::sim
