#include "pipeline/streaming/short_minute.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include "pipeline/parallel.h"

namespace tianyu::pipeline::streaming {
namespace {

// Independent, reproducible random streams per (seed, purpose): a SplitMix64 scramble.
std::mt19937_64 stream(std::uint64_t seed, std::uint64_t id) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (id + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return std::mt19937_64(z ^ (z >> 31));
}

enum Purpose : std::uint64_t { kCamera = 1, kStars = 2, kShifts = 3, kRows = 1000 };

}  // namespace

ShortMinute::ShortMinute(const sim::SimConfig& config, bool noise, int threads)
    : c_(config), noise_(noise), threads_(threads) {
  c_.satellite_trails = c_.cloud_outs = c_.double_images = 0;  // the night's faults: not made here
  sim::validate(c_);
  make_camera();
  make_stars();
  make_shifts();
}

void ShortMinute::make_camera() {
  const int w = c_.width, h = c_.height;
  auto rng = stream(c_.seed, kCamera);
  std::normal_distribution<double> n01;
  std::vector<float> column(w);
  for (auto& v : column) v = static_cast<float>(c_.bias_adu + c_.bias_column_rms_adu * n01(rng));
  bias_ = Image(w, h);
  dark_rate_ = Image(w, h, static_cast<float>(c_.dark_e_per_s / c_.gain));
  flat_ = Image(w, h);
  double sum = 0;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double rx = (x - 0.5 * w) / (0.5 * w), ry = (y - 0.5 * h) / (0.5 * h);
      const double response = (1.0 - c_.flat_vignetting * 0.5 * (rx * rx + ry * ry)) * (1.0 + c_.flat_prnu * n01(rng));
      flat_.at(x, y) = static_cast<float>(response);
      bias_.at(x, y) = column[x];
      sum += response;
    }
  }
  const double mean = sum / flat_.pixels.size();
  for (auto& v : flat_.pixels) v = static_cast<float>(v / mean);
  std::uniform_int_distribution<int> ux(0, w - 1), uy(0, h - 1);
  for (int i = 0; i < c_.hot_pixels; ++i) dark_rate_.at(ux(rng), uy(rng)) = static_cast<float>(2000.0 / c_.gain);
}

// Magnitudes with counts rising as 10^(0.3 m), as the night simulator's field; positions
// uniform, clear of the edges by more than a minute's drift.
void ShortMinute::make_stars() {
  auto rng = stream(c_.seed, kStars);
  std::uniform_real_distribution<double> u01;
  const double margin = 8.0;
  const double lo = std::pow(10.0, 0.3 * c_.mag_bright), hi = std::pow(10.0, 0.3 * c_.mag_faint);
  for (int i = 0; i < c_.stars; ++i) {
    MinuteStar s;
    s.x = margin + u01(rng) * (c_.width - 2 * margin);
    s.y = margin + u01(rng) * (c_.height - 2 * margin);
    const double mag = std::log10(lo + u01(rng) * (hi - lo)) / 0.3;
    s.electrons = std::pow(10.0, -0.4 * (mag - c_.zeropoint_mag)) * c_.exptime_s;
    stars_.push_back(s);
  }
}

// A steady drift plus a random walk (the telescope's tracking and the seeing's image motion),
// and the seeing disc per frame, as the night simulator draws them.
void ShortMinute::make_shifts() {
  auto rng = stream(c_.seed, kShifts);
  std::normal_distribution<double> n01;
  double walk_x = 0, walk_y = 0;
  for (int k = 0; k < c_.frames; ++k) {
    if (k > 0) {
      walk_x += c_.drift_jitter_px * n01(rng);
      walk_y += c_.drift_jitter_px * n01(rng);
    }
    dx_.push_back(k == 0 ? 0.0 : k * c_.drift_x_px + walk_x);
    dy_.push_back(k == 0 ? 0.0 : k * c_.drift_y_px + walk_y);
    fwhm_.push_back(c_.seeing_fwhm_px * std::clamp(1.0 + c_.seeing_jitter * n01(rng), 0.5, 2.0));
  }
}

void ShortMinute::set_shift(int k, double dx, double dy) {
  dx_.at(k) = dx;
  dy_.at(k) = dy;
}

Image ShortMinute::light_electrons(int k) const {
  const int w = c_.width;
  Image e(w, c_.height);
  const double sky = c_.sky_e_per_s * c_.exptime_s;
  parallel_rows(c_.height, threads_, [&](int y0, int y1) {
    for (int y = y0; y < y1; ++y) {
      float* row = e.row(y);
      for (int x = 0; x < w; ++x) row[x] = static_cast<float>(sky * (1.0 + c_.sky_gradient * (x / double(w) - 0.5)));
    }
  });
  for (const auto& s : stars_) {
    sim::add_moffat_star(e, s.x + dx_.at(k), s.y + dy_.at(k), s.electrons, fwhm_.at(k), c_.moffat_beta);
  }
  return e;
}

void ShortMinute::render(int k, std::vector<std::uint16_t>& adu) const {
  if (k < 0 || k >= c_.frames) throw std::out_of_range("ShortMinute::render: no frame " + std::to_string(k));
  const Image light = light_electrons(k);
  const int w = c_.width;
  adu.resize(light.pixels.size());
  parallel_rows(c_.height, threads_, [&](int y0, int y1) {
    std::normal_distribution<double> n01;
    for (int y = y0; y < y1; ++y) {
      auto rng = stream(c_.seed, kRows + static_cast<std::uint64_t>(k) * c_.height + y);
      const std::size_t row = static_cast<std::size_t>(y) * w;
      for (int x = 0; x < w; ++x) {
        const std::size_t i = row + x;
        double e = light.pixels[i] * flat_.pixels[i] + dark_rate_.pixels[i] * c_.gain * c_.exptime_s;
        if (noise_) {
          e = e < 30 ? std::poisson_distribution<int>(e)(rng) : e + std::sqrt(e) * n01(rng);
          e += c_.read_noise_e * n01(rng);
        }
        const double v = std::min(e, c_.full_well_e) / c_.gain + bias_.pixels[i];
        adu[i] = static_cast<std::uint16_t>(std::clamp(std::round(v), 0.0, 65535.0));
      }
    }
  });
}

}  // namespace tianyu::pipeline::streaming
