// The photometry adapters (photometry, relative_flux, transit_search) against the in-memory
// observation store and a temporary site root: no database, no broker.
#include <algorithm>
#include <cmath>
#include <random>

#include "consumer/steps/step_test_fixture.h"

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
