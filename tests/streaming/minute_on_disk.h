#pragma once
// A minute of short frames on disk, for the coadd_minute step's tests: the simulator's "tianyu"
// preset at a scaled size (pipeline::streaming::ShortMinute), each frame written as the camera
// writes it (16-bit FITS with IMAGETYP, DATE-OBS to the millisecond, EXPTIME), calibration
// frames drawn from the camera's true masters, and the known answer: the sum of the calibrated
// frames, shifted by their (whole-pixel) pointing offsets onto the first frame's grid.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "pipeline/calibration/calibrate.h"
#include "pipeline/fits_io.h"
#include "pipeline/sim/night.h"
#include "pipeline/streaming/short_minute.h"
#include "pipeline/time/astro_time.h"

namespace tianyu::streaming_test {

namespace fs = std::filesystem;
using pipeline::Image;
using pipeline::streaming::ShortMinute;

// The tianyu preset at size x size with `frames` short frames; the density of bright stars kept
// so a few register in 0.3 s; no night faults (trails, clouds) inside a minute.
inline pipeline::sim::SimConfig scaled_minute(int size, int frames) {
  auto c = pipeline::sim::preset("tianyu");
  c.width = c.height = size;
  c.frames = frames;
  c.stars = 120 * (size / 256) * (size / 256);
  c.satellite_trails = c.cloud_outs = c.double_images = 0;
  c.hot_pixels = 6 * (size / 256) * (size / 256);
  c.mag_bright = 9.0;
  pipeline::sim::validate(c);
  return c;
}

// Whole-pixel pointing offsets (a walk of 3 px in x and -2 px in y over the minute), so the
// known answer is exact: registration finds them, rounded, whatever the stars' noise.
inline void walk_in_whole_pixels(ShortMinute& m) {
  const int n = m.frames();
  for (int k = 0; k < n; ++k) {
    const double f = n > 1 ? static_cast<double>(k) / (n - 1) : 0.0;
    m.set_shift(k, std::round(3.0 * f), -std::round(2.0 * f));
  }
}

// Frame k's start: the camera's cadence (exposure + readout: 174 a minute) from 14:00:00 UTC.
inline std::string start_of(const pipeline::sim::SimConfig& c, int k) {
  const double jd0 = pipeline::julian_date(2026, 3, 1, 14, 0, 0.0);
  return pipeline::iso_from_jd(jd0 + k * (c.exptime_s + c.readout_s) / 86400.0);
}

inline Image as_image(const std::vector<std::uint16_t>& adu, int w, int h) {
  Image im(w, h);
  for (std::size_t i = 0; i < adu.size(); ++i) im.pixels[i] = adu[i];
  return im;
}

inline pipeline::Header camera_header(const std::string& imagetyp, double exptime_s, const std::string& date_obs = "") {
  pipeline::Header h = {{"IMAGETYP", imagetyp, ""}, {"EXPTIME", exptime_s, "[s]"}, {"GAIN", 1.2, ""},
                        {"SATURATE", 65000.0, ""}};
  if (!date_obs.empty()) h.push_back({"DATE-OBS", date_obs, "UTC start"});
  return h;
}

inline fs::path short_frame_path(const fs::path& dir, int k) {
  char name[32];
  std::snprintf(name, sizeof name, "short_%04d.fits", k);
  return dir / name;
}

// Frame k as the camera writes it; `exptime_s` overrides the card (a foreign frame).
inline void write_short_frame(const fs::path& dir, const ShortMinute& m, const pipeline::sim::SimConfig& c, int k,
                              double exptime_s = 0) {
  std::vector<std::uint16_t> adu;
  m.render(k, adu);
  pipeline::write_fits(short_frame_path(dir, k), as_image(adu, m.width(), m.height()),
                       camera_header("LIGHT", exptime_s > 0 ? exptime_s : c.exptime_s, start_of(c, k)),
                       pipeline::PixelType::uint16);
}

// `n` each of bias, dark (10 s) and flat (1 s, ~20,000 e-) frames from the camera's true masters,
// with read and photon noise, under dir/calib.
inline void write_calibration_frames(const fs::path& dir, const ShortMinute& m, const pipeline::sim::SimConfig& c,
                                     int n) {
  fs::create_directories(dir / "calib");
  std::mt19937_64 rng(c.seed + 17);
  std::normal_distribution<double> n01;
  const auto frame = [&](const char* kind, int i, double t, double light_e) {
    Image im(m.width(), m.height());
    for (std::size_t p = 0; p < im.pixels.size(); ++p) {
      const double e = m.dark_rate().pixels[p] * c.gain * t + light_e * m.flat().pixels[p];
      const double noise_e = std::sqrt(e + c.read_noise_e * c.read_noise_e) * n01(rng);
      im.pixels[p] = static_cast<float>(m.bias().pixels[p] + (e + noise_e) / c.gain);
    }
    pipeline::write_fits(dir / "calib" / (std::string(kind) + "_" + std::to_string(i) + ".fits"), im,
                         camera_header(kind, t), pipeline::PixelType::uint16);
  };
  for (int i = 0; i < n; ++i) {
    frame("BIAS", i, 0.0, 0.0);
    frame("DARK", i, 10.0, 0.0);
    frame("FLAT", i, 1.0, 20000.0);
  }
}

struct KnownSum {
  Image sum;                 // the calibrated frames summed on the first frame's grid
  std::vector<bool> every;  // every frame covered the pixel and calibrated it
};

// The known answer: sum over frames of (raw - B - D t) / F at frame pixel (X + ix_k, Y + iy_k),
// with the masters the step was given and the frames read back from their files. A pixel some
// frame does not cover, or the masters cannot calibrate (flat < 0.2, hot), or saturated, is not
// `every` (the step leaves it out of the sum and of the exposure map).
inline KnownSum sum_of_calibrated(const std::vector<fs::path>& files, const std::vector<std::pair<int, int>>& shifts,
                                  const pipeline::Masters& masters, double exptime_s, float hot_dark_rate) {
  const auto first = pipeline::read_fits(files.front()).image;
  const int w = first.width, h = first.height;
  KnownSum out{Image(w, h), std::vector<bool>(static_cast<std::size_t>(w) * h, true)};
  std::vector<double> sum(out.every.size(), 0.0);
  for (std::size_t k = 0; k < files.size(); ++k) {
    const auto raw = pipeline::read_fits(files[k]).image;
    const auto [ix, iy] = shifts[k];
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const std::size_t i = static_cast<std::size_t>(y) * w + x;
        const int sx = x + ix, sy = y + iy;
        if (sx < 0 || sy < 0 || sx >= w || sy >= h) {
          out.every[i] = false;
          continue;
        }
        const std::size_t s = static_cast<std::size_t>(sy) * w + sx;
        const double b = masters.bias ? masters.bias->pixels[s] : 0.0;
        const double d = masters.dark_rate ? masters.dark_rate->pixels[s] : 0.0;
        const double f = masters.flat ? masters.flat->pixels[s] : 1.0;
        if (f < 0.2 || d > hot_dark_rate || raw.pixels[s] >= 65000) out.every[i] = false;
        sum[i] += (raw.pixels[s] - b - d * exptime_s) / f;
      }
    }
  }
  for (std::size_t i = 0; i < sum.size(); ++i) out.sum.pixels[i] = static_cast<float>(sum[i]);
  return out;
}

// Light inside radius r around (x, y) above the median of the annulus [r + 4, r + 10).
inline double aperture_flux(const Image& image, double x, double y, double r) {
  double sum = 0;
  long n = 0;
  std::vector<float> sky;
  for (int py = std::max(0, int(y - r - 11)); py < std::min(image.height, int(y + r + 12)); ++py) {
    for (int px = std::max(0, int(x - r - 11)); px < std::min(image.width, int(x + r + 12)); ++px) {
      const double dist = std::hypot(px - x, py - y);
      if (dist < r) {
        sum += image.at(px, py);
        ++n;
      } else if (dist >= r + 4 && dist < r + 10) {
        sky.push_back(image.at(px, py));
      }
    }
  }
  std::nth_element(sky.begin(), sky.begin() + sky.size() / 2, sky.end());
  return sum - n * static_cast<double>(sky[sky.size() / 2]);
}

// The brightest star at least `margin` px inside the frame with no star above 1 % of its light
// within 30 px: its aperture and sky are its own.
inline const pipeline::streaming::MinuteStar* lone_bright_star(const ShortMinute& m, int margin) {
  const pipeline::streaming::MinuteStar* best = nullptr;
  for (const auto& s : m.stars()) {
    const bool inside = s.x > margin && s.x < m.width() - margin && s.y > margin && s.y < m.height() - margin;
    bool alone = true;
    for (const auto& o : m.stars()) {
      alone = alone && (&o == &s || std::hypot(o.x - s.x, o.y - s.y) > 30 || o.electrons < 0.01 * s.electrons);
    }
    if (inside && alone && (!best || s.electrons > best->electrons)) best = &s;
  }
  return best;
}

}  // namespace tianyu::streaming_test
