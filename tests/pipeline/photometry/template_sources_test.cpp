// Template sources: shapes and isolation from a synthetic template, and ids that stay with
// their stars from one observation of a sky to the next.
#include "pipeline/photometry/template_sources.h"

#include <algorithm>
#include <random>
#include <set>

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace tianyu::pipeline
