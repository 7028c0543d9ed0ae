// The night before any file: the camera, each frame's conditions and faults, the stars.
#include "pipeline/sim/night_parts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "pipeline/time/astro_time.h"

namespace tianyu::pipeline::sim::detail {

void Night::make_camera() {
  auto rng = stream(c_.seed, kCamera);
  std::normal_distribution<double> n01;
  cam_.column_adu.resize(c_.width);
  for (auto& v : cam_.column_adu) v = static_cast<float>(c_.bias_column_rms_adu * n01(rng));
  cam_.response.resize(static_cast<std::size_t>(c_.width) * c_.height);
  const double cx = c_.width / 2.0, cy = c_.height / 2.0, r2max = cx * cx + cy * cy;
  double sum = 0;
  for (int y = 0; y < c_.height; ++y) {
    for (int x = 0; x < c_.width; ++x) {
      const double r2 = ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / r2max;
      const double v = (1.0 - c_.flat_vignetting * r2) * (1.0 + c_.flat_prnu * n01(rng));
      cam_.response[static_cast<std::size_t>(y) * c_.width + x] = static_cast<float>(v);
      sum += v;
    }
  }
  const double mean = sum / cam_.response.size();
  for (auto& v : cam_.response) v = static_cast<float>(v / mean);
  std::uniform_int_distribution<int> ux(0, c_.width - 1), uy(0, c_.height - 1);
  for (int i = 0; i < c_.hot_pixels; ++i) cam_.hot.emplace_back(ux(rng), uy(rng));
}

void Night::make_frames() {
  auto rng = stream(c_.seed, kNight);
  std::normal_distribution<double> n01;
  const double jd0 = parse_utc(c_.start_utc);
  const double cadence_d = (c_.exptime_s + c_.readout_s) / 86400.0;
  double walk_x = 0, walk_y = 0;
  const double cloud_at = 0.15 + 0.7 * std::uniform_real_distribution<double>()(rng);
  for (int k = 0; k < c_.frames; ++k) {
    FrameTruth f;
    char file[32];
    std::snprintf(file, sizeof file, "sci_%04d.fits", k + 1);
    f.file = file;
    const double jd_start = jd0 + k * cadence_d;
    f.date_obs = iso_from_jd(jd_start);
    f.jd_utc_mid = jd_start + c_.exptime_s / 2 / 86400.0;
    f.bjd_tdb = bjd_tdb(f.jd_utc_mid, c_.ra_deg, c_.dec_deg);
    if (k > 0) {
      walk_x += c_.drift_jitter_px * n01(rng);
      walk_y += c_.drift_jitter_px * n01(rng);
    }
    f.dx = k == 0 ? 0.0 : k * c_.drift_x_px + walk_x;
    f.dy = k == 0 ? 0.0 : k * c_.drift_y_px + walk_y;
    f.fwhm = c_.seeing_fwhm_px * std::clamp(1.0 + c_.seeing_jitter * n01(rng), 0.5, 2.0);
    const double cloud = (k / std::max(1.0, c_.frames - 1.0) - cloud_at) / c_.thin_cloud_width_frac;
    f.transparency = std::clamp((1.0 - std::abs(c_.transparency_rms * n01(rng))) *
                                    (1.0 - c_.thin_cloud_depth * std::exp(-0.5 * cloud * cloud)),
                                0.0, 1.0);
    f.sky_e = c_.sky_e_per_s * c_.exptime_s *
              (1.0 + (c_.twilight_factor - 1.0) * std::exp(-k / c_.twilight_decay_frames));
    frames_.push_back(f);
  }
  // The bad frames: distinct, never the first (it anchors the truth offsets).
  auto faults = stream(c_.seed, kFaults);
  std::vector<int> order;
  for (int k = 1; k < c_.frames; ++k) order.push_back(k);
  std::shuffle(order.begin(), order.end(), faults);
  std::size_t i = 0;
  for (int n = 0; n < c_.satellite_trails; ++n) frames_[order[i++]].fault = Fault::satellite_trail;
  for (int n = 0; n < c_.cloud_outs; ++n) {
    auto& f = frames_[order[i++]];
    f.fault = Fault::cloud_out;
    f.transparency *= 0.08;
  }
  for (int n = 0; n < c_.double_images; ++n) frames_[order[i++]].fault = Fault::double_image;
  signals_.t0 = frames_.front().bjd_tdb;
  signals_.t1 = frames_.back().bjd_tdb;
  signals_.transit_mid = c_.transit_period_d > 0 ? c_.transit_epoch_bjd_tdb
                                                : signals_.t0 + c_.transit_mid_frac * (signals_.t1 - signals_.t0);
  signals_.transit_duration = c_.transit_duration_d;
  signals_.transit_ingress = c_.transit_duration_d / 8;
  signals_.flare_time = signals_.t0 + c_.flare_time_frac * (signals_.t1 - signals_.t0);
}

void Night::make_catalogue() {
  if (c_.sky.enabled) return make_sky_catalogue();
  auto rng = stream(c_.seed, kCatalogue);
  std::uniform_real_distribution<double> u01;
  double min_dx = 0, max_dx = 0, min_dy = 0, max_dy = 0;
  for (const auto& f : frames_) {
    min_dx = std::min(min_dx, f.dx); max_dx = std::max(max_dx, f.dx);
    min_dy = std::min(min_dy, f.dy); max_dy = std::max(max_dy, f.dy);
  }
  // Stars cover every pixel any frame sees; the named ones stay in view all night.
  const double margin = 20;
  auto anywhere = [&](double& x, double& y) {
    x = -max_dx - margin + u01(rng) * (c_.width - min_dx + max_dx + 2 * margin);
    y = -max_dy - margin + u01(rng) * (c_.height - min_dy + max_dy + 2 * margin);
  };
  auto always_seen = [&](double& x, double& y, double fx, double fy) {
    x = -min_dx + 40 + fx * std::max(1.0, c_.width - 80 - (max_dx - min_dx));
    y = -min_dy + 40 + fy * std::max(1.0, c_.height - 80 - (max_dy - min_dy));
  };
  auto e_per_s = [&](double mag) { return std::pow(10.0, -0.4 * (mag - c_.zeropoint_mag)); };
  auto add = [&](double x, double y, double mag, Variability v) {
    Star s;
    s.x = x; s.y = y; s.mag = mag; s.e_per_s = e_per_s(mag); s.variability = v;
    const double scale = c_.pixel_scale_arcsec / 3600.0;
    // RA grows to the east, leftwards on the sky image: CD1_1 < 0.
    tan_to_sky(-(x - c_.width / 2.0) * scale, (y - c_.height / 2.0) * scale, c_.ra_deg,
               c_.dec_deg, s.ra, s.dec);
    stars_.push_back(s);
  };
  double x, y;
  always_seen(x, y, 0.5, 0.5);
  add(x, y, c_.target_mag, Variability::transit);
  always_seen(x, y, 0.2, 0.25);
  add(x, y, c_.target_mag + 0.5, Variability::eclipsing);
  always_seen(x, y, 0.8, 0.3);
  add(x, y, c_.target_mag + 1.0, Variability::pulsating);
  always_seen(x, y, 0.3, 0.8);
  add(x, y, c_.target_mag + 2.0, Variability::flare);
  // Counts rise as 10^(0.3 m) (a typical galactic luminosity function at these magnitudes).
  const double a = std::pow(10.0, 0.3 * c_.mag_bright), b = std::pow(10.0, 0.3 * c_.mag_faint);
  for (int i = 4; i < c_.stars; ++i) {
    anywhere(x, y);
    add(x, y, std::log10(a + u01(rng) * (b - a)) / 0.3, Variability::none);
  }
}

double Night::flux_e(const Star& s, const FrameTruth& f) const {
  return s.e_per_s * c_.exptime_s * f.transparency * variability(c_, signals_, s.variability, f.bjd_tdb);
}

}  // namespace tianyu::pipeline::sim::detail
