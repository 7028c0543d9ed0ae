// The photometry adapters (photometry, relative_flux, transit_search) against the in-memory
// observation store and a temporary site root: no database, no broker.
#include <algorithm>
#include <cmath>
#include <random>

#include "consumer/steps/step_test_fixture.h"
#include "pipeline/noise/night_noise.h"
#include "pipeline/robust_stats.h"
#include "pipeline/time/airmass.h"

namespace tianyu::consumer::steps::test {
namespace {

TEST_F(StepTest, PhotometryOfRejectedFrameStagesTheDeletionOfItsRowsOnly) {
  db_.alignments[5] = {pipeline::FrameTransform{}, false, "clouds"};
  run("photometry", 40, {{"observation_id", 1}, {"frame_id", 5}});
  ASSERT_EQ(db_.staged_fluxes.count(5), 1u);
  EXPECT_TRUE(db_.staged_fluxes[5].empty());  // the frame's earlier rows are replaced by none
  EXPECT_TRUE(db_.image_products.empty());
}

// A calibrated frame with known stars measured at the template's positions moved by the
// frame's alignment: one row per source and radius, the wide aperture holding the star's flux.
TEST_F(StepTest, PhotometryMeasuresEveryTemplateSourceAtEveryRadius) {
  const std::vector<Star> stars{{30.3, 30.6, 50000}, {90.2, 40.7, 30000}, {60.5, 95.1, 20000}};
  add_raw(1, 9, star_field(128, 128, stars), 1.0, {10, 1.0, {}, {}});
  run("calibrate", 8, {{"observation_id", 1}, {"frame_id", 9}});
  ASSERT_EQ(db_.image_products.size(), 1u);
  auto product = db_.image_products[0].product;
  product.process_id = 8;
  db_.dependencies[41] = {{"calibrated", product}};
  db_.alignments[9] = {pipeline::FrameTransform::translation(0.3, -0.4), true, ""};
  TemplateSources t;
  t.ids = {1, 2, 3};
  for (const auto& s : stars) t.x.push_back(s.x - 0.3), t.y.push_back(s.y + 0.4), t.isolated.push_back(true);
  t.radii_px = {2.0, 6.0};
  db_.sources[1] = t;
  run("photometry", 41, {{"observation_id", 1}, {"frame_id", 9}});
  const auto& rows = db_.staged_fluxes[9];
  ASSERT_EQ(rows.size(), 6u);
  for (std::size_t s = 0; s < stars.size(); ++s) {
    const auto& wide = rows[s * 2 + 1];
    EXPECT_EQ(wide.source_id, t.ids[s]);
    EXPECT_EQ(wide.aperture_index, 1);
    ASSERT_TRUE(wide.flux.has_value());
    EXPECT_NEAR(*wide.flux / stars[s].flux, 1.0, 0.03) << "source " << t.ids[s];
    EXPECT_LT(*rows[s * 2].flux, *wide.flux);  // r = 2 px holds less of the star
  }
}

// A night of 20 constant stars over 40 good frames with a common transparency: the recipe's
// rows, one light-curve point per source and frame and one decision per source.
TEST_F(StepTest, RelativeFluxStagesOneRowPerSourceAndGoodFrame) {
  const int n_sources = 20, n_frames = 40, radii = 2;
  TemplateSources t;
  for (int s = 0; s < n_sources; ++s) {
    t.ids.push_back(100 + s);
    t.x.push_back(20 + 30 * (s % 5));
    t.y.push_back(20 + 30 * (s / 5));
    t.isolated.push_back(true);
  }
  t.radii_px = {3, 5};
  db_.sources[1] = t;
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0, 0.002);
  for (int f = 0; f < n_frames; ++f) {
    const std::uint64_t frame_id = 1000 + f;
    db_.good[1].push_back({frame_id, 2460000.5 + f * 0.002, 30.0});
    const double transparency = 1.0 - 0.1 * std::sin(f / 7.0);
    for (int s = 0; s < n_sources; ++s) {
      for (int r = 0; r < radii; ++r) {
        const double flux = (20000 + 3000 * s) * (0.9 + 0.1 * r) * transparency * (1 + noise(rng));
        db_.fluxes[1].push_back({frame_id, t.ids[s], r, flux, std::sqrt(flux), 0});
      }
    }
  }
  run("relative_flux", 50, {{"observation_id", 1}});
  ASSERT_EQ(db_.relative_flux.count(1), 1u);
  const auto& records = db_.relative_flux[1];
  EXPECT_EQ(records.curves.size(), std::size_t(n_sources * n_frames));
  EXPECT_EQ(records.sources.size(), std::size_t(n_sources));
  EXPECT_EQ(records.curves.front().source_id, 100u);
  EXPECT_EQ(records.curves.back().frame_id, 1000u + n_frames - 1);
  EXPECT_GT(std::count_if(records.sources.begin(), records.sources.end(), [](auto& s) { return s.is_reference; }), 0);
}

// A night whose errors rest on the photometry's default gain (1 e-/ADU) while the camera's is 4:
// the step estimates the gain from the constant stars' scatter against flux (the header has
// none), recomputes every error with it, and then the constant stars' reduced chi2 is ~1. Each
// good frame's systematics are staged: the seeing from the curve of growth (every star holds
// 80 % of its r = 5 flux within r = 3: one known FWHM, 3.8 px), the transparency, the airmass from the
// AIRMASS card, else the site, else the header's altitude, and the alignment's shift.
TEST_F(StepTest, RelativeFluxEstimatesTheGainAndStagesEachFramesSystematics) {
  const int n_sources = 40, n_frames = 60;
  const double gain = 4.0, sky_variance = 25.0;
  TemplateSources t;
  for (int s = 0; s < n_sources; ++s) {
    t.ids.push_back(100 + s);
    t.x.push_back(20 + 30 * (s % 8));
    t.y.push_back(20 + 30 * (s / 8));
    t.isolated.push_back(true);
  }
  t.radii_px = {3, 5};
  db_.sources[1] = t;
  db_.sites[1] = pipeline::Site{31.68, -110.88, 2300};
  db_.pointings[1] = {31.0, 46.7, "header"};
  std::mt19937 rng(11);
  std::normal_distribution<double> unit(0, 1);
  for (int f = 0; f < n_frames; ++f) {
    const std::uint64_t frame_id = 1000 + f;
    db_.good[1].push_back({frame_id, 2460000.5 + f * 0.002, 30.0});
    FrameConditions c{frame_id, 2460000.5 + f * 0.002, {}, {}, 300.0 + f, 0.5 * f, -0.25 * f};
    if (f % 3 == 0) c.airmass = 1.3;
    if (f % 3 == 1) c.altitude_deg = 45.0;
    if (f % 3 == 2) c.jd_utc_mid.reset(), c.altitude_deg = 60.0;  // no time: the site cannot help
    db_.conditions[1].push_back(c);
    const double transparency = 1.0 - 0.1 * std::sin(f / 7.0);
    for (int s = 0; s < n_sources; ++s) {
      for (int r = 0; r < 2; ++r) {  // each radius with its own photons (independent, for simplicity)
        const double level = (r == 0 ? 0.8 : 1.0) * 2000.0 * std::pow(1.12, s) * transparency;
        const double f_r = level + unit(rng) * std::sqrt(level / gain + sky_variance);
        db_.fluxes[1].push_back({frame_id, t.ids[s], r, f_r, std::sqrt(f_r / 1.0 + sky_variance), 0});
      }
    }
  }
  run("relative_flux", 50, {{"observation_id", 1}});
  ASSERT_EQ(db_.noise.count(1), 1u);
  const auto& noise = db_.noise[1];
  EXPECT_EQ(noise.gain_method, "constant_star_scatter");
  ASSERT_TRUE(noise.gain_e_per_adu.has_value());
  EXPECT_NEAR(*noise.gain_e_per_adu / gain, 1.0, 0.10) << noise.gain_detail;
  EXPECT_DOUBLE_EQ(noise.gain_used_by_photometry.value_or(0), 1.0);
  ASSERT_TRUE(noise.constant_stars_reduced_chi2.has_value());
  EXPECT_GT(*noise.constant_stars_reduced_chi2, 0.8);
  EXPECT_LT(*noise.constant_stars_reduced_chi2, 1.25);
  const auto& frames = db_.systematics[1];
  ASSERT_EQ(frames.size(), std::size_t(n_frames));
  const double fwhm = pipeline::gaussian_fwhm_from_fraction(0.8, 3, 5);
  for (int f = 0; f < n_frames; ++f) {
    const auto& r = frames[f];
    EXPECT_EQ(r.frame_id, 1000u + f);
    EXPECT_NEAR(r.fwhm_px.value_or(0), fwhm, 0.03 * fwhm);  // the median star's ratio, noisy
    EXPECT_NEAR(r.background_adu.value_or(0), 300.0 + f, 1e-9);
    EXPECT_NEAR(r.dx_px.value_or(0), 0.5 * f, 1e-9);
    EXPECT_NEAR(r.dy_px.value_or(0), -0.25 * f, 1e-9);
    const double expected = f % 3 == 0 ? 1.3
                            : f % 3 == 1 ? pipeline::airmass(db_.sites[1], 2460000.5 + f * 0.002, 31.0, 46.7)
                                         : pipeline::pickering_airmass(60.0);
    EXPECT_NEAR(r.airmass.value_or(0), expected, 1e-9) << "frame " << f;
    EXPECT_EQ(r.airmass_from, f % 3 == 0 ? "header" : f % 3 == 1 ? "site" : "altitude");
  }
  // The transparency follows the sky's (over its median: the frames' order statistics).
  std::vector<double> sky;
  for (int f = 0; f < n_frames; ++f) sky.push_back(1.0 - 0.1 * std::sin(f / 7.0));
  const double mid = pipeline::median(sky);
  for (int f = 0; f < n_frames; ++f) EXPECT_NEAR(frames[f].transparency.value_or(0), sky[f] / mid, 0.01) << f;
}

// With the gain in the calibration, nothing is estimated: the errors stay as measured.
TEST_F(StepTest, RelativeFluxKeepsAKnownGain) {
  TemplateSources t;
  for (int s = 0; s < 10; ++s) t.ids.push_back(100 + s), t.x.push_back(10.0 * s), t.y.push_back(5.0), t.isolated.push_back(true);
  t.radii_px = {3};
  db_.sources[1] = t;
  for (int f = 0; f < 20; ++f) {
    db_.add_frame(1, RawFrame{std::uint64_t(1000 + f), "raw/f.fits", 8, 8}, 2460000.5 + f * 0.002, {30, 2.5, {}, {}});
    db_.good[1].push_back({std::uint64_t(1000 + f), 2460000.5 + f * 0.002, 30.0});
    for (int s = 0; s < 10; ++s) db_.fluxes[1].push_back({std::uint64_t(1000 + f), t.ids[s], 0, 10000.0 * (1 + 0.001 * ((f * 7 + s) % 5)), 60.0, 0});
  }
  run("relative_flux", 50, {{"observation_id", 1}});
  ASSERT_EQ(db_.noise.count(1), 1u);
  EXPECT_EQ(db_.noise[1].gain_method, "header");
  EXPECT_DOUBLE_EQ(db_.noise[1].gain_e_per_adu.value_or(0), 2.5);
}

// No gain in the calibration but flats of two levels and two biases: the gain comes from the
// flats' photon transfer (flats of 2 e-/ADU, Gaussian shot noise on a 2 % vignetting pattern).
TEST_F(StepTest, RelativeFluxTakesTheGainFromTheFlatsWhenThereAreFlats) {
  const double gain = 2.0, bias = 100.0, read_noise_adu = 3.0;
  std::mt19937 rng(17);
  std::normal_distribution<double> unit(0, 1);
  const auto frame = [&](double level) {
    pipeline::Image im(256, 256);  // 3 x 3 tiles of 64 px inside the margins
    for (int y = 0; y < 256; ++y) {
      for (int x = 0; x < 256; ++x) {
        const double s = level * (1 - 0.02 * ((x - 128) * (x - 128) + (y - 128) * (y - 128)) / 32768.0);
        im.at(x, y) = static_cast<float>(bias + s + unit(rng) * std::sqrt(s / gain + read_noise_adu * read_noise_adu));
      }
    }
    return im;
  };
  int id = 500;
  for (const double level : {8000.0, 20000.0, 8100.0, 19800.0}) {
    add_raw(1, id, frame(level), 2459999.0 + id, {}, "flat");
    ++id;
  }
  for (int b = 0; b < 2; ++b) {
    add_raw(1, id, frame(0.0), 2459998.0 + id, {}, "bias");
    ++id;
  }
  TemplateSources t;
  for (int s = 0; s < 12; ++s) t.ids.push_back(100 + s), t.x.push_back(10.0 * s), t.y.push_back(5.0), t.isolated.push_back(true);
  t.radii_px = {3};
  db_.sources[1] = t;
  for (int f = 0; f < 30; ++f) {
    db_.good[1].push_back({std::uint64_t(1000 + f), 2460000.5 + f * 0.002, 30.0});
    for (int s = 0; s < 12; ++s) {
      const double level = 5000.0 * (1 + s);
      db_.fluxes[1].push_back({std::uint64_t(1000 + f), t.ids[s], 0, level + unit(rng) * std::sqrt(level / gain),
                               std::sqrt(level), 0});
    }
  }
  run("relative_flux", 50, {{"observation_id", 1}});
  ASSERT_EQ(db_.noise.count(1), 1u);
  const auto& noise = db_.noise[1];
  EXPECT_EQ(noise.gain_method, "flat_photon_transfer") << noise.gain_detail;
  EXPECT_NEAR(noise.gain_e_per_adu.value_or(0) / gain, 1.0, 0.05) << noise.gain_detail;
  EXPECT_NEAR(noise.read_noise_e.value_or(0) / (read_noise_adu * gain), 1.0, 0.15) << noise.gain_detail;
}

// Three light curves, one with a 1 % transit, one too short to search: two candidates, the
// transit's the strongest, near its mid-time.
TEST_F(StepTest, TransitSearchStagesOneCandidatePerSearchedCurve) {
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0, 0.001);
  auto curve = [&](int points, bool transit) {
    pipeline::LightCurveData c;
    for (int i = 0; i < points; ++i) {
      const double t = 2460000.5 + i * 0.001;
      c.time.push_back(t);
      const bool in = transit && std::abs(t - 2460000.6) < 0.03;
      c.flux.push_back(1.0 + noise(rng) - (in ? 0.01 : 0.0));
      c.flux_err.push_back(0.001);
    }
    return c;
  };
  db_.curves[1] = {{7, curve(200, false)}, {8, curve(200, true)}, {9, curve(10, false)}};
  run("transit_search", 60, {{"observation_id", 1}});
  const auto& found = db_.candidates[1];
  ASSERT_EQ(found.size(), 2u);
  const auto strongest = std::max_element(found.begin(), found.end(), [](auto& a, auto& b) {
    return a.ln_bayes_factor < b.ln_bayes_factor;
  });
  EXPECT_EQ(strongest->source_id, 8u);
  EXPECT_NEAR(strongest->t0_bjd_tdb, 2460000.6, 0.01);
  EXPECT_NEAR(strongest->depth, 0.01, 0.003);
  EXPECT_EQ(strongest->points, 200);
}

}  // namespace
}  // namespace tianyu::consumer::steps::test
