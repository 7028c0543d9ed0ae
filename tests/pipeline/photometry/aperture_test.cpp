// Aperture photometry against the analytic Moffat enclosed flux, against the scatter of many
// noise realisations, and its flags.
#include "pipeline/photometry/aperture.h"

#include <cmath>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "pipeline/calibration/calibrate.h"
#include "pipeline/photometry/clipped_sky.h"
#include "pipeline/robust_stats.h"
#include "pipeline/sim/night.h"

namespace tianyu::pipeline {
namespace {

// Flux of a Moffat (FWHM f, beta) inside radius r: F (1 - (1 + r^2/alpha^2)^(1 - beta)).
double moffat_enclosed(double flux, double fwhm, double beta, double r) {
  const double alpha = fwhm / (2.0 * std::sqrt(std::pow(2.0, 1.0 / beta) - 1.0));
  return flux * (1.0 - std::pow(1.0 + r * r / (alpha * alpha), 1.0 - beta));
}

TEST(Aperture, NoiselessStarGivesItsTrueInApertureFlux) {
  Image image(120, 100);
  const double flux = 1e5, fwhm = 3.2, beta = 3.0;
  sim::add_moffat_star(image, 50.3, 40.7, flux, fwhm, beta);
  ApertureOptions options;
  // From 1.5 FWHM out. Closer in, summing pixel-integrated values with an exact circular
  // overlap (flux spread evenly over each edge pixel) differs from the continuous profile's
  // enclosed flux by ~2 % at 1 FWHM: that is pixelisation, not photometry, and the relative
  // flux divides it out.
  options.radii_px = {5.0, 8.0, 12.0};
  const auto p = measure_apertures(image, nullptr, 1.0, {50.3}, {40.7}, {}, options);
  for (int r = 0; r < 3; ++r) {
    const double truth = moffat_enclosed(flux, fwhm, beta, options.radii_px[r]);
    EXPECT_NEAR(p.at(0, r), truth, 0.005 * truth) << "radius " << options.radii_px[r];
    EXPECT_EQ(p.flags[r], 0);
  }
}

TEST(Aperture, ATransformMovesTheApertureToTheStar) {
  Image image(120, 100);
  sim::add_moffat_star(image, 60.0 + 7.25, 40.0 - 3.5, 1e5, 3.0, 3.0);
  ApertureOptions options;
  options.radii_px = {6.0};
  const auto p = measure_apertures(image, nullptr, 1.0, {60.0}, {40.0}, FrameTransform::translation(7.25, -3.5), options);
  EXPECT_NEAR(p.x[0], 67.25, 1e-12);
  EXPECT_NEAR(p.at(0, 0), moffat_enclosed(1e5, 3.0, 3.0, 6.0), 0.005 * 1e5);
}

// 400 frames of the same star with sky noise and photon noise: the spread of the measured
// fluxes is what the reported errors say, within 10 %.
TEST(Aperture, ErrorsMatchTheScatterOfNoiseRealisations) {
  const double gain = 1.5, sky_rms = 8.0, flux = 2e4;
  Image star(80, 80);
  sim::add_moffat_star(star, 40.2, 39.6, flux, 3.0, 3.0);
  ApertureOptions options;
  options.radii_px = {4.0, 7.0};
  options.gain_e_per_adu = gain;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> n01;
  std::vector<double> measured[2], reported[2];
  for (int k = 0; k < 400; ++k) {
    Image frame = star;
    for (auto& v : frame.pixels) v = static_cast<float>(v + std::sqrt(v / gain) * n01(rng) + sky_rms * n01(rng));
    const auto p = measure_apertures(frame, nullptr, sky_rms, {40.2}, {39.6}, {}, options);
    for (int r = 0; r < 2; ++r) {
      measured[r].push_back(p.at(0, r));
      reported[r].push_back(p.flux_err[r]);
    }
  }
  for (int r = 0; r < 2; ++r) {
    const double scatter = sigma_clipped_stats(measured[r], {5, 5, 1}).stddev;
    const double error = median(reported[r]);
    EXPECT_NEAR(error / scatter, 1.0, 0.10) << "radius " << options.radii_px[r] << ": error " << error << " scatter " << scatter;
  }
}

TEST(Aperture, FlagsSaturationMaskedPixelsEdgesAndMissingSky) {
  Image image(100, 100);
  std::vector<std::uint8_t> mask(image.pixels.size(), 0);
  for (int x : {30, 60}) sim::add_moffat_star(image, x, 50, 1e5, 3.0, 3.0);
  mask[50 * 100 + 30] = kSaturated;
  mask[51 * 100 + 61] = kHot;
  ApertureOptions options;
  options.radii_px = {5.0};
  const auto p = measure_apertures(image, &mask, 1.0, {30, 60, 2, 50}, {50, 50, 50, 50}, {}, options);
  EXPECT_EQ(p.flags[0], kApertureSaturated);
  EXPECT_EQ(p.flags[1], kApertureMasked);
  EXPECT_TRUE(p.flags[2] & kApertureEdge);
  EXPECT_EQ(p.flags[3], 0);
  // A hot pixel is replaced by its mirror across the centre, so the flux barely moves.
  EXPECT_NEAR(p.at(1, 0), moffat_enclosed(1e5, 3.0, 3.0, 5.0), 0.005 * 1e5);
  // A star whose whole annulus is masked has no local sky.
  std::vector<std::uint8_t> all(image.pixels.size(), kHot);
  const auto q = measure_apertures(image, &all, 1.0, {30}, {50}, {}, options);
  EXPECT_TRUE(q.flags[0] & kApertureNoSky);
}

// A frame's stars are measured on several threads: every star's flux, error, flags and sky
// equal those of one thread bit for bit, and each star's flux is its own analytic value
// (80 stars and 400 hot pixels, so repaired cutouts run on the workers too).
TEST(Aperture, ThreadsShareTheStarsWithoutChangingAValue) {
  Image image(400, 300);
  std::vector<std::uint8_t> mask(image.pixels.size(), 0);
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> ux(20, 380), uy(20, 280);
  std::normal_distribution<double> sky(100, 5);
  for (auto& v : image.pixels) v = static_cast<float>(sky(rng));
  std::vector<double> x, y;
  for (int s = 0; s < 80; ++s) {
    x.push_back(ux(rng));
    y.push_back(uy(rng));
    sim::add_moffat_star(image, x.back(), y.back(), 2e4, 3.0, 3.0);
  }
  for (int k = 0; k < 400; ++k) mask[static_cast<std::size_t>(uy(rng)) * 400 + static_cast<std::size_t>(ux(rng))] = kHot;
  ApertureOptions options;
  options.radii_px = {3.0, 5.0};
  options.threads = 1;
  const auto one = measure_apertures(image, &mask, 5.0, x, y, {}, options);
  options.threads = 3;
  const auto three = measure_apertures(image, &mask, 5.0, x, y, {}, options);
  EXPECT_EQ(one.flux, three.flux);
  EXPECT_EQ(one.flux_err, three.flux_err);
  EXPECT_EQ(one.flags, three.flags);
  EXPECT_EQ(one.sky, three.sky);
  EXPECT_EQ(one.x, three.x);
  // The sky is the simulated 100 ADU (plus the stars' own wings in the annulus, ~0.5 ADU at
  // 10-15 px for beta 3), and an unflagged star's flux its enclosed Moffat flux.
  EXPECT_NEAR(median(std::span<const float>(three.sky)), 100.0, 1.5);
  std::vector<double> ratio;
  for (int s = 0; s < three.stars; ++s) {
    if (three.flags[static_cast<std::size_t>(s) * 2 + 1] == 0) ratio.push_back(three.at(s, 1) / moffat_enclosed(2e4, 3.0, 3.0, 5.0));
  }
  ASSERT_GT(ratio.size(), 40u);
  EXPECT_NEAR(median(std::span<const double>(ratio)), 1.0, 0.01);
}

// The local sky is the clipped median of every unmasked pixel whose centre lies in the annulus
// (inner^2 <= d^2 <= outer^2), taken in scan order: measured here by testing every pixel of the
// box, at centres on integers, half-integers, near the edges and off the frame's corners.
TEST(Aperture, LocalSkyTakesExactlyTheAnnulusPixels) {
  Image image(90, 70);
  std::vector<std::uint8_t> mask(image.pixels.size(), 0);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> sky(50, 9);
  for (auto& v : image.pixels) v = static_cast<float>(sky(rng));
  std::uniform_int_distribution<std::size_t> any(0, image.pixels.size() - 1);
  for (int k = 0; k < 300; ++k) mask[any(rng)] = kHot;
  std::vector<double> x{45, 45.5, 44.25, 0.0, -3.2, 89.0, 91.7, 12.5, 60.123456789, 30.0},
      y{35, 35.5, 20.75, 0.0, 1.5, 69.0, 72.2, 50.5, 33.333333333, 7.0};
  std::uniform_real_distribution<double> ux(-5, 95), uy(-5, 75);
  for (int s = 0; s < 200; ++s) x.push_back(ux(rng)), y.push_back(uy(rng));
  for (const double r : {2.0, 3.7, 5.0}) {  // annuli 2r..3r, and one given in whole pixels
    ApertureOptions options;
    options.radii_px = {r};
    if (r == 5.0) options.annulus_inner_px = 10, options.annulus_outer_px = 15;
    const double inner = r == 5.0 ? 10 : 2 * r, outer = r == 5.0 ? 15 : 3 * r;
    const auto p = measure_apertures(image, &mask, 9.0, x, y, {}, options);
    for (std::size_t s = 0; s < x.size(); ++s) {
      SkyScratch scratch;
      for (int py = 0; py < image.height; ++py) {
        for (int px = 0; px < image.width; ++px) {
          const double d2 = (px - x[s]) * (px - x[s]) + (py - y[s]) * (py - y[s]);
          if (d2 >= inner * inner && d2 <= outer * outer && !mask[static_cast<std::size_t>(py) * 90 + px]) {
            scratch.values.push_back(image.at(px, py));
          }
        }
      }
      const auto expected = clipped_sky(scratch);
      EXPECT_EQ(p.sky[s], static_cast<float>(expected.level)) << "star " << s << " r " << r;
      EXPECT_EQ((p.flags[s] & kApertureNoSky) != 0, !expected.ok) << "star " << s << " r " << r;
    }
  }
}

// A crowded frame with hot pixels, bad-flat pixels and saturated blocks, stars on and off its
// edges: what the scan of the aperture box must see.
struct MaskedField {
  Image image{160, 120};
  std::vector<std::uint8_t> mask = std::vector<std::uint8_t>(160 * 120, 0);
  std::vector<double> x, y;
};
MaskedField masked_field() {
  MaskedField f;
  std::mt19937_64 rng(23);
  std::normal_distribution<double> sky(0, 6);
  for (auto& v : f.image.pixels) v = static_cast<float>(sky(rng));  // straddles zero, as a calibrated sky
  std::uniform_real_distribution<double> ux(-6, 166), uy(-6, 126);
  for (int s = 0; s < 150; ++s) {
    f.x.push_back(s % 10 == 0 ? std::round(ux(rng)) + 0.5 : ux(rng));  // some on half-pixels
    f.y.push_back(uy(rng));
    sim::add_moffat_star(f.image, f.x.back(), f.y.back(), 5e3, 3.0, 3.0);
  }
  for (int k = 0; k < 250; ++k) f.mask[rng() % f.mask.size()] |= k % 2 ? kHot : kBadFlat;
  for (int k = 0; k < 12; ++k) {
    const std::size_t bx = rng() % 150, by = rng() % 110;
    for (std::size_t dy = 0; dy < 4; ++dy) {
      for (std::size_t dx = 0; dx < 5; ++dx) f.mask[(by + dy) * 160 + bx + dx] |= kSaturated;
    }
  }
  return f;
}

// The masked and saturated flags of every radius are those of the pixels whose centres lie in
// it (d^2 <= r^2), found here by testing every pixel of the frame.
TEST(Aperture, MaskFlagsAreThoseOfEveryPixelInsideEachRadius) {
  const auto f = masked_field();
  ApertureOptions options;
  options.radii_px = {2.5, 4.0, 6.5};
  const auto p = measure_apertures(f.image, &f.mask, 6.0, f.x, f.y, {}, options);
  int flagged = 0;
  for (std::size_t s = 0; s < f.x.size(); ++s) {
    for (int r = 0; r < 3; ++r) {
      std::uint8_t expected = 0;
      for (int py = 0; py < 120; ++py) {
        for (int px = 0; px < 160; ++px) {
          const std::uint8_t m = f.mask[static_cast<std::size_t>(py) * 160 + px];
          const double d2 = (px - f.x[s]) * (px - f.x[s]) + (py - f.y[s]) * (py - f.y[s]);
          if (!m || d2 > options.radii_px[r] * options.radii_px[r]) continue;
          if (m & kSaturated) expected |= kApertureSaturated;
          if (m & ~kSaturated) expected |= kApertureMasked;
        }
      }
      const std::uint8_t got = p.flags[s * 3 + r] & (kApertureMasked | kApertureSaturated);
      EXPECT_EQ(got, expected) << "star " << s << " at " << f.x[s] << "," << f.y[s] << " radius " << r;
      flagged += expected != 0;
    }
  }
  EXPECT_GT(flagged, 40);  // the masked paths ran
}

// The same double, bit for bit (a star off the frame measures NaN, which == would refuse).
std::uint64_t bits(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Stars are measured in the frame's order, not the catalogue's, reusing each thread's buffers:
// the same stars listed in another order give the same values, bit for bit, in their places.
TEST(Aperture, StarsListedInAnyOrderGetTheSameValues) {
  const auto f = masked_field();
  ApertureOptions options;
  options.radii_px = {3.0, 4.5};
  options.gain_e_per_adu = 1.3;
  const auto p = measure_apertures(f.image, &f.mask, 6.0, f.x, f.y, FrameTransform::translation(0.3, -0.7), options);
  std::vector<std::size_t> perm(f.x.size());
  for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = (i * 37 + 11) % perm.size();  // 37 is prime to 150
  std::vector<double> px, py;
  for (const auto i : perm) px.push_back(f.x[i]), py.push_back(f.y[i]);
  options.threads = 1;
  const auto q = measure_apertures(f.image, &f.mask, 6.0, px, py, FrameTransform::translation(0.3, -0.7), options);
  for (std::size_t k = 0; k < perm.size(); ++k) {
    const std::size_t s = perm[k];
    EXPECT_EQ(q.sky[k], p.sky[s]) << "star " << s;
    EXPECT_EQ(q.x[k], p.x[s]);
    EXPECT_EQ(q.y[k], p.y[s]);
    for (int r = 0; r < 2; ++r) {
      EXPECT_EQ(bits(q.flux[k * 2 + r]), bits(p.flux[s * 2 + r])) << "star " << s;
      EXPECT_EQ(bits(q.flux_err[k * 2 + r]), bits(p.flux_err[s * 2 + r])) << "star " << s;
      EXPECT_EQ(q.flags[k * 2 + r], p.flags[s * 2 + r]) << "star " << s;
    }
  }
}

TEST(Aperture, BadOptionsAreRefusedWithTheirValues) {
  const Image image(20, 20);
  ApertureOptions options;
  EXPECT_THROW(measure_apertures(image, nullptr, 1.0, {10}, {10}, {}, options), PhotometryError);
  options.radii_px = {5.0};
  options.annulus_inner_px = 3.0;
  options.annulus_outer_px = 8.0;
  try {
    measure_apertures(image, nullptr, 1.0, {10}, {10}, {}, options);
    FAIL() << "an annulus inside the aperture was accepted";
  } catch (const PhotometryError& e) {
    EXPECT_NE(std::string(e.what()).find("sky annulus"), std::string::npos) << e.what();
  }
}

TEST(Aperture, MedianFwhmOfRoundGaussianMoments) {
  // A Gaussian of sigma s has a = b = s, FWHM = 2.3548 s.
  EXPECT_NEAR(median_fwhm({1.0, 1.2, 1.1}, {1.0, 1.2, 1.1}), 2.3548 * 1.1, 1e-9);
}

}  // namespace
}  // namespace tianyu::pipeline
