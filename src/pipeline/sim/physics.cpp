// The simulated sky's physics: time, the tangent plane, the variable stars' light, photon and
// read noise, and the Moffat PSF.
#include "pipeline/sim/night_parts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "pipeline/time/astro_time.h"

namespace tianyu::pipeline::sim::detail {

// --- time ------------------------------------------------------------------------------------

double parse_utc(const std::string& iso) {
  try {
    return parse_iso_utc(iso, "start_utc");
  } catch (const TimeError& e) {
    throw SimConfigError("start_utc", "'" + iso + "' is not an ISO time like 2026-01-15T13:00:00");
  }
}

// Times come from pipeline/time: BJD_TDB good to ~0.1 s, as the ingest computes it.

// Tangent-plane (TAN) offsets in degrees -> RA/Dec.
void tan_to_sky(double xi_deg, double eta_deg, double ra0, double dec0, double& ra, double& dec) {
  const double xi = xi_deg * kDeg, eta = eta_deg * kDeg, d0 = dec0 * kDeg;
  const double denom = std::cos(d0) - eta * std::sin(d0);
  ra = ra0 + std::atan2(xi, denom) / kDeg;
  dec = std::atan2(std::sin(d0) + eta * std::cos(d0), std::hypot(xi, denom)) / kDeg;
  ra = std::fmod(ra + 360.0, 360.0);
}

double variability(const SimConfig& c, const Signals& s, Variability v, double t) {
  switch (v) {
    case Variability::transit: {
      double u = std::abs(t - s.transit_mid);
      if (c.transit_period_d > 0) u = std::abs(u - c.transit_period_d * std::round(u / c.transit_period_d));
      const double half = s.transit_duration / 2;
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

namespace {

float photon_count(double mean_e, std::mt19937_64& rng) {
  if (mean_e <= 0) return 0.0f;
  if (mean_e < 30) return static_cast<float>(std::poisson_distribution<int>(mean_e)(rng));
  return static_cast<float>(mean_e + std::sqrt(mean_e) * std::normal_distribution<double>()(rng));
}

}  // namespace

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

}  // namespace tianyu::pipeline::sim::detail

namespace tianyu::pipeline::sim {

using detail::kPi;

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

}  // namespace tianyu::pipeline::sim
