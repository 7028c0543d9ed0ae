// Precision metrics against analytic answers.
#include "pipeline/photometry/precision.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace tianyu::pipeline {
namespace {

std::vector<double> white(int n, double sigma, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n01;
  std::vector<double> v(n);
  for (auto& x : v) x = 1.0 + sigma * n01(rng);
  return v;
}

TEST(Precision, SavitzkyGolayKeepsAQuadraticExactly) {
  std::vector<double> v;
  for (int i = 0; i < 50; ++i) v.push_back(3.0 - 0.2 * i + 0.01 * i * i);
  const auto s = savgol_filter(v, 11, 2);
  for (int i = 0; i < 50; ++i) EXPECT_NEAR(s[i], v[i], 1e-9) << i;
  EXPECT_THROW(savgol_filter(v, 10, 2), std::invalid_argument);
}

TEST(Precision, CdppOfWhiteNoiseIsSigmaOverRootDuration) {
  const auto v = white(20000, 1e-3, 1);
  // The detrend takes out a little of the noise on scales near its window; 13 of 301 is small.
  EXPECT_NEAR(cdpp_ppm(v, 13, 301), 1e3 / std::sqrt(13.0), 0.06 * 1e3 / std::sqrt(13.0));
}

TEST(Precision, RmsAndBinnedRmsOfWhiteNoise) {
  const auto v = white(12000, 2e-3, 2);
  std::vector<double> t(v.size());
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = i / 1440.0;  // one point a minute
  EXPECT_NEAR(relative_rms(v), 2e-3, 0.05 * 2e-3);
  // 10-minute bins of 10 points: sigma / sqrt(10).
  EXPECT_NEAR(binned_rms(t, v, 10 / 1440.0), 2e-3 / std::sqrt(10.0), 0.08 * 2e-3 / std::sqrt(10.0));
}

TEST(Precision, YoungScintillationAndTheNoiseBudget) {
  // 1 m aperture at sea level, zenith, 1 s: 0.09 x 100^(-2/3) / sqrt(2).
  EXPECT_NEAR(young_scintillation(1.0, 1.0, 0.0, 1.0), 0.09 * std::pow(100.0, -2.0 / 3.0) / std::sqrt(2.0), 1e-12);
  // X^1.75, exp(-h/8000), t^-1/2 scalings.
  EXPECT_NEAR(young_scintillation(1.0, 2.0, 8000.0, 2.0) / young_scintillation(1.0, 1.0, 0.0, 1.0),
              std::pow(2.0, 1.75) * std::exp(-1.0) / std::sqrt(2.0), 1e-12);
  NoiseModel m;
  m.gain_e_per_adu = 2.0;
  m.read_noise_e = 5.0;
  m.aperture_area_px = 50;
  m.sky_adu_per_px = 100;
  // 10^4 ADU = 2x10^4 e-: sqrt(20000 + 50 (200 + 25)) / 20000.
  EXPECT_NEAR(theoretical_noise(1e4, m), std::sqrt(20000.0 + 50 * 225.0) / 20000.0, 1e-12);
  m.scintillation = 0.003;
  EXPECT_NEAR(theoretical_noise(1e4, m), std::hypot(std::sqrt(31250.0) / 20000.0, 0.003), 1e-12);
}

}  // namespace
}  // namespace tianyu::pipeline
