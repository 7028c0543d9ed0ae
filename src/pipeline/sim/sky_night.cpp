// A night on the real sky: the field's stars through the night's TAN projection, the truth of
// its geometry (truth/sky.json), and N nights of one field.
#include <cmath>
#include <cstdio>
#include <fstream>

#include "pipeline/sim/night_parts.h"
#include "pipeline/sim/sky.h"
#include "pipeline/time/astro_time.h"

namespace tianyu::pipeline::sim {
namespace detail {

namespace {

Variability variability_of(int variable) {
  switch (variable) {
    case 1: return Variability::transit;
    case 2: return Variability::eclipsing;
    case 3: return Variability::pulsating;
    case 4: return Variability::flare;
    default: return Variability::none;
  }
}

}  // namespace

void Night::make_sky_catalogue() {
  const Field field = field_stars(c_);
  field_radius_deg_ = field.radius_deg;
  field_stars_ = static_cast<int>(field.stars.size());
  tycho2_stars_ = field.tycho2;
  synthetic_stars_ = field.synthetic;
  const bool pointed = !std::isnan(c_.sky.pointing_ra_deg);
  tan_ = night_projection(pointed ? c_.sky.pointing_ra_deg : c_.ra_deg,
                          pointed ? c_.sky.pointing_dec_deg : c_.dec_deg, c_.pixel_scale_arcsec,
                          c_.sky.rotation_deg, c_.width, c_.height);
  double min_dx = 0, max_dx = 0, min_dy = 0, max_dy = 0;
  for (const auto& f : frames_) {
    min_dx = std::min(min_dx, f.dx); max_dx = std::max(max_dx, f.dx);
    min_dy = std::min(min_dy, f.dy); max_dy = std::max(max_dy, f.dy);
  }
  // The same rule as the synthetic field's: stars any frame of the night sees, 20 px margin.
  const double margin = 20;
  for (std::size_t i = 0; i < field.stars.size(); ++i) {
    const auto& fs = field.stars[i];
    Star s{};
    if (!sky_to_pixel(tan_, fs.ra_deg, fs.dec_deg, s.x, s.y)) continue;
    if (s.x < -max_dx - margin || s.x > c_.width - min_dx + margin) continue;
    if (s.y < -max_dy - margin || s.y > c_.height - min_dy + margin) continue;
    s.ra = fs.ra_deg;
    s.dec = fs.dec_deg;
    s.mag = fs.mag;
    s.e_per_s = std::pow(10.0, -0.4 * (fs.mag - c_.zeropoint_mag));
    s.variability = variability_of(fs.variable);
    s.field_index = static_cast<long>(i);
    s.id = fs.id;
    stars_.push_back(s);
  }
}

void Night::write_sky_truth() const {
  const nlohmann::json sky = {
      {"projection", "TAN"},
      {"pixel_origin", "0-based: the centre of the first pixel is (0, 0); FITS CRPIX = crpix + 1"},
      {"field", {{"ra_deg", c_.ra_deg}, {"dec_deg", c_.dec_deg}, {"radius_deg", field_radius_deg_},
                 {"stars", field_stars_}, {"tycho2_stars", tycho2_stars_}, {"synthetic_stars", synthetic_stars_},
                 {"index_dir", c_.sky.index_dir}, {"field_seed", c_.sky.field_seed ? c_.sky.field_seed : c_.seed}}},
      {"pointing", {{"ra_deg", tan_.ra0}, {"dec_deg", tan_.dec0}}},
      {"rotation_deg", c_.sky.rotation_deg},
      {"pixel_scale_arcsec", c_.pixel_scale_arcsec},
      {"width", c_.width},
      {"height", c_.height},
      {"crpix", {tan_.crpix_x, tan_.crpix_y}},
      {"cd", {{tan_.cd[0][0], tan_.cd[0][1]}, {tan_.cd[1][0], tan_.cd[1][1]}}},
      {"zeropoint_mag", c_.zeropoint_mag},
      {"stars_in_truth", stars_.size()},
      {"note", "x_first/y_first in stars.csv are on the first frame; frame k adds frames.csv dx, dy"}};
  std::ofstream(out_ / "truth" / "sky.json") << sky.dump(2) << "\n";
}

}  // namespace detail

namespace {

std::string night_start(const std::string& start_utc, int days) {
  return iso_from_jd(detail::parse_utc(start_utc) + days);
}

}  // namespace

NightSummary simulate_nights(const SimConfig& config, const std::filesystem::path& out, int nights,
                             int threads, const std::function<void(int, int, int)>& progress) {
  if (!config.sky.enabled) {
    throw SimConfigError("sky", "several nights of one field need the real sky (a \"sky\" object, --sky tycho2 or --preset sky)");
  }
  if (nights < 1 || nights > 1000) throw SimConfigError("nights", "must be within [1, 1000], got " + std::to_string(nights));
  validate(config);
  const std::uint64_t field_seed = config.sky.field_seed ? config.sky.field_seed : config.seed;
  auto rng = detail::stream(field_seed, detail::kPointings);
  std::uniform_real_distribution<double> sym(-1.0, 1.0);
  const auto field = night_projection(config.ra_deg, config.dec_deg, config.pixel_scale_arcsec, 0,
                                      config.width, config.height);
  NightSummary total;
  for (int n = 1; n <= nights; ++n) {
    SimConfig c = config;
    c.seed = config.seed + static_cast<std::uint64_t>(n - 1);
    c.sky.field_seed = field_seed;
    c.start_utc = night_start(config.start_utc, n - 1);
    // The offset is in pixels of the unrotated field; the pointing is the sky at that pixel.
    const double ox = sym(rng) * config.sky.max_offset_frac * config.width;
    const double oy = sym(rng) * config.sky.max_offset_frac * config.height;
    c.sky.rotation_deg = config.sky.rotation_deg + sym(rng) * config.sky.max_rotation_deg;
    pixel_to_sky(field, field.crpix_x + ox, field.crpix_y + oy, c.sky.pointing_ra_deg, c.sky.pointing_dec_deg);
    const auto s = simulate_night(c, out / ("night-" + std::to_string(n)), threads, [&](int done, int all) {
      if (progress) progress(n, done, all);
    });
    total.science_frames += s.science_frames;
    total.calibration_frames += s.calibration_frames;
    total.bad_frames += s.bad_frames;
    total.seconds += s.seconds;
  }
  return total;
}

}  // namespace tianyu::pipeline::sim
