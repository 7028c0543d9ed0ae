#include "pipeline/sky/sky_tree.h"
#include "pipeline/sky/sphere.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace sky = tianyu::pipeline::sky;

TEST(Sphere, SeparationsKnownAnswers) {
  EXPECT_NEAR(sky::separation_arcsec(0, 0, 1, 0), 3600.0, 1e-9);
  EXPECT_NEAR(sky::separation_arcsec(10, 0, 10, 90), 90 * 3600.0, 1e-6);
  EXPECT_NEAR(sky::separation_arcsec(0, 0, 180, 0), 180 * 3600.0, 1e-6);
  // Across RA 0/360: 0.0002 deg of RA on the equator.
  EXPECT_NEAR(sky::separation_arcsec(359.9999, 0, 0.0001, 0), 0.72, 1e-9);
  // Near the pole two points 180 deg apart in RA are 2 x 0.0001 deg apart.
  EXPECT_NEAR(sky::separation_arcsec(0, 89.9999, 180, 89.9999), 0.72, 1e-7);
  // One milliarcsecond stays one milliarcsecond (arccos of the dot product would give 0).
  EXPECT_NEAR(sky::separation_arcsec(10, 20, 10, 20 + 1e-3 / 3600), 1e-3, 1e-9);
}

TEST(Sphere, RaDecRoundTripsAndWraps) {
  for (const auto& [ra, dec] : {std::pair{0.0, 0.0}, {359.999999, -45.0}, {123.456, 89.99999}, {271.0, -89.5}}) {
    const auto back = sky::ra_dec(sky::unit_vector(ra, dec));
    EXPECT_NEAR(sky::separation_arcsec(ra, dec, back.ra_deg, back.dec_deg), 0, 1e-9);
    EXPECT_GE(back.ra_deg, 0);
    EXPECT_LT(back.ra_deg, 360);
  }
  EXPECT_NEAR(sky::ra_dec(sky::unit_vector(-10, 5)).ra_deg, 350, 1e-9);
}

TEST(Sphere, ChordAndArcsecAreInverse) {
  for (const double a : {0.001, 1.0, 4.0, 3600.0, 648000.0}) EXPECT_NEAR(sky::arcsec_of_chord(sky::chord_of_arcsec(a)), a, 1e-6 * a);
  EXPECT_NEAR(sky::chord_of_arcsec(180 * 3600.0), 2.0, 1e-15);
}

namespace {
std::vector<sky::UnitVector> random_points(std::mt19937& rng, int n, double ra0, double dec0, double size_deg) {
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  std::vector<sky::UnitVector> points;
  for (int i = 0; i < n; ++i) points.push_back(sky::unit_vector(ra0 + size_deg * u(rng), std::clamp(dec0 + size_deg * u(rng), -90.0, 90.0)));
  return points;
}
}  // namespace

TEST(SkyTree, NearestAndWithinAgreeWithBruteForce) {
  std::mt19937 rng(7);
  // A patch across RA 0/360 (RA from -0.5 to 0.5 deg) and one at the pole.
  for (const auto& [ra0, dec0] : {std::pair{0.0, 10.0}, {40.0, 89.45}}) {
    const auto points = random_points(rng, 3000, ra0, dec0, 1.0);
    const sky::SkyTree tree(points);
    for (const auto& q : random_points(rng, 200, ra0, dec0, 1.0)) {
      std::vector<sky::Neighbour> all;
      for (std::size_t i = 0; i < points.size(); ++i) all.push_back({i, sky::separation_arcsec(q, points[i])});
      std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.separation_arcsec < b.separation_arcsec; });
      const auto near = tree.nearest(q, 3);
      ASSERT_EQ(near.size(), 3u);
      for (int k = 0; k < 3; ++k) {
        EXPECT_EQ(near[k].index, all[k].index);
        EXPECT_NEAR(near[k].separation_arcsec, all[k].separation_arcsec, 1e-9);
      }
      const double radius = 60.0;
      const auto within = tree.within(q, radius);
      const auto expected = std::count_if(all.begin(), all.end(), [&](auto& n) { return n.separation_arcsec <= radius; });
      ASSERT_EQ(static_cast<long>(within.size()), expected);
      for (std::size_t k = 0; k < within.size(); ++k) EXPECT_EQ(within[k].index, all[k].index);
    }
  }
}

TEST(SkyTree, EmptyAndSmallTrees) {
  const sky::SkyTree empty({});
  EXPECT_TRUE(empty.nearest(sky::unit_vector(0, 0), 3).empty());
  EXPECT_TRUE(empty.within(sky::unit_vector(0, 0), 10).empty());
  const sky::SkyTree one({sky::unit_vector(1, 1)});
  const auto n = one.nearest(sky::unit_vector(1, 1 + 1.0 / 3600), 3);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_NEAR(n[0].separation_arcsec, 1.0, 1e-9);
}
