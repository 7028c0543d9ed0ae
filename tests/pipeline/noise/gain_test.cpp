// The gain from flat pairs and from constant stars, against the gain the frames were made with.
#include "pipeline/noise/gain.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace tp = tianyu::pipeline;

namespace {

constexpr double kGain = 1.2, kReadNoiseE = 8.0, kBiasAdu = 500.0;

// A raw flat (or bias, level 0) as a camera makes it: a vignetted, dusty response with 1 %
// pixel-to-pixel variation fixed between frames, shot and read noise, digitised.
tp::Image raw_frame(double level_e, std::uint64_t seed, int cosmic_rays = 0) {
  const int n = 256;
  std::mt19937_64 pattern(7), rng(seed);
  // One distribution per engine: a shared one hands a value cached from one engine to the other.
  std::normal_distribution<double> fixed(0, 1), unit(0, 1);
  tp::Image im(n, n);
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      const double r2 = (std::pow(x - n / 2.0, 2) + std::pow(y - n / 2.0, 2)) / (n * n / 4.0);
      const double response = (1 - 0.3 * r2) * (1 + 0.01 * fixed(pattern));
      const double e = level_e * response;
      const double electrons = e + std::sqrt(e) * unit(rng) + kReadNoiseE * unit(rng);
      im.at(x, y) = static_cast<float>(std::round(electrons / kGain + kBiasAdu));
    }
  }
  std::uniform_int_distribution<int> pos(0, n - 1);
  for (int i = 0; i < cosmic_rays; ++i) im.at(pos(rng), pos(rng)) += 5000.0f;
  return im;
}

}  // namespace

TEST(GainFromFlats, PhotonTransferOfThreeLevelsWithABiasPairRecoversTheGain) {
  const auto b1 = raw_frame(0, 1), b2 = raw_frame(0, 2);
  std::vector<tp::Image> flats;
  for (const double level : {5000.0, 15000.0, 30000.0}) {
    flats.push_back(raw_frame(level, 10 + flats.size(), 40));  // cosmic rays must be clipped
    flats.push_back(raw_frame(level, 20 + flats.size()));
  }
  const std::vector<tp::FramePair> pairs{{&flats[0], &flats[1]}, {&flats[2], &flats[3]}, {&flats[4], &flats[5]}};
  const auto e = tp::gain_from_flat_pairs(pairs, {&b1, &b2});
  EXPECT_EQ(e.source, tp::GainSource::flat_photon_transfer);
  EXPECT_STREQ(tp::gain_source_name(e.source), "flat_photon_transfer");
  EXPECT_NEAR(e.gain_e_per_adu, kGain, 0.05 * kGain) << e.detail;
  EXPECT_NEAR(e.read_noise_e, kReadNoiseE, 0.05 * kReadNoiseE);
  EXPECT_LT(e.gain_err, 0.03 * kGain);
  EXPECT_EQ(e.samples, 3 * 3 * 3);  // 256 px less 16 px margins: 3 x 3 tiles of 64 px per pair
}

TEST(GainFromFlats, OnePairWithoutBiasFramesUsesTheGivenBiasLevel) {
  const auto a = raw_frame(20000, 31), b = raw_frame(20000, 32);
  const std::vector<tp::FramePair> pairs{{&a, &b}};
  tp::PhotonTransferOptions o;
  o.bias_level_adu = kBiasAdu;
  const auto e = tp::gain_from_flat_pairs(pairs, {}, o);
  // Read noise ignored: var = S / g + RN^2 with RN^2 = 44 ADU^2 beside S / g ~ 12000: +0.4 %.
  EXPECT_NEAR(e.gain_e_per_adu, kGain, 0.05 * kGain) << e.detail;
}

TEST(GainFromFlats, RefusesPairsOfDifferentSizes) {
  const tp::Image a(128, 128, 1000), b(64, 64, 1000);
  const std::vector<tp::FramePair> pairs{{&a, &b}};
  EXPECT_THROW(tp::gain_from_flat_pairs(pairs), tp::GainError);
}

namespace {

// Constant stars' relative curves with var = F / g + B + (c F)^2, and a few variables.
std::vector<tp::StarScatter> simulated_stars(bool give_other_variance) {
  std::mt19937_64 rng(42);
  std::normal_distribution<double> unit(0, 1);
  std::uniform_real_distribution<double> log_flux(std::log(2e3), std::log(2e6));
  const double npix = 50, sky_adu = 200, floor = 1e-3;
  const double other = npix * (sky_adu / kGain + std::pow(kReadNoiseE / kGain, 2));
  std::vector<tp::StarScatter> stars;
  for (int s = 0; s < 300; ++s) {
    const double f = std::exp(log_flux(rng));
    const double sigma = std::sqrt(f / kGain + other + std::pow(floor * f, 2)) / f;
    std::vector<double> curve(150);
    for (int i = 0; i < 150; ++i) {
      const double variable = s < 10 ? 0.1 * std::sin(i / 10.0) : 0.0;  // 7 % rms: above any star's noise
      curve[i] = 1 + variable + sigma * unit(rng);
    }
    stars.push_back(tp::star_scatter(curve, f, give_other_variance ? other : 0.0));
  }
  return stars;
}

}  // namespace

TEST(GainFromStars, ScatterAgainstFluxRecoversTheGainWithTheErrorBudgetKnown) {
  const auto e = tp::gain_from_constant_stars(simulated_stars(true));
  EXPECT_EQ(e.source, tp::GainSource::constant_star_scatter);
  EXPECT_NEAR(e.gain_e_per_adu, kGain, 0.05 * kGain) << e.detail;
  EXPECT_LE(e.samples, 290);  // the 10 variables are left out
  EXPECT_GE(e.samples, 280);  // and few constant stars with them
}

TEST(GainFromStars, ScatterAgainstFluxRecoversTheGainWithTheSkyTermFitted) {
  const auto e = tp::gain_from_constant_stars(simulated_stars(false));
  EXPECT_NEAR(e.gain_e_per_adu, kGain, 0.05 * kGain) << e.detail;
}

TEST(GainFromStars, TooFewStarsIsRefused) {
  auto stars = simulated_stars(true);
  stars.resize(5);
  EXPECT_THROW(tp::gain_from_constant_stars(stars), tp::GainError);
}

TEST(GainErrors, AFluxErrorIsRecomputedForAnotherGain) {
  // F = 10000 ADU, other variance 400: with g = 1, err^2 = 10400; with g = 4, 2500 + 400.
  const double err = std::sqrt(10400.0);
  EXPECT_NEAR(tp::non_photon_variance(10000, err, 1.0), 400.0, 1e-9);
  EXPECT_NEAR(tp::flux_error_for_gain(10000, err, 1.0, 4.0), std::sqrt(2900.0), 1e-9);
}
