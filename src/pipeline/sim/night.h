#pragma once
// An observing night with known truth: calibration frames, science frames as a CMOS camera on a
// 1-m telescope writes them, and the truth beside them (truth/stars.csv, frames.csv, flux.csv,
// signals.json). Every random draw comes from (seed, frame), so the output is byte-identical
// for a seed whatever the thread count.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/failure.h"
#include "pipeline/image.h"

namespace tianyu::pipeline::sim {

// A bad simulator configuration, naming the field.
class SimConfigError : public Failure {
 public:
  SimConfigError(const std::string& field, const std::string& message)
      : Failure(field + ": " + message), field_(field) {}
  const std::string& field() const noexcept { return field_; }

 private:
  std::string field_;
};

// A night on the real sky (SimConfig::sky, JSON "sky": {...}): the stars of the installed Tycho-2
// index files around the field centre (SimConfig::ra_deg/dec_deg), brightness from their VT
// magnitudes through zeropoint_mag, plus fainter synthetic stars, drawn through a true TAN
// projection at pixel_scale_arcsec. The frames carry the pointing (RA/DEC, OBJCTRA/OBJCTDEC) but
// no WCS: the pipeline must solve them. `stars` is not used: the sky sets the density.
struct SkyConfig {
  bool enabled = false;
  std::string catalogue = "tycho2";                // the only one so far
  std::string index_dir = "/usr/share/astrometry";
  // The night's pointing (the frame centre); NaN: the field centre. simulate_nights sets it.
  double pointing_ra_deg = std::numeric_limits<double>::quiet_NaN();
  double pointing_dec_deg = std::numeric_limits<double>::quiet_NaN();
  double rotation_deg = 0;                 // of the sky on the detector (see sky.h)
  double synthetic_per_deg2 = 3000;        // synthetic stars per square degree ...
  double synthetic_mag_bright = 12.0;      // ... between these magnitudes, counts rising
  double synthetic_mag_faint = 17.5;       //     as 10^(0.3 m) like the default field's
  double max_offset_frac = 0.25;           // simulate_nights: pointing offset per axis, in fields
  double max_rotation_deg = 1.0;           // simulate_nights: rotation about rotation_deg
  std::uint64_t field_seed = 0;            // the field's stars and pointings; 0: seed
};

struct SimConfig {
  std::uint64_t seed = 1;
  int width = 512, height = 512;
  int frames = 120;
  int bias_frames = 5, flat_frames = 5, dark_frames = 0;
  double exptime_s = 10.0, readout_s = 3.0;
  double gain = 1.2;              // e-/ADU
  double read_noise_e = 3.0;
  double bias_adu = 500.0;
  double bias_column_rms_adu = 2.0;
  double dark_e_per_s = 0.05;
  double full_well_e = 60000.0;
  double pixel_scale_arcsec = 0.6;
  double ra_deg = 108.0, dec_deg = 46.0;  // pointing
  std::string object = "SIM-FIELD-1";
  std::string filter = "r";
  std::string start_utc = "2026-01-15T13:00:00";
  int stars = 400;
  double mag_bright = 9.5, mag_faint = 19.5;
  double zeropoint_mag = 25.0;    // 1 e-/s
  double seeing_fwhm_px = 3.0, seeing_jitter = 0.1;  // relative frame-to-frame scatter
  double moffat_beta = 3.0;
  double sky_e_per_s = 30.0;
  double sky_gradient = 0.05;     // fractional change across the frame
  double twilight_factor = 3.0;   // sky of the first frame relative to the dark-sky level
  double twilight_decay_frames = 15.0;
  double drift_x_px = 0.8, drift_y_px = -0.5;  // per frame, plus a random walk
  double drift_jitter_px = 0.3;
  double transparency_rms = 0.01;
  double thin_cloud_depth = 0.15;        // a passing thin cloud: transparency dips this much
  double thin_cloud_width_frac = 0.04;   // its 1-sigma duration as a fraction of the night
  // Young's formula for 1 m, 10 s, airmass 1.2, 1000 m: 0.09 D^-2/3 X^1.75 e^-h/8000 / sqrt(2t).
  double scintillation_rms = 0.0011;
  int hot_pixels = 50;
  double cosmic_rate_per_cm2_s = 0.02;
  double pixel_size_um = 10.0;
  int satellite_trails = 1, cloud_outs = 1, double_images = 1;
  double flat_vignetting = 0.15, flat_prnu = 0.01;
  // The transit of star 0 (the target).
  double target_mag = 13.0;
  double transit_depth = 0.01;
  double transit_duration_d = 0.008;  // 11.5 min: inside the default 26-min night, baseline both sides
  double transit_mid_frac = 0.5;  // mid-time as a fraction of the night
  // A periodic transit (a survey over nights): period > 0 repeats it every period from the
  // mid-transit time transit_epoch_bjd_tdb (needed then), ignoring transit_mid_frac. 0: one
  // transit a night at transit_mid_frac, as before.
  double transit_period_d = 0;
  double transit_epoch_bjd_tdb = 0;
  // Variables: an EW binary, an RR Lyrae-like pulsator and a flare star.
  double ew_amplitude = 0.15, ew_period_d = 0.3;
  double rr_amplitude = 0.3, rr_period_d = 0.55;
  double flare_amplitude = 1.0, flare_decay_d = 0.01, flare_time_frac = 0.3;
  SkyConfig sky;
};

// The named presets: "default" (512x512, 120 frames), "paper" (2048x2048, 999 frames, 15 s),
// "tianyu" (8120x8120), "sky" (a real-sky night: 1536x1536 at 1.2"/px, a 30.7' field that
// Tycho-2 indexes solve, 40 frames). Unknown names are a SimConfigError.
SimConfig preset(const std::string& name);
// Applies a JSON object's fields over `base`; unknown fields, wrong types and out-of-range
// values are SimConfigErrors naming the field.
SimConfig apply_json(SimConfig base, const nlohmann::json& j);
void validate(const SimConfig& c);

// The Moffat PSF of a star of total `flux` centred at (x, y) (0-based pixel centres) added to
// `image`, integrated over pixels, out to where it no longer matters.
void add_moffat_star(Image& image, double x, double y, double flux, double fwhm_px, double beta);

struct NightSummary {
  int science_frames = 0;
  int calibration_frames = 0;
  int bad_frames = 0;
  double seconds = 0;
};

// Writes the night under `out` (raw/, calib/, truth/). `progress(done, total)` is called as
// frames are written.
NightSummary simulate_night(const SimConfig& config, const std::filesystem::path& out,
                            int threads = 0,
                            const std::function<void(int, int)>& progress = nullptr);

// N nights of one field on the real sky (config.sky.enabled), under out/night-1 ... night-N, each
// like simulate_night's output. Night n: noise seed `seed + n - 1`, start_utc + (n - 1) days, a
// pointing offset from the field centre drawn uniformly within +-max_offset_frac of the field per
// axis and a rotation within +-max_rotation_deg of sky.rotation_deg (from the field seed). The
// field's stars, and so truth star ids, are the same every night.
NightSummary simulate_nights(const SimConfig& config, const std::filesystem::path& out, int nights,
                             int threads = 0,
                             const std::function<void(int night, int done, int total)>& progress = nullptr);

}  // namespace tianyu::pipeline::sim
