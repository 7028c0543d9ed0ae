// The simulator's configuration: presets, JSON over a preset, validation.
#include "pipeline/sim/night_parts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "pipeline/time/astro_time.h"

namespace tianyu::pipeline::sim {

using detail::parse_utc;

SimConfig preset(const std::string& name) {
  SimConfig c;
  if (name == "default") return c;
  if (name == "paper") {
    c.width = c.height = 2048;
    c.frames = 999;
    c.exptime_s = 15.0;
    c.stars = 3000;
    c.transit_duration_d = 0.1;  // a 2.4 h transit in a 5 h night
    return c;
  }
  if (name == "tianyu") {
    // Tianyu-I's short-exposure mode: 8120 x 8120 frames of 0.3 s at 2.9 frames/s, i.e. 174
    // a minute (0.3 s + 0.045 s readout = 60 s / 174), combined every minute; `frames` is one
    // minute. Scaled sizes: override width/height (and stars, to keep the density).
    c.width = c.height = 8120;
    c.exptime_s = 0.3;
    c.readout_s = 60.0 / 174 - 0.3;
    c.frames = 174;
    c.pixel_scale_arcsec = 0.43;
    c.stars = 20000;
    // Per short frame: tracking drift of ~2 px a minute and the seeing's image motion.
    c.drift_x_px = 0.012;
    c.drift_y_px = -0.008;
    c.drift_jitter_px = 0.05;
    c.twilight_decay_frames = 174 * 15.0;  // 15 minutes, as 15 frames of the 60-s default cadence
    // Young's formula scales as t^-1/2: 0.0011 at 10 s is 0.006 at 0.3 s.
    c.scintillation_rms = 0.0011 * std::sqrt(10.0 / 0.3);
    c.hot_pixels = 50 * (8120 / 512) * (8120 / 512);  // the default's density on the large sensor
    return c;
  }
  if (name == "sky") {
    // A 30.7' field on the real sky: wide enough for the Tycho-2 index files (~20' and up).
    c.width = c.height = 1536;
    c.pixel_scale_arcsec = 1.2;
    c.frames = 40;
    c.ra_deg = 31.042825;  // HAT-P-32's field: a real sky with bright Tycho-2 stars
    c.dec_deg = 46.687836;
    c.object = "SIM-SKY-1";
    // VT 7.0 just fills the full well at the peak pixel in 10 s at FWHM 3 px (Moffat beta 3
    // puts 7.3 % of the flux there): the brightest Tycho-2 stars of a field (VT 7-9) sit at or
    // just below saturation, as on the real camera; the 5-sigma limit is near 15.3.
    c.zeropoint_mag = 19.3;
    c.sky.enabled = true;
    return c;
  }
  throw SimConfigError("preset", "unknown preset '" + name + "' (default, paper, tianyu, sky)");
}

SimConfig apply_json(SimConfig c, const nlohmann::json& j) {
  if (!j.is_object()) throw SimConfigError("(top level)", "the simulator config must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    auto number = [&](auto& field) {
      if (!value.is_number()) throw SimConfigError(key, "must be a number, got " + value.dump());
      using T = std::decay_t<decltype(field)>;
      if constexpr (std::is_integral_v<T>) {
        if (!value.is_number_integer()) throw SimConfigError(key, "must be an integer, got " + value.dump());
      }
      field = value.get<std::decay_t<decltype(field)>>();
    };
    auto text = [&](std::string& field) {
      if (!value.is_string()) throw SimConfigError(key, "must be a string, got " + value.dump());
      field = value.get<std::string>();
    };
#define TIANYU_SIM_NUMBER(f) if (key == #f) { number(c.f); continue; }
    TIANYU_SIM_NUMBER(seed) TIANYU_SIM_NUMBER(width) TIANYU_SIM_NUMBER(height)
    TIANYU_SIM_NUMBER(frames) TIANYU_SIM_NUMBER(bias_frames) TIANYU_SIM_NUMBER(flat_frames)
    TIANYU_SIM_NUMBER(dark_frames) TIANYU_SIM_NUMBER(exptime_s) TIANYU_SIM_NUMBER(readout_s)
    TIANYU_SIM_NUMBER(gain) TIANYU_SIM_NUMBER(read_noise_e) TIANYU_SIM_NUMBER(bias_adu)
    TIANYU_SIM_NUMBER(bias_column_rms_adu) TIANYU_SIM_NUMBER(dark_e_per_s)
    TIANYU_SIM_NUMBER(full_well_e) TIANYU_SIM_NUMBER(pixel_scale_arcsec)
    TIANYU_SIM_NUMBER(ra_deg) TIANYU_SIM_NUMBER(dec_deg) TIANYU_SIM_NUMBER(stars)
    TIANYU_SIM_NUMBER(mag_bright) TIANYU_SIM_NUMBER(mag_faint) TIANYU_SIM_NUMBER(zeropoint_mag)
    TIANYU_SIM_NUMBER(seeing_fwhm_px) TIANYU_SIM_NUMBER(seeing_jitter)
    TIANYU_SIM_NUMBER(moffat_beta) TIANYU_SIM_NUMBER(sky_e_per_s) TIANYU_SIM_NUMBER(sky_gradient)
    TIANYU_SIM_NUMBER(twilight_factor) TIANYU_SIM_NUMBER(twilight_decay_frames)
    TIANYU_SIM_NUMBER(drift_x_px) TIANYU_SIM_NUMBER(drift_y_px) TIANYU_SIM_NUMBER(drift_jitter_px)
    TIANYU_SIM_NUMBER(transparency_rms) TIANYU_SIM_NUMBER(scintillation_rms)
    TIANYU_SIM_NUMBER(thin_cloud_depth) TIANYU_SIM_NUMBER(thin_cloud_width_frac)
    TIANYU_SIM_NUMBER(hot_pixels) TIANYU_SIM_NUMBER(cosmic_rate_per_cm2_s)
    TIANYU_SIM_NUMBER(pixel_size_um) TIANYU_SIM_NUMBER(satellite_trails)
    TIANYU_SIM_NUMBER(cloud_outs) TIANYU_SIM_NUMBER(double_images)
    TIANYU_SIM_NUMBER(flat_vignetting) TIANYU_SIM_NUMBER(flat_prnu) TIANYU_SIM_NUMBER(target_mag)
    TIANYU_SIM_NUMBER(transit_depth) TIANYU_SIM_NUMBER(transit_duration_d)
    TIANYU_SIM_NUMBER(transit_mid_frac) TIANYU_SIM_NUMBER(transit_period_d)
    TIANYU_SIM_NUMBER(transit_epoch_bjd_tdb) TIANYU_SIM_NUMBER(ew_amplitude)
    TIANYU_SIM_NUMBER(ew_period_d) TIANYU_SIM_NUMBER(rr_amplitude) TIANYU_SIM_NUMBER(rr_period_d)
    TIANYU_SIM_NUMBER(flare_amplitude) TIANYU_SIM_NUMBER(flare_decay_d)
    TIANYU_SIM_NUMBER(flare_time_frac)
#undef TIANYU_SIM_NUMBER
    if (key == "object") { text(c.object); continue; }
    if (key == "filter") { text(c.filter); continue; }
    if (key == "start_utc") { text(c.start_utc); continue; }
    if (key == "sky") { c.sky = apply_sky_json(c.sky, value); continue; }
    if (key == "preset") continue;  // chosen by the caller before the fields apply
    throw SimConfigError(key, "unknown field");
  }
  validate(c);
  return c;
}

void validate(const SimConfig& c) {
  auto shown = [](double v) {
    std::ostringstream out;
    out << v;
    return out.str();
  };
  auto at_least = [&](const char* field, double v, double lo) {
    if (!(v >= lo)) throw SimConfigError(field, "must be at least " + shown(lo) + ", got " + shown(v));
  };
  auto positive = [&](const char* field, double v) {
    if (!(v > 0)) throw SimConfigError(field, "must be positive, got " + shown(v));
  };
  at_least("width", c.width, 64);
  at_least("height", c.height, 64);
  at_least("frames", c.frames, 1);
  at_least("bias_frames", c.bias_frames, 0);
  at_least("flat_frames", c.flat_frames, 0);
  at_least("dark_frames", c.dark_frames, 0);
  positive("exptime_s", c.exptime_s);
  at_least("readout_s", c.readout_s, 0);
  positive("gain", c.gain);
  at_least("read_noise_e", c.read_noise_e, 0);
  positive("full_well_e", c.full_well_e);
  positive("pixel_scale_arcsec", c.pixel_scale_arcsec);
  at_least("stars", c.stars, 4);
  if (!(c.mag_faint > c.mag_bright)) throw SimConfigError("mag_faint", "must be fainter (larger) than mag_bright");
  positive("seeing_fwhm_px", c.seeing_fwhm_px);
  if (!(c.moffat_beta > 1.0)) throw SimConfigError("moffat_beta", "must be above 1");
  at_least("sky_e_per_s", c.sky_e_per_s, 0);
  at_least("hot_pixels", c.hot_pixels, 0);
  if (!(c.thin_cloud_depth >= 0 && c.thin_cloud_depth < 1)) throw SimConfigError("thin_cloud_depth", "must be in [0, 1)");
  positive("thin_cloud_width_frac", c.thin_cloud_width_frac);
  at_least("satellite_trails", c.satellite_trails, 0);
  at_least("cloud_outs", c.cloud_outs, 0);
  at_least("double_images", c.double_images, 0);
  if (c.satellite_trails + c.cloud_outs + c.double_images > c.frames - 1) {
    throw SimConfigError("frames", "too few frames for the bad frames asked for");
  }
  if (!(c.transit_depth >= 0 && c.transit_depth < 1)) throw SimConfigError("transit_depth", "must be in [0, 1)");
  positive("transit_duration_d", c.transit_duration_d);
  at_least("transit_period_d", c.transit_period_d, 0);
  if (c.transit_period_d > 0 && !(c.transit_period_d > c.transit_duration_d)) {
    throw SimConfigError("transit_period_d", "must exceed transit_duration_d");
  }
  if (c.transit_period_d > 0 && !(c.transit_epoch_bjd_tdb > 2400000)) {
    throw SimConfigError("transit_epoch_bjd_tdb", "a periodic transit needs its mid-transit time (BJD_TDB)");
  }
  if (c.dec_deg < -90 || c.dec_deg > 90) throw SimConfigError("dec_deg", "must be within [-90, 90]");
  parse_utc(c.start_utc);
  validate_sky(c);
}

}  // namespace tianyu::pipeline::sim
