#pragma once
// Small minutes of short frames for the streaming tests: 256 x 256 px, a few dozen stars, the
// tianyu preset's exposure and camera, made in memory.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/calibration/calibrate.h"
#include "pipeline/sim/night.h"
#include "pipeline/streaming/short_frame.h"
#include "pipeline/streaming/short_minute.h"

namespace tianyu::pipeline::streaming::testing {

inline sim::SimConfig small_minute(int frames, bool drift = true) {
  auto c = sim::preset("tianyu");
  c.width = c.height = 256;
  c.stars = 120;
  c.frames = frames;
  c.satellite_trails = c.cloud_outs = c.double_images = 0;  // night faults: not in a minute
  c.hot_pixels = 6;
  c.mag_bright = 9.0;  // a few stars bright enough in 0.3 s to register on
  if (!drift) c.drift_x_px = c.drift_y_px = c.drift_jitter_px = 0;
  sim::validate(c);
  return c;
}

inline Masters masters_of(const ShortMinute& m) { return Masters{&m.bias(), &m.dark_rate(), &m.flat()}; }

inline ShortFrame view(const std::vector<std::uint16_t>& adu, const ShortMinute& m, int k) {
  ShortFrame f;
  f.name = "short_" + std::to_string(k) + ".fits";
  f.width = m.width();
  f.height = m.height();
  f.adu16 = adu;
  f.exptime_s = m.exptime_s();
  return f;
}

// Light inside radius r around (x, y) above the median of the annulus [r + 4, r + 10).
inline double aperture_flux(const Image& image, double x, double y, double r) {
  double sum = 0;
  long n = 0;
  std::vector<float> sky;
  for (int py = 0; py < image.height; ++py) {
    for (int px = 0; px < image.width; ++px) {
      const double d = std::hypot(px - x, py - y);
      if (d < r) {
        sum += image.at(px, py);
        ++n;
      } else if (d >= r + 4 && d < r + 10) {
        sky.push_back(image.at(px, py));
      }
    }
  }
  std::nth_element(sky.begin(), sky.begin() + sky.size() / 2, sky.end());
  return sum - n * static_cast<double>(sky[sky.size() / 2]);
}

}  // namespace tianyu::pipeline::streaming::testing
