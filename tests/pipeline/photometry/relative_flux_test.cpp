// Relative-flux calibration: the n_f formula, a common transparency change removed to the
// photon limit, a flaring reference dropped by leave-one-out, and every decision recorded.
#include "pipeline/photometry/relative_flux.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include <gtest/gtest.h>

#include "pipeline/photometry/precision.h"
#include "pipeline/recipes/recipe_error.h"
#include "pipeline/recipes/relative_flux.h"
#include "pipeline/robust_stats.h"

namespace tianyu::pipeline {
namespace {

TEST(RelativeFlux, GroupCountFollowsTheFormula) {
  // n_f = max(1, min(floor(N_p / 6), floor(sqrt(N_p)))).
  EXPECT_EQ(flux_group_count(1), 1);
  EXPECT_EQ(flux_group_count(5), 1);
  EXPECT_EQ(flux_group_count(6), 1);
  EXPECT_EQ(flux_group_count(36), 6);
  EXPECT_EQ(flux_group_count(100), 10);
}

// Stars of constant flux seen through a transparency that falls to 60 % and back, with photon
// noise (gain 1) only.
FluxTable constant_stars(int stars, int frames, std::mt19937_64& rng) {
  FluxTable t;
  t.stars = stars;
  t.frames = frames;
  std::normal_distribution<double> n01;
  std::uniform_real_distribution<double> u01;
  std::vector<double> truth(stars);
  for (int s = 0; s < stars; ++s) {
    truth[s] = 2e4 * (1 + 4 * u01(rng));
    t.x.push_back(1000 * u01(rng));
    t.y.push_back(1000 * u01(rng));
  }
  t.good_frame.assign(frames, true);
  for (int s = 0; s < stars; ++s) {
    for (int f = 0; f < frames; ++f) {
      const double transparency = 1.0 - 0.4 * std::exp(-std::pow((f - frames / 2.0) / (frames / 8.0), 2));
      const double mean = truth[s] * transparency;
      t.flux.push_back(mean + std::sqrt(mean) * n01(rng));
      t.flux_err.push_back(std::sqrt(mean));
    }
  }
  t.flags.assign(t.flux.size(), 0);
  return t;
}

std::vector<double> curve(const RelativeFluxResult& r, int star) {
  return {r.rel_flux.begin() + static_cast<std::ptrdiff_t>(star) * r.frames,
          r.rel_flux.begin() + static_cast<std::ptrdiff_t>(star + 1) * r.frames};
}

double rms_over_mean(const std::vector<double>& v) {
  const auto s = sigma_clipped_stats(v, {10, 10, 1});
  return s.stddev / s.mean;
}

TEST(RelativeFlux, ACommonTransparencyChangeLeavesFlatCurvesAtThePhotonLimit) {
  std::mt19937_64 rng(1);
  const auto t = constant_stars(12, 300, rng);
  RelativeFluxOptions options;
  options.position_bins_x = options.position_bins_y = 1;
  const auto r = calibrate_relative_flux(t, options);
  ASSERT_EQ(r.groups.size(), 2u);  // 12 candidates: n_f = min(12 / 6, floor(sqrt(12))) = 2
  for (int s = 0; s < t.stars; ++s) {
    const auto c = curve(r, s);
    // The predicted scatter: the propagated error relative to the flux.
    std::vector<double> relative_error;
    for (int f = 0; f < t.frames; ++f) relative_error.push_back(r.rel_flux_err[s * t.frames + f] / c[f]);
    const double predicted = median(relative_error);
    EXPECT_NEAR(rms_over_mean(c) / predicted, 1.0, 0.15) << "star " << s << ": " << r.decision[s];
  }
}

TEST(RelativeFlux, AFlaringReferenceIsDroppedAndTheCleanOnesKept) {
  std::mt19937_64 rng(2);
  auto t = constant_stars(8, 200, rng);
  const int flaring = 3;
  for (int f = 80; f < 200; ++f) {
    t.flux[flaring * t.frames + f] *= 1.0 + 0.5 * std::exp(-(f - 80) / 15.0);
  }
  RelativeFluxOptions options;
  options.position_bins_x = options.position_bins_y = 1;
  const auto r = calibrate_relative_flux(t, options);
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].dropped, std::vector<int>{flaring});
  EXPECT_EQ(r.groups[0].references.size(), 7u);
  EXPECT_FALSE(r.is_reference[flaring]);
  EXPECT_NE(r.decision[flaring].find("dropped"), std::string::npos) << r.decision[flaring];
  // The flare is in its own light curve, measured against the clean references.
  const auto c = curve(r, flaring);
  EXPECT_NEAR(c[80] / c[10], 1.5, 0.05);
  // Without pruning, the flare would leak into every other star's curve through the plain sum;
  // weights by scatter alone (Broeg) give the flaring reference so little weight that the
  // leak is as small as after pruning.
  options.prune_references = false;
  options.min_weighting_gain = -1;
  const auto unpruned = calibrate_relative_flux(t, options);
  EXPECT_GT(rms_over_mean(curve(unpruned, 0)), 2 * rms_over_mean(curve(r, 0)));
  options.min_weighting_gain = 0.01;
  const auto weighted = calibrate_relative_flux(t, options);
  EXPECT_TRUE(weighted.groups[0].weighted) << weighted.groups[0].weighting;
  EXPECT_NEAR(rms_over_mean(curve(weighted, 0)), rms_over_mean(curve(r, 0)), 0.15 * rms_over_mean(curve(r, 0)));
}

TEST(RelativeFlux, ANoisyReferenceIsWeightedDownAndTheTargetsScatterFalls) {
  // 8 photon-noise references (gain 1, 2e4-1e5 ADU: 0.3-0.7 %) and one, the brightest, with
  // 4 % of extra noise (a star on a bad column), which no pruning rule drops. With the plain
  // sum, the 4 % enters every curve in proportion to that star's share of the summed flux
  // (~1/5: ~0.8 %); weighted by scatter it adds ~0 (its weight falls by (4 %)^2 / (0.5 %)^2).
  std::mt19937_64 rng(5);
  auto t = constant_stars(9, 300, rng);
  std::normal_distribution<double> n01;
  int noisy = 0;
  for (int s = 1; s < t.stars; ++s) {
    if (t.value(s, 0) > t.value(noisy, 0)) noisy = s;
  }
  for (int f = 0; f < t.frames; ++f) t.flux[noisy * t.frames + f] *= 1 + 0.04 * n01(rng);
  RelativeFluxOptions options;
  options.position_bins_x = options.position_bins_y = 1;
  options.prune_references = false;
  const auto weighted = calibrate_relative_flux(t, options);
  options.min_weighting_gain = -1;
  const auto plain = calibrate_relative_flux(t, options);
  const auto& g = weighted.groups.at(0);
  ASSERT_TRUE(g.weighted) << g.weighting;
  EXPECT_FALSE(plain.groups.at(0).weighted);
  const auto at = std::find(g.references.begin(), g.references.end(), noisy) - g.references.begin();
  EXPECT_LT(g.weights[at], 0.05 * *std::max_element(g.weights.begin(), g.weights.end()));
  EXPECT_NE(weighted.decision[0].find("weighted by each reference's scatter"), std::string::npos) << weighted.decision[0];
  for (int s = 0; s < t.stars; ++s) {
    if (s == noisy) continue;
    EXPECT_LT(rms_over_mean(curve(weighted, s)), 0.85 * rms_over_mean(curve(plain, s))) << "star " << s;
    // The propagated errors still match the scatter.
    std::vector<double> relative_error;
    const auto c = curve(weighted, s);
    for (int f = 0; f < t.frames; ++f) relative_error.push_back(weighted.rel_flux_err[s * t.frames + f] / c[f]);
    EXPECT_NEAR(rms_over_mean(c) / median(relative_error), 1.0, 0.15) << "star " << s;
  }
}

TEST(RelativeFlux, EveryStarGetsACurveAndEveryDecisionIsRecorded) {
  std::mt19937_64 rng(3);
  auto t = constant_stars(40, 50, rng);
  t.known_variable.assign(t.stars, false);
  t.blended.assign(t.stars, false);
  t.known_variable[0] = true;
  t.blended[1] = true;
  t.flags[2 * t.frames + 7] = 4;          // saturated once
  t.flux[3 * t.frames + 9] = -5;          // lost once
  t.good_frame[9] = false;                // ... in a rejected frame: it may still be a reference
  t.flux[4 * t.frames + 10] = std::nan("");
  const auto r = calibrate_relative_flux(t, {});
  EXPECT_NE(r.decision[0].find("a known variable"), std::string::npos) << r.decision[0];
  EXPECT_NE(r.decision[1].find("blended"), std::string::npos) << r.decision[1];
  EXPECT_NE(r.decision[2].find("flagged"), std::string::npos) << r.decision[2];
  EXPECT_NE(r.decision[4].find("no positive flux in 1 good frames"), std::string::npos) << r.decision[4];
  for (int s = 0; s < t.stars; ++s) {
    EXPECT_GE(r.group[s], 0) << s;
    EXPECT_FALSE(r.decision[s].empty()) << s;
    EXPECT_TRUE(std::isnan(r.value(s, 9))) << "frame 9 was rejected";
    EXPECT_TRUE(std::isfinite(r.value(s, 0))) << s;
  }
  EXPECT_FALSE(r.is_reference[0] || r.is_reference[1] || r.is_reference[2] || r.is_reference[4]);
  // Star 3's one bad value sits in a rejected frame: it stays a candidate.
  EXPECT_EQ(r.decision[3].find("not a reference"), std::string::npos) << r.decision[3];
}

TEST(RelativeFlux, AMalformedTableNamesWhatIsWrong) {
  FluxTable t;
  t.stars = 2;
  t.frames = 3;
  t.flux.assign(6, 1.0);
  t.flux_err.assign(5, 1.0);
  t.x = t.y = {0, 1};
  t.good_frame.assign(3, true);
  try {
    calibrate_relative_flux(t);
    FAIL();
  } catch (const RelativeFluxError& e) {
    EXPECT_STREQ(e.what(), "flux table: flux arrays are not stars x frames");
  }
}

// The relative_flux recipe: two radii of the same constant stars, the second with more noise
// (as a too-large aperture takes in more sky); 2-min cadence, so CDPP is over 15 cadences.
struct TwoRadii {
  std::vector<FluxTable> tables;
  std::vector<double> bjd;
};

TwoRadii two_radii(int stars, int frames, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  TwoRadii n;
  n.tables.push_back(constant_stars(stars, frames, rng));
  auto wide = n.tables.front();
  std::normal_distribution<double> n01;
  for (std::size_t k = 0; k < wide.flux.size(); ++k) {
    wide.flux[k] += 2 * wide.flux_err[k] * n01(rng);
    wide.flux_err[k] *= std::sqrt(5.0);
  }
  n.tables.push_back(wide);
  for (int f = 0; f < frames; ++f) n.bjd.push_back(2460000.5 + f / 720.0);
  return n;
}

TEST(RelativeFluxRecipe, ConstantStarsAtTheirBestRadiusWithTheirPrecision) {
  const auto n = two_radii(30, 240, 11);
  const double exptime_s = 60;
  const auto out = recipes::relative_flux(n.tables, n.bjd, exptime_s);
  ASSERT_EQ(out.sources.size(), 30u);
  ASSERT_EQ(out.per_radius.size(), 2u);
  EXPECT_EQ(out.main_aperture, 0);
  EXPECT_EQ(out.cdpp_cadences, 15);  // 30 min of 2-min cadences
  EXPECT_EQ(out.groups.size(), out.per_radius[0].groups.size());
  double cdpp_over_white = 0;  // averaged over the stars
  for (int s = 0; s < 30; ++s) {
    const auto& c = out.sources[s];
    EXPECT_EQ(c.best_aperture, 0) << "star " << s << ": the noisier radius never wins";
    EXPECT_EQ(c.points, 240);
    EXPECT_EQ(c.rel_flux, curve(out.per_radius[0], s));
    EXPECT_EQ(c.is_reference, out.per_radius[0].is_reference[s]);
    // The median raw flux over an even count of frames: the mean of the two middle values.
    std::vector<double> raw(n.tables[0].flux.begin() + s * 240, n.tables[0].flux.begin() + (s + 1) * 240);
    std::sort(raw.begin(), raw.end());
    EXPECT_DOUBLE_EQ(c.median_flux, (raw[119] + raw[120]) / 2);
    EXPECT_DOUBLE_EQ(c.instrumental_mag, -2.5 * std::log10(c.median_flux / exptime_s));
    // White noise: the RMS is the propagated error.
    // (The transparency dip raises the noise of some frames: the quadratic mean of the errors.)
    double mean_square = 0;
    for (int f = 0; f < 240; ++f) mean_square += std::pow(c.rel_flux_err[f] / c.rel_flux[f], 2) / 240;
    const double predicted = std::sqrt(mean_square);
    EXPECT_NEAR(c.rms / predicted, 1.0, 0.15) << "star " << s;
    EXPECT_DOUBLE_EQ(c.cdpp_ppm, cdpp_ppm(c.rel_flux, 15, 101)) << "30 min, the full trend window";
    cdpp_over_white += c.cdpp_ppm / (1e6 * predicted / std::sqrt(15.0)) / 30;
  }
  // On white noise the 101-cadence trend filter takes some of the 30-min scatter with it: the
  // CDPP is 0.79 of sigma / sqrt(15) on average here (0.13 star to star, 16 bins a night).
  std::printf("CDPP / (sigma / sqrt 15), mean over 30 constant stars: %.3f\n", cdpp_over_white);
  EXPECT_NEAR(cdpp_over_white, 0.79, 0.08);
  // Honest errors: the constant stars' reduced chi2 against a constant is 1 (240 points: the
  // median of several is 1 +- 0.06).
  EXPECT_NEAR(out.constant_stars_reduced_chi2, 1.0, 0.15);
  EXPECT_NEAR(out.sources[0].reduced_chi2, 1.0, 0.3);
}

TEST(RelativeFluxRecipe, AShortNightHasNoCdppAndMismatchedInputsAreRefused) {
  const auto n = two_radii(12, 30, 12);  // 30 points: not over 2 x 15 + 3
  const auto out = recipes::relative_flux(n.tables, n.bjd, 30);
  for (const auto& c : out.sources) {
    EXPECT_TRUE(std::isnan(c.cdpp_ppm));
    EXPECT_TRUE(std::isfinite(c.rms));
    EXPECT_EQ(c.points, 30);
  }
  std::vector<double> short_times(n.bjd.begin(), n.bjd.end() - 1);
  try {
    recipes::relative_flux(n.tables, short_times, 30);
    FAIL();
  } catch (const recipes::RecipeInputError& e) {
    EXPECT_STREQ(e.what(), "relative flux: 29 frame times for 30 frames");
  }
  auto other = n.tables;
  other[1].stars = 11;
  EXPECT_THROW(recipes::relative_flux(other, n.bjd, 30), recipes::RecipeInputError);
  EXPECT_THROW(recipes::relative_flux({}, n.bjd, 30), recipes::RecipeInputError);
}

}  // namespace
}  // namespace tianyu::pipeline
