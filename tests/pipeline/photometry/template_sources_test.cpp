// Template sources: shapes and isolation from a synthetic template, and ids that stay with
// their stars from one observation of a sky to the next.
#include "pipeline/photometry/template_sources.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "pipeline/recipes/detect_sources.h"
#include "pipeline/recipes/recipe_error.h"
#include "pipeline/sim/night.h"

namespace tianyu::pipeline {
namespace {

TEST(TemplateSources, ShapesAndIsolation) {
  Image image(200, 200);
  sim::add_moffat_star(image, 50.3, 60.2, 1e5, 3.0, 3.0);   // alone
  sim::add_moffat_star(image, 140.0, 140.0, 1e5, 3.0, 3.0); // with a bright neighbour 9 px away
  sim::add_moffat_star(image, 149.0, 140.0, 5e4, 3.0, 3.0);
  sim::add_moffat_star(image, 60.0, 150.0, 1e5, 3.0, 3.0);  // with a faint one (5 %) 12 px away
  sim::add_moffat_star(image, 72.0, 150.0, 5e3, 3.0, 3.0);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0, 2.0);
  for (auto& v : image.pixels) v += static_cast<float>(noise(rng));
  const auto sources = detect_template_sources(image, nullptr, 2.0, 15.0);
  ASSERT_EQ(sources.size(), 5u);
  auto at = [&](double x, double y) {
    return *std::min_element(sources.begin(), sources.end(), [&](const auto& a, const auto& b) {
      return std::hypot(a.x - x, a.y - y) < std::hypot(b.x - x, b.y - y);
    });
  };
  const auto alone = at(50.3, 60.2);
  EXPECT_NEAR(alone.x, 50.3, 0.05);
  EXPECT_NEAR(alone.y, 60.2, 0.05);
  EXPECT_TRUE(alone.isolated);
  EXPECT_NEAR(alone.fwhm, 3.0, 0.3);
  EXPECT_FALSE(at(140, 140).isolated);
  EXPECT_FALSE(at(149, 140).isolated);
  EXPECT_TRUE(at(60, 150).isolated) << "a 5 % neighbour does not spoil a reference";
  EXPECT_FALSE(at(72, 150).isolated) << "but the faint star itself sits beside a bright one";
}

TEST(TemplateSources, IdsStayWithTheirStarsAcrossObservations) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> pos(0, 1000);
  std::normal_distribution<double> jitter(0, 0.1);  // centroids of one star on two templates
  std::vector<KnownSource> known;
  for (int i = 0; i < 100; ++i) known.push_back({1000 + i, pos(rng), pos(rng)});
  known.push_back({1100, known[0].x + 1.2, known[0].y});  // a close pair: both must keep their ids
  std::vector<TemplateSource> found;
  for (std::size_t i = 0; i < known.size(); ++i) {
    if (i % 10 == 5) continue;  // not detected this time
    TemplateSource s;
    s.x = known[i].x + (i == 0 || i == 100 ? 0.05 : jitter(rng));
    s.y = known[i].y + (i == 0 || i == 100 ? 0.0 : jitter(rng));
    found.push_back(s);
  }
  for (int i = 0; i < 15; ++i) {  // new stars (a fainter limit, a deeper template)
    TemplateSource s;
    s.x = pos(rng);
    s.y = pos(rng);
    found.push_back(s);
  }
  std::shuffle(found.begin() + 5, found.end(), rng);  // detection order is arbitrary
  const auto result = assign_source_ids(known, found, 0.75, 5000);
  EXPECT_EQ(result.matched, 91);
  EXPECT_EQ(result.created, 15);
  EXPECT_EQ(result.next_id, 5015);
  std::set<std::int64_t> ids;
  for (const auto& f : found) {
    EXPECT_TRUE(ids.insert(f.id).second) << "id " << f.id << " given twice";
    const auto nearest = std::min_element(known.begin(), known.end(), [&](const auto& a, const auto& b) {
      return std::hypot(a.x - f.x, a.y - f.y) < std::hypot(b.x - f.x, b.y - f.y);
    });
    if (std::hypot(nearest->x - f.x, nearest->y - f.y) <= 0.75) {
      EXPECT_EQ(f.id, nearest->id) << "at (" << f.x << ", " << f.y << ")";
    } else {
      EXPECT_GE(f.id, 5000) << "at (" << f.x << ", " << f.y << ")";
    }
  }
}

// The detect_sources recipe on a synthetic template: Gaussian stars (sigma 2 px, so FWHM
// 2.3548 x 2 = 4.71 px) on a flat 1000-ADU sky with 5-ADU noise.
void add_gaussian_star(Image& image, double x, double y, double flux, double sigma) {
  const double norm = flux / (2 * M_PI * sigma * sigma);
  for (int py = std::max(0, int(y - 6 * sigma)); py <= std::min(image.height - 1, int(y + 6 * sigma)); ++py) {
    for (int px = std::max(0, int(x - 6 * sigma)); px <= std::min(image.width - 1, int(x + 6 * sigma)); ++px) {
      image.at(px, py) += static_cast<float>(norm * std::exp(-((px - x) * (px - x) + (py - y) * (py - y)) / (2 * sigma * sigma)));
    }
  }
}

struct SyntheticTemplate {
  Image image{320, 320, 1000.0f};
  std::vector<std::pair<double, double>> grid;  // the lone stars, brightest first
};

// Twelve lone stars 60 px apart, fluxes falling by 10 % each; a pair 15 px apart (inside
// 5 FWHM = 23.5 px: neither isolated) and a pair 35 px apart (outside: both isolated), in the
// top row; one star at (290, 290) to be masked by the weight map.
SyntheticTemplate synthetic_template() {
  SyntheticTemplate t;
  for (int i = 0; i < 12; ++i) {
    const double x = 40.3 + 60 * (i % 4), y = 40.7 + 60 * (i / 4);
    t.grid.emplace_back(x, y);
    add_gaussian_star(t.image, x, y, 2e5 * std::pow(0.9, i), 2.0);
  }
  add_gaussian_star(t.image, 40, 250, 5e4, 2.0);
  add_gaussian_star(t.image, 55, 250, 2.5e4, 2.0);
  add_gaussian_star(t.image, 160, 250, 5e4, 2.0);
  add_gaussian_star(t.image, 195, 250, 2.5e4, 2.0);
  add_gaussian_star(t.image, 290, 290, 5e4, 2.0);
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0, 5.0);
  for (auto& v : t.image.pixels) v += static_cast<float>(noise(rng));
  return t;
}

const TemplateSource& nearest(const std::vector<TemplateSource>& sources, double x, double y) {
  return *std::min_element(sources.begin(), sources.end(), [&](const auto& a, const auto& b) {
    return std::hypot(a.x - x, a.y - y) < std::hypot(b.x - x, b.y - y);
  });
}

TEST(DetectSourcesRecipe, FindsGaussianStarsWithTheirSeeingAndIsolation) {
  const auto t = synthetic_template();
  Image weight(320, 320, 1.0f);
  for (int y = 270; y < 320; ++y) {
    for (int x = 270; x < 320; ++x) weight.at(x, y) = 0;  // no frame reached this corner
  }
  const auto c = recipes::detect_sources(t.image, &weight);
  ASSERT_EQ(c.sources.size(), 16u) << "12 lone stars and two pairs; the masked star makes none";
  EXPECT_NEAR(c.median_fwhm_px, 2.3548 * 2.0, 0.1 * 2.3548 * 2.0);
  ASSERT_EQ(c.aperture_radii_px.size(), 3u);
  EXPECT_DOUBLE_EQ(c.aperture_radii_px[0], 1.5 * c.median_fwhm_px);
  EXPECT_DOUBLE_EQ(c.aperture_radii_px[1], 2.0 * c.median_fwhm_px);
  EXPECT_DOUBLE_EQ(c.aperture_radii_px[2], 3.0 * c.median_fwhm_px);
  for (std::size_t i = 0; i < c.sources.size(); ++i) EXPECT_EQ(c.sources[i].id, std::int64_t(i) + 1);
  for (std::size_t i = 0; i < 3; ++i) {  // the three brightest: ids 1..3 at their positions
    EXPECT_NEAR(c.sources[i].x, t.grid[i].first, 0.05) << i;
    EXPECT_NEAR(c.sources[i].y, t.grid[i].second, 0.05) << i;
  }
  for (const auto& [x, y] : t.grid) EXPECT_TRUE(nearest(c.sources, x, y).isolated) << x << "," << y;
  EXPECT_FALSE(nearest(c.sources, 40, 250).isolated);
  EXPECT_FALSE(nearest(c.sources, 55, 250).isolated);
  EXPECT_TRUE(nearest(c.sources, 160, 250).isolated);
  EXPECT_TRUE(nearest(c.sources, 195, 250).isolated);
  EXPECT_GT(std::hypot(nearest(c.sources, 290, 290).x - 290, nearest(c.sources, 290, 290).y - 290), 20);
}

TEST(DetectSourcesRecipe, TheIsolationRadiusFollowsTheLargestApertureAndTheMargin) {
  const auto t = synthetic_template();
  recipes::DetectSourcesOptions options;
  options.radii_fwhm = {1.0, 6.0};  // (6 + 2) x 4.7 = 38 px: the 35-px pair is no longer isolated
  const auto c = recipes::detect_sources(t.image, nullptr, options);
  ASSERT_EQ(c.sources.size(), 17u);
  EXPECT_FALSE(nearest(c.sources, 160, 250).isolated);
  EXPECT_FALSE(nearest(c.sources, 195, 250).isolated);
  EXPECT_TRUE(nearest(c.sources, 290, 290).isolated);
  EXPECT_DOUBLE_EQ(c.aperture_radii_px[1], 6.0 * c.median_fwhm_px);
}

TEST(DetectSourcesRecipe, RefusesBadRadiiAWrongWeightMapAndAnEmptyTemplate) {
  const Image sky(100, 100, 1000.0f);
  recipes::DetectSourcesOptions options;
  for (const auto& radii : std::vector<std::vector<double>>{{}, {0.0}, {2.0, 20.0}, {-1.0}}) {
    options.radii_fwhm = radii;
    try {
      recipes::detect_sources(sky, nullptr, options);
      FAIL() << "radii accepted";
    } catch (const recipes::RecipeInputError& e) {
      EXPECT_NE(std::string(e.what()).find("'radii_fwhm'"), std::string::npos) << e.what();
      EXPECT_FALSE(e.retryable());
    }
  }
  const Image small(50, 50, 1.0f);
  EXPECT_THROW(recipes::detect_sources(sky, &small), recipes::RecipeInputError);
  Image noisy(100, 100, 1000.0f);
  std::mt19937_64 rng(1);
  std::normal_distribution<double> noise(0, 5.0);
  for (auto& v : noisy.pixels) v += static_cast<float>(noise(rng));
  try {
    recipes::detect_sources(noisy, nullptr);
    FAIL() << "sources found in pure noise";
  } catch (const recipes::RecipeInputError& e) {
    EXPECT_STREQ(e.what(), "no sources on the template");
  }
}

}  // namespace
}  // namespace tianyu::pipeline
