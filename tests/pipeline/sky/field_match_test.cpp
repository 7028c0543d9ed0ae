#include "pipeline/sky/field_match.h"
#include "pipeline/sky/sphere.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "pipeline/failure.h"

namespace sky = tianyu::pipeline::sky;
using sky::MatchKind;

namespace {

constexpr double kArcsec = 1.0 / 3600;

// Stars on a grid 30" apart with a jitter of 5": every pair at least 20" apart, so every match
// with a radius of 4" and errors under 1" is unambiguous.
std::vector<sky::NightSource> grid_stars(double ra0, double dec0, int per_side, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter(-5, 5);
  std::vector<sky::NightSource> stars;
  for (int i = 0; i < per_side; ++i) {
    for (int j = 0; j < per_side; ++j) {
      const double dec = dec0 + (j * 30 + jitter(rng)) * kArcsec;
      const double ra = ra0 + (i * 30 + jitter(rng)) * kArcsec / std::cos(dec * M_PI / 180);
      stars.push_back({static_cast<std::uint32_t>(stars.size() + 1), std::fmod(ra + 360, 360), dec, 12.0 + 0.01 * stars.size()});
    }
  }
  return stars;
}

// The same stars seen another night: each moved by up to `noise` arcsec in a random direction
// plus a common shift, the detections listed in another order with other source ids.
std::vector<sky::NightSource> another_night(const std::vector<sky::NightSource>& stars, double noise, double shift_dec_arcsec, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0, noise / 2);
  std::vector<sky::NightSource> night;
  for (auto it = stars.rbegin(); it != stars.rend(); ++it) {
    auto s = *it;
    s.source_id = 1000 + static_cast<std::uint32_t>(night.size());
    s.dec_deg += (g(rng) + shift_dec_arcsec) * kArcsec;
    s.ra_deg = std::fmod(s.ra_deg + g(rng) * kArcsec / std::cos(s.dec_deg * M_PI / 180) + 360, 360);
    night.push_back(s);
  }
  return night;
}

// The truth index (position in `stars`) of night source k is stars.size() - 1 - k.
void expect_all_matched_to_first_night(const sky::NightMerge& first, const sky::NightMerge& second) {
  const std::size_t n = first.matches.size();
  ASSERT_EQ(second.matches.size(), n);
  for (std::size_t k = 0; k < n; ++k) {
    EXPECT_EQ(second.matches[k].kind, MatchKind::matched) << k;
    EXPECT_EQ(second.matches[k].field_source_id, first.matches[n - 1 - k].field_source_id) << k;
  }
  EXPECT_EQ(second.field.size(), n);
}

}  // namespace

TEST(FieldMatch, FirstNightMakesEverySourceNewInOrder) {
  const auto stars = grid_stars(150, 20, 5, 1);
  const auto m = sky::merge_night_into_field({}, stars);
  ASSERT_EQ(m.matches.size(), 25u);
  for (std::size_t k = 0; k < 25; ++k) {
    EXPECT_EQ(m.matches[k].kind, MatchKind::new_source);
    EXPECT_EQ(m.matches[k].field_source_id, k + 1);
    EXPECT_TRUE(std::isnan(m.matches[k].separation_arcsec));
    EXPECT_EQ(m.field[k].nights_seen, 1);
  }
  EXPECT_EQ(m.next_id, 26u);
  EXPECT_EQ(sky::to_string(MatchKind::new_source), "new");
}

TEST(FieldMatch, ShiftedNightMatchesUntilTheShiftPassesTheRadius) {
  const auto stars = grid_stars(150, 20, 8, 2);
  const auto first = sky::merge_night_into_field({}, stars);
  const auto shifted = sky::merge_night_into_field(first.field, another_night(stars, 0.5, 1.5, 3));
  expect_all_matched_to_first_night(first, shifted);
  const auto far = sky::merge_night_into_field(first.field, another_night(stars, 0.0, 6.0, 3));
  for (const auto& m : far.matches) EXPECT_EQ(m.kind, MatchKind::new_source);
  EXPECT_EQ(far.field.size(), 128u);
  EXPECT_EQ(far.matches.front().field_source_id, 65u);  // ids continue after the first night's
}

TEST(FieldMatch, RotatingTheWholeSkyChangesNothing) {
  const auto stars = grid_stars(10, -30, 6, 4);
  const auto night = another_night(stars, 0.8, 0, 5);
  const auto direct = sky::merge_night_into_field(sky::merge_night_into_field({}, stars).field, night);
  // Rotate every position by 40 deg about an axis through (RA 70, Dec 15).
  const auto axis = sky::unit_vector(70, 15);
  const double c = std::cos(0.7), s = std::sin(0.7);
  const auto rotate = [&](sky::NightSource p) {
    const auto v = sky::unit_vector(p.ra_deg, p.dec_deg);
    const double d = axis[0] * v[0] + axis[1] * v[1] + axis[2] * v[2];
    const sky::UnitVector x{axis[1] * v[2] - axis[2] * v[1], axis[2] * v[0] - axis[0] * v[2], axis[0] * v[1] - axis[1] * v[0]};
    sky::UnitVector r;
    for (int i = 0; i < 3; ++i) r[i] = v[i] * c + x[i] * s + axis[i] * d * (1 - c);
    const auto rd = sky::ra_dec(r);
    p.ra_deg = rd.ra_deg;
    p.dec_deg = rd.dec_deg;
    return p;
  };
  std::vector<sky::NightSource> rstars, rnight;
  for (const auto& p : stars) rstars.push_back(rotate(p));
  for (const auto& p : night) rnight.push_back(rotate(p));
  const auto rotated = sky::merge_night_into_field(sky::merge_night_into_field({}, rstars).field, rnight);
  ASSERT_EQ(rotated.matches.size(), direct.matches.size());
  for (std::size_t k = 0; k < direct.matches.size(); ++k) {
    EXPECT_EQ(rotated.matches[k].field_source_id, direct.matches[k].field_source_id);
    EXPECT_EQ(rotated.matches[k].kind, MatchKind::matched);
    EXPECT_NEAR(rotated.matches[k].separation_arcsec, direct.matches[k].separation_arcsec, 1e-6);
  }
}

TEST(FieldMatch, NearThePoleAndAcrossRaZero) {
  for (const auto& [ra0, dec0] : {std::pair{359.95, 5.0}, {0.0, 89.9}}) {
    const auto stars = grid_stars(ra0, dec0, 7, 6);
    const auto first = sky::merge_night_into_field({}, stars);
    expect_all_matched_to_first_night(first, sky::merge_night_into_field(first.field, another_night(stars, 1.0, 0, 7)));
  }
}

TEST(FieldMatch, AmbiguityAtOnePointTwoIsABlendAtTwoAMatch) {
  const std::vector<sky::FieldSource> field{{1, 10, 0, 1}, {2, 10, 6.6 * kArcsec, 1}, {3, 20, 0, 1}, {4, 20, 6 * kArcsec, 1}};
  const std::vector<sky::NightSource> night{{7, 10, 3 * kArcsec}, {8, 20, 2 * kArcsec}};
  const auto m = sky::merge_night_into_field(field, night);
  EXPECT_EQ(m.matches[0].kind, MatchKind::blend);  // 3" and 3.6": 1.2x
  EXPECT_EQ(m.matches[0].field_source_id, 1u);
  EXPECT_EQ(m.matches[0].blend_with, std::vector<std::uint32_t>{2});
  EXPECT_NEAR(m.matches[0].separation_arcsec, 3.0, 1e-6);
  EXPECT_EQ(m.matches[1].kind, MatchKind::matched);  // 2" and 4": 2x
  EXPECT_EQ(m.matches[1].field_source_id, 3u);
  EXPECT_TRUE(m.matches[1].blend_with.empty());
  EXPECT_EQ(m.changed_ids, (std::vector<std::uint32_t>{1, 3}));
  EXPECT_EQ(m.field[0].nights_seen, 2);
  EXPECT_EQ(m.field[1].nights_seen, 1);
}

TEST(FieldMatch, AFieldSourceClaimedTwiceGoesToTheCloserTheOtherIsANewBlend) {
  const std::vector<sky::FieldSource> field{{5, 100, 40, 2}};
  const std::vector<sky::NightSource> night{{1, 100, 40 + 2 * kArcsec}, {2, 100, 40 - 1 * kArcsec}};
  const auto m = sky::merge_night_into_field(field, night);
  EXPECT_EQ(m.matches[1].kind, MatchKind::matched);
  EXPECT_EQ(m.matches[1].field_source_id, 5u);
  EXPECT_EQ(m.matches[0].kind, MatchKind::blend);
  EXPECT_EQ(m.matches[0].field_source_id, 6u);
  EXPECT_EQ(m.matches[0].blend_with, std::vector<std::uint32_t>{5});
  ASSERT_EQ(m.field.size(), 2u);
  EXPECT_EQ(m.field[0].nights_seen, 3);  // counted once tonight
  EXPECT_EQ(m.field[1].nights_seen, 1);
}

TEST(FieldMatch, ANightMatchedAgainGivesTheSameIds) {
  const auto stars = grid_stars(200, 50, 6, 8);
  const auto first = sky::merge_night_into_field({}, stars);
  auto night = another_night(stars, 0.5, 0, 9);
  night.push_back({5000, 200.3, 50.3, 11});  // a star not seen before
  const auto second = sky::merge_night_into_field(first.field, night);
  EXPECT_EQ(second.matches.back().kind, MatchKind::new_source);
  const auto again = sky::merge_night_into_field(second.field, night);
  for (std::size_t k = 0; k < night.size(); ++k) {
    EXPECT_EQ(again.matches[k].field_source_id, second.matches[k].field_source_id);
    EXPECT_EQ(again.matches[k].kind, MatchKind::matched);
  }
  // And the same inputs give the same result, field and all.
  const auto twice = sky::merge_night_into_field(first.field, night);
  ASSERT_EQ(twice.field.size(), second.field.size());
  for (std::size_t k = 0; k < twice.field.size(); ++k) {
    EXPECT_EQ(twice.field[k].id, second.field[k].id);
    EXPECT_EQ(twice.field[k].ra_deg, second.field[k].ra_deg);
  }
}

TEST(FieldMatch, ThreeNightsCountThreeAndAverageThePosition) {
  const std::vector<sky::NightSource> nights{{1, 30, 10, 12.0}, {1, 30 + 1 * kArcsec, 10, 12.3}, {1, 30, 10 + 2 * kArcsec, 12.6}};
  std::vector<sky::FieldSource> field;
  for (const auto& n : nights) field = sky::merge_night_into_field(field, {n}).field;
  ASSERT_EQ(field.size(), 1u);
  EXPECT_EQ(field[0].id, 1u);
  EXPECT_EQ(field[0].nights_seen, 3);
  EXPECT_NEAR(field[0].mean_instrumental_mag, 12.3, 1e-12);
  sky::UnitVector sum{0, 0, 0};
  for (const auto& n : nights) {
    const auto u = sky::unit_vector(n.ra_deg, n.dec_deg);
    for (int i = 0; i < 3; ++i) sum[i] += u[i];
  }
  const auto mean = sky::ra_dec(sum);
  EXPECT_LT(sky::separation_arcsec(field[0].ra_deg, field[0].dec_deg, mean.ra_deg, mean.dec_deg), 1e-6);
  // About (30 + 1/3", 10 + 2/3").
  EXPECT_NEAR(field[0].dec_deg, 10 + 2.0 / 3 * kArcsec, 1e-7);
}

TEST(FieldMatch, IdsAreNeverReused) {
  const std::vector<sky::FieldSource> field{{1, 0, 0, 1}, {5, 1, 0, 1}};
  const std::vector<sky::NightSource> night{{1, 2, 0}};
  EXPECT_EQ(sky::merge_night_into_field(field, night).matches[0].field_source_id, 6u);
  sky::MatchOptions options;
  options.next_id = 10;
  const auto m = sky::merge_night_into_field(field, night, options);
  EXPECT_EQ(m.matches[0].field_source_id, 10u);
  EXPECT_EQ(m.next_id, 11u);
  options.next_id = 3;  // below an existing id: refused
  EXPECT_THROW(sky::merge_night_into_field(field, night, options), tianyu::Failure);
}

TEST(FieldMatch, BadInputNamesTheSource) {
  try {
    sky::merge_night_into_field({}, {{7, std::nan(""), 0}});
    FAIL() << "expected a refusal";
  } catch (const tianyu::Failure& e) {
    EXPECT_NE(std::string(e.what()).find("night source 7"), std::string::npos) << e.what();
    EXPECT_FALSE(e.retryable());
  }
  EXPECT_THROW(sky::merge_night_into_field({{3, 0, 0, 0}}, {}), tianyu::Failure);  // nights_seen 0
  EXPECT_THROW(sky::merge_night_into_field({}, {{1, 0, 0}, {1, 1, 0}}), tianyu::Failure);  // duplicate id
}

TEST(FieldMatch, RadiusScalesWithPixelsAndSeeing) {
  EXPECT_DOUBLE_EQ(sky::match_radius_arcsec(0.43, 4.0), 4.0);   // Tianyu-I: the published 4"
  EXPECT_DOUBLE_EQ(sky::match_radius_arcsec(5.2, 2.5), 13.0);   // HAT-P-32 frames: one FWHM
  EXPECT_THROW(sky::match_radius_arcsec(0, 2), tianyu::Failure);
  EXPECT_THROW(sky::match_radius_arcsec(1, std::nan("")), tianyu::Failure);
}
