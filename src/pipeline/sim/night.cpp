#include "pipeline/sim/night.h"
#include "pipeline/time/astro_time.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "pipeline/fits_io.h"

namespace tianyu::pipeline::sim {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;

// Independent, reproducible random streams: one per frame and purpose.
std::mt19937_64 stream(std::uint64_t seed, std::uint64_t id) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (id + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return std::mt19937_64(z ^ (z >> 31));
}

enum Stream : std::uint64_t { kCatalogue = 1, kNight = 2, kFaults = 3, kCamera = 4,
                              kBias = 1000, kFlat = 2000, kDark = 3000, kScience = 10000 };

enum class Variability { none, transit, eclipsing, pulsating, flare };
const char* name(Variability v) {
  switch (v) {
    case Variability::transit: return "transit";
    case Variability::eclipsing: return "eclipsing";
    case Variability::pulsating: return "pulsating";
    case Variability::flare: return "flare";
    default: return "none";
  }
}

struct Star {
  double ra, dec, x, y, mag, e_per_s;
  Variability variability = Variability::none;
};

enum class Fault { none, satellite_trail, cloud_out, double_image };

struct FrameTruth {
  std::string file;
  std::string date_obs;
  double jd_utc_mid, bjd_tdb, dx, dy, fwhm, transparency, sky_e;
  Fault fault = Fault::none;
};

struct Camera {
  std::vector<float> column_adu;  // bias column structure
  std::vector<float> response;    // vignetting x pixel response, mean 1: what a flat measures
  std::vector<std::pair<int, int>> hot;
};

// --- time ------------------------------------------------------------------------------------

double parse_utc(const std::string& iso) {
  try {
    return parse_iso_utc(iso, "start_utc");
  } catch (const TimeError& e) {
    throw SimConfigError("start_utc", "'" + iso + "' is not an ISO time like 2026-01-15T13:00:00");
  }
}

// Times come from pipeline/time: BJD_TDB good to ~0.1 s, as the ingest computes it.

// --- sky and signals --------------------------------------------------------------------------

// Tangent-plane (TAN) offsets in degrees -> RA/Dec.
void tan_to_sky(double xi_deg, double eta_deg, double ra0, double dec0, double& ra, double& dec) {
  const double xi = xi_deg * kDeg, eta = eta_deg * kDeg, d0 = dec0 * kDeg;
  const double denom = std::cos(d0) - eta * std::sin(d0);
  ra = ra0 + std::atan2(xi, denom) / kDeg;
  dec = std::atan2(std::sin(d0) + eta * std::cos(d0), std::hypot(xi, denom)) / kDeg;
  ra = std::fmod(ra + 360.0, 360.0);
}

struct Signals {
  double t0, t1;  // night start and end (BJD)
  double transit_mid, transit_duration, transit_ingress;
  double flare_time;
};

double variability(const SimConfig& c, const Signals& s, Variability v, double t) {
  switch (v) {
    case Variability::transit: {
      const double u = std::abs(t - s.transit_mid), half = s.transit_duration / 2;
      if (u >= half) return 1.0;
      if (u <= half - s.transit_ingress) return 1.0 - c.transit_depth;
      return 1.0 - c.transit_depth * (half - u) / s.transit_ingress;
    }
    case Variability::eclipsing: {
      const double phase = (t - s.t0) / c.ew_period_d;
      return 1.0 - c.ew_amplitude * (0.5 + 0.5 * std::cos(4 * kPi * phase));
    }
    case Variability::pulsating: {
      double phase = std::fmod((t - s.t0) / c.rr_period_d + 0.3, 1.0);
      const double saw = phase < 0.15 ? phase / 0.15 : 1.0 - (phase - 0.15) / 0.85;
      return 1.0 + c.rr_amplitude * (saw - 0.5);
    }
    case Variability::flare:
      return t < s.flare_time ? 1.0
                              : 1.0 + c.flare_amplitude * std::exp(-(t - s.flare_time) / c.flare_decay_d);
    default: return 1.0;
  }
}

// --- noise -------------------------------------------------------------------------------------

float photon_count(double mean_e, std::mt19937_64& rng) {
  if (mean_e <= 0) return 0.0f;
  if (mean_e < 30) return static_cast<float>(std::poisson_distribution<int>(mean_e)(rng));
  return static_cast<float>(mean_e + std::sqrt(mean_e) * std::normal_distribution<double>()(rng));
}

// Electrons -> camera ADU: full well, gain, read noise, bias with its column pattern.
void digitise(Image& e, const SimConfig& c, const Camera& cam, std::mt19937_64& rng) {
  std::normal_distribution<double> read(0.0, c.read_noise_e);
  for (int y = 0; y < e.height; ++y) {
    float* row = e.row(y);
    for (int x = 0; x < e.width; ++x) {
      const double electrons = std::min<double>(row[x], c.full_well_e) + read(rng);
      row[x] = static_cast<float>(std::clamp(
          std::round(electrons / c.gain + c.bias_adu + cam.column_adu[x]), 0.0, 65535.0));
    }
  }
}

void add_noise(Image& e, std::mt19937_64& rng) {
  for (auto& v : e.pixels) v = photon_count(v, rng);
}

}  // namespace

// --- PSF ---------------------------------------------------------------------------------------

void add_moffat_star(Image& image, double x, double y, double flux, double fwhm_px, double beta) {
  if (flux <= 0) return;
  const double alpha = fwhm_px / (2.0 * std::sqrt(std::pow(2.0, 1.0 / beta) - 1.0));
  const double norm = flux * (beta - 1.0) / (kPi * alpha * alpha);
  // Out to where a pixel would receive under 0.01 e-, at least 3 alpha, at most 40 alpha.
  const double reach = std::pow(std::max(norm / 0.01, 1.0), 1.0 / beta) - 1.0;
  const double radius = alpha * std::clamp(std::sqrt(std::max(reach, 0.0)), 3.0, 40.0);
  const int x0 = std::max(0, static_cast<int>(std::floor(x - radius)));
  const int x1 = std::min(image.width - 1, static_cast<int>(std::ceil(x + radius)));
  const int y0 = std::max(0, static_cast<int>(std::floor(y - radius)));
  const int y1 = std::min(image.height - 1, static_cast<int>(std::ceil(y + radius)));
  const double inv_a2 = 1.0 / (alpha * alpha);
  const bool beta_is_3 = std::abs(beta - 3.0) < 1e-12;
  auto profile = [&](double dx, double dy) {
    const double t = 1.0 + (dx * dx + dy * dy) * inv_a2;
    return norm * (beta_is_3 ? 1.0 / (t * t * t) : std::pow(t, -beta));
  };
  const double core = 2.0 * alpha + 1.0;
  constexpr int kSub = 5;  // sub-samples per axis where the profile curves strongly
  for (int py = y0; py <= y1; ++py) {
    float* row = image.row(py);
    for (int px = x0; px <= x1; ++px) {
      const double dx = px - x, dy = py - y;
      double value;
      if (dx * dx + dy * dy < core * core) {
        value = 0;
        for (int i = 0; i < kSub; ++i) {
          for (int j = 0; j < kSub; ++j) {
            value += profile(dx + (i + 0.5) / kSub - 0.5, dy + (j + 0.5) / kSub - 0.5);
          }
        }
        value /= kSub * kSub;
      } else {
        value = profile(dx, dy);
      }
      row[px] += static_cast<float>(value);
    }
  }
}

// --- configuration ----------------------------------------------------------------------------

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
    c.width = c.height = 8120;
    c.frames = 200;
    c.exptime_s = 30.0;
    c.pixel_scale_arcsec = 0.43;
    c.stars = 20000;
    return c;
  }
  throw SimConfigError("preset", "unknown preset '" + name + "' (default, paper, tianyu)");
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
    TIANYU_SIM_NUMBER(transit_mid_frac) TIANYU_SIM_NUMBER(ew_amplitude)
    TIANYU_SIM_NUMBER(ew_period_d) TIANYU_SIM_NUMBER(rr_amplitude) TIANYU_SIM_NUMBER(rr_period_d)
    TIANYU_SIM_NUMBER(flare_amplitude) TIANYU_SIM_NUMBER(flare_decay_d)
    TIANYU_SIM_NUMBER(flare_time_frac)
#undef TIANYU_SIM_NUMBER
    if (key == "object") { text(c.object); continue; }
    if (key == "filter") { text(c.filter); continue; }
    if (key == "start_utc") { text(c.start_utc); continue; }
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
  if (c.dec_deg < -90 || c.dec_deg > 90) throw SimConfigError("dec_deg", "must be within [-90, 90]");
  parse_utc(c.start_utc);
}

// --- the night ---------------------------------------------------------------------------------

namespace {

class Night {
 public:
  Night(const SimConfig& c, std::filesystem::path out) : c_(c), out_(std::move(out)) {
    make_camera();
    make_frames();
    make_catalogue();
  }

  NightSummary write(int threads, const std::function<void(int, int)>& progress) {
    std::filesystem::create_directories(out_ / "raw");
    std::filesystem::create_directories(out_ / "calib");
    std::filesystem::create_directories(out_ / "truth");
    const int calib = c_.bias_frames + c_.flat_frames + c_.dark_frames;
    const int total = calib + c_.frames;
    std::atomic<int> next{0}, done{0};
    std::mutex progress_mutex;
    auto work = [&] {
      for (int i = next++; i < total; i = next++) {
        if (i < c_.bias_frames) write_bias(i);
        else if (i < c_.bias_frames + c_.flat_frames) write_flat(i - c_.bias_frames);
        else if (i < calib) write_dark(i - c_.bias_frames - c_.flat_frames);
        else write_science(i - calib);
        const int d = ++done;
        if (progress) {
          std::lock_guard lock(progress_mutex);
          progress(d, total);
        }
      }
    };
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    write_truth();
    NightSummary s;
    s.science_frames = c_.frames;
    s.calibration_frames = calib;
    for (const auto& f : frames_) s.bad_frames += f.fault != Fault::none;
    return s;
  }

 private:
  void make_camera() {
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

  void make_frames() {
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
    signals_.transit_mid = signals_.t0 + c_.transit_mid_frac * (signals_.t1 - signals_.t0);
    signals_.transit_duration = c_.transit_duration_d;
    signals_.transit_ingress = c_.transit_duration_d / 8;
    signals_.flare_time = signals_.t0 + c_.flare_time_frac * (signals_.t1 - signals_.t0);
  }

  void make_catalogue() {
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

  double flux_e(const Star& s, const FrameTruth& f) const {
    return s.e_per_s * c_.exptime_s * f.transparency * variability(c_, signals_, s.variability, f.bjd_tdb);
  }

  Header header(const std::string& type, double exptime, const std::string& date_obs) const {
    return {{"IMAGETYP", type, "frame type"},
            {"DATE-OBS", date_obs, "UTC start of exposure"},
            {"EXPTIME", exptime, "[s] exposure time"},
            {"FILTER", c_.filter, "filter"},
            {"GAIN", c_.gain, "[e-/ADU] gain"},
            {"RDNOISE", c_.read_noise_e, "[e-] read noise"},
            // Full well in ADU above the bias, less 3 read-noise sigmas: clipped pixels scatter
            // around the clip level by the read noise.
            {"SATURATE", std::floor(c_.bias_adu + (c_.full_well_e - 3 * c_.read_noise_e) / c_.gain),
             "[ADU] saturation level"},
            {"TELESCOP", std::string("TIANYU-SIM"), "simulated 1-m telescope"},
            {"INSTRUME", std::string("SIMCMOS"), "simulated CMOS camera"},
            {"SIMSEED", static_cast<long long>(c_.seed), "tianyu-sim seed"}};
  }

  void add_wcs(Header& h, const FrameTruth& f) const {
    const double scale = c_.pixel_scale_arcsec / 3600.0;
    h.push_back({"OBJECT", c_.object, "target field"});
    h.push_back({"RA", c_.ra_deg, "[deg] pointing right ascension"});
    h.push_back({"DEC", c_.dec_deg, "[deg] pointing declination"});
    h.push_back({"EQUINOX", 2000.0, ""});
    h.push_back({"RADESYS", std::string("ICRS"), ""});
    h.push_back({"CTYPE1", std::string("RA---TAN"), ""});
    h.push_back({"CTYPE2", std::string("DEC--TAN"), ""});
    h.push_back({"CRVAL1", c_.ra_deg, ""});
    h.push_back({"CRVAL2", c_.dec_deg, ""});
    // The sky moved by (dx, dy) on the detector, so the reference pixel did too (1-based).
    h.push_back({"CRPIX1", c_.width / 2.0 + f.dx + 1.0, ""});
    h.push_back({"CRPIX2", c_.height / 2.0 + f.dy + 1.0, ""});
    h.push_back({"CD1_1", -scale, ""});
    h.push_back({"CD1_2", 0.0, ""});
    h.push_back({"CD2_1", 0.0, ""});
    h.push_back({"CD2_2", scale, ""});
  }

  void apply_response(Image& e) const {
    for (std::size_t i = 0; i < e.pixels.size(); ++i) e.pixels[i] *= cam_.response[i];
  }

  Image dark_electrons(double exptime) const {
    Image e(c_.width, c_.height, static_cast<float>(c_.dark_e_per_s * exptime));
    for (const auto& [x, y] : cam_.hot) e.at(x, y) += static_cast<float>(200.0 * exptime);
    return e;
  }

  // calib/<kind>_NNN.fits, taken just before the night starts.
  void write_calibration(const char* kind, const char* imagetyp, int i, double exptime,
                         const Image& adu) const {
    char file[32];
    std::snprintf(file, sizeof file, "%s_%03d.fits", kind, i + 1);
    write_fits(out_ / "calib" / file, adu, header(imagetyp, exptime, frames_.front().date_obs),
               PixelType::uint16);
  }

  void write_bias(int i) {
    auto rng = stream(c_.seed, kBias + i);
    Image e(c_.width, c_.height, 0.0f);
    digitise(e, c_, cam_, rng);
    write_calibration("bias", "BIAS", i, 0.0, e);
  }

  void write_dark(int i) {
    auto rng = stream(c_.seed, kDark + i);
    Image e = dark_electrons(c_.exptime_s);
    add_noise(e, rng);
    digitise(e, c_, cam_, rng);
    write_calibration("dark", "DARK", i, c_.exptime_s, e);
  }

  void write_flat(int i) {
    auto rng = stream(c_.seed, kFlat + i);
    std::uniform_real_distribution<double> u01;
    const double level = 25000.0 * (0.6 + 0.6 * u01(rng));  // twilight fades between flats
    Image e(c_.width, c_.height, static_cast<float>(level));
    for (int s = 0; s < 5; ++s) {  // a few faint stars shine through the twilight
      add_moffat_star(e, u01(rng) * c_.width, u01(rng) * c_.height, level * 20.0,
                      c_.seeing_fwhm_px, c_.moffat_beta);
    }
    apply_response(e);
    add_noise(e, rng);
    digitise(e, c_, cam_, rng);
    write_calibration("flat", "FLAT", i, 1.0, e);
  }

  void write_science(int k) {
    const auto& f = frames_[k];
    auto rng = stream(c_.seed, kScience + k);
    std::normal_distribution<double> n01;
    std::uniform_real_distribution<double> u01;
    Image e(c_.width, c_.height);
    const double cx = c_.width / 2.0, cy = c_.height / 2.0;
    for (int y = 0; y < c_.height; ++y) {
      for (int x = 0; x < c_.width; ++x) {
        const double gradient = 1.0 + c_.sky_gradient * ((x - cx) / c_.width + 0.5 * (y - cy) / c_.height);
        e.at(x, y) = static_cast<float>(f.sky_e * gradient);
      }
    }
    const double jump = f.fault == Fault::double_image ? 0.4 : 0.0;
    for (const auto& s : stars_) {
      const double x = s.x + f.dx, y = s.y + f.dy;
      if (x < -60 || y < -60 || x > c_.width + 60 || y > c_.height + 60) continue;
      // Scintillation is noise, not signal: it stays out of truth/flux.csv.
      const double flux = flux_e(s, f) * (1.0 + c_.scintillation_rms * n01(rng));
      add_moffat_star(e, x, y, flux * (1.0 - jump), f.fwhm, c_.moffat_beta);
      if (jump > 0) add_moffat_star(e, x + 9.0, y + 6.0, flux * jump, f.fwhm, c_.moffat_beta);
    }
    if (f.fault == Fault::satellite_trail) {
      const double y0 = u01(rng) * c_.height, y1 = u01(rng) * c_.height;
      const double slope = (y1 - y0) / c_.width;
      const double norm = std::sqrt(1.0 + slope * slope);
      for (int y = 0; y < c_.height; ++y) {
        for (int x = 0; x < c_.width; ++x) {
          const double d = std::abs(y - (y0 + slope * x)) / norm;
          if (d < 2.0) e.at(x, y) += static_cast<float>(3000.0 * (1.0 - d / 2.0));
        }
      }
    }
    apply_response(e);  // sky, stars and trail all pass the optics; dark current does not
    const Image dark = dark_electrons(c_.exptime_s);
    for (std::size_t i = 0; i < e.pixels.size(); ++i) e.pixels[i] += dark.pixels[i];
    add_noise(e, rng);
    // Cosmic rays land after the photon noise: a few pixels each, thousands of electrons.
    const double area_cm2 = c_.width * c_.height * std::pow(c_.pixel_size_um * 1e-4, 2);
    const int hits = std::poisson_distribution<int>(c_.cosmic_rate_per_cm2_s * area_cm2 * c_.exptime_s)(rng);
    for (int h = 0; h < hits; ++h) {
      int x = static_cast<int>(u01(rng) * c_.width), y = static_cast<int>(u01(rng) * c_.height);
      const int length = 1 + static_cast<int>(u01(rng) * 3);
      for (int p = 0; p < length && x < c_.width; ++p, ++x) {
        e.at(x, y) += static_cast<float>(2000.0 + 8000.0 * u01(rng));
      }
    }
    digitise(e, c_, cam_, rng);
    Header h = header("LIGHT", c_.exptime_s, f.date_obs);
    add_wcs(h, f);
    write_fits(out_ / "raw" / f.file, e, h, PixelType::uint16);
  }

  void write_truth() const {
    std::ofstream stars(out_ / "truth" / "stars.csv");
    stars << "star_id,ra_deg,dec_deg,x_first,y_first,mag,variability\n";
    char line[256];
    for (std::size_t i = 0; i < stars_.size(); ++i) {
      const auto& s = stars_[i];
      std::snprintf(line, sizeof line, "%zu,%.8f,%.8f,%.4f,%.4f,%.4f,%s\n", i, s.ra, s.dec, s.x,
                    s.y, s.mag, name(s.variability));
      stars << line;
    }
    std::ofstream frames(out_ / "truth" / "frames.csv");
    frames << "file,bjd_tdb,dx,dy,fwhm_px,transparency,sky_adu,bad\n";
    for (const auto& f : frames_) {
      std::snprintf(line, sizeof line, "%s,%.8f,%.4f,%.4f,%.4f,%.5f,%.3f,%d\n", f.file.c_str(),
                    f.bjd_tdb, f.dx, f.dy, f.fwhm, f.transparency, f.sky_e / c_.gain,
                    f.fault != Fault::none);
      frames << line;
    }
    std::ofstream flux(out_ / "truth" / "flux.csv");
    flux << "star_id,file,flux_e\n";
    for (std::size_t i = 0; i < stars_.size(); ++i) {
      for (const auto& f : frames_) {
        std::snprintf(line, sizeof line, "%zu,%s,%.3f\n", i, f.file.c_str(), flux_e(stars_[i], f));
        flux << line;
      }
    }
    nlohmann::json faults = nlohmann::json::array();
    for (const auto& f : frames_) {
      if (f.fault == Fault::none) continue;
      faults.push_back({{"file", f.file},
                        {"fault", f.fault == Fault::satellite_trail ? "satellite_trail"
                                  : f.fault == Fault::cloud_out     ? "cloud_out"
                                                                    : "double_image"}});
    }
    const nlohmann::json signals = {
        {"seed", c_.seed},
        {"time_system", "BJD_TDB (light time from a low-precision solar ephemeris, +-5 s)"},
        {"transit", {{"star_id", 0}, {"shape", "trapezoid"}, {"depth", c_.transit_depth},
                     {"duration_d", c_.transit_duration_d}, {"ingress_d", signals_.transit_ingress},
                     {"t_mid_bjd_tdb", signals_.transit_mid}}},
        {"variables", nlohmann::json::array(
                          {{{"star_id", 1}, {"type", "eclipsing"}, {"subtype", "EW"},
                            {"amplitude", c_.ew_amplitude}, {"period_d", c_.ew_period_d},
                            {"epoch_bjd_tdb", signals_.t0}},
                           {{"star_id", 2}, {"type", "pulsating"}, {"subtype", "RRab-like"},
                            {"amplitude", c_.rr_amplitude}, {"period_d", c_.rr_period_d}},
                           {{"star_id", 3}, {"type", "flare"}, {"amplitude", c_.flare_amplitude},
                            {"decay_d", c_.flare_decay_d}, {"t_peak_bjd_tdb", signals_.flare_time}}})},
        {"bad_frames", faults}};
    std::ofstream(out_ / "truth" / "signals.json") << signals.dump(2) << "\n";
  }

  const SimConfig& c_;
  std::filesystem::path out_;
  Camera cam_;
  std::vector<FrameTruth> frames_;
  std::vector<Star> stars_;
  Signals signals_{};
};

}  // namespace

NightSummary simulate_night(const SimConfig& config, const std::filesystem::path& out, int threads,
                            const std::function<void(int, int)>& progress) {
  validate(config);
  const auto started = std::chrono::steady_clock::now();
  Night night(config, out);
  auto summary = night.write(threads, progress);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace tianyu::pipeline::sim
