// The survey search of one field source across nights, on synthetic multi-night light curves
// with known answers: a planet's period to 0.1 %, an eclipsing binary flagged, a dip at the same
// hour every night flagged as aligned with the day, a second planet after masking the first, and
// constant stars under the threshold both upright and inverted.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "pipeline/survey/field_search.h"

namespace tianyu::pipeline::survey {
namespace {

struct Dip {
  double period, t0, duration, depth;
};

// `nights` nights of 0.4 d from each midnight (day 2460000 + n), 5-minute cadence, white noise
// `sigma`, each night's level off by up to 2 % (a different comparison ensemble each night), and
// box dips.
FieldCurve survey(unsigned seed, const std::vector<Dip>& dips, int nights = 20, double sigma = 0.003) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, sigma);
  std::uniform_real_distribution<double> offset(0.98, 1.02);
  std::vector<LightCurveData> per_night;
  for (int n = 0; n < nights; ++n) {
    LightCurveData c;
    const double level = offset(rng);
    for (double t = n; t < n + 0.4; t += 5.0 / 1440) {
      double f = 1;
      for (const auto& d : dips) {
        const double x = std::remainder(2460000 + t - d.t0, d.period);
        if (std::abs(x) < d.duration / 2) f -= d.depth;
      }
      c.time.push_back(2460000 + t);
      c.flux.push_back(level * (f + noise(rng)));
      c.flux_err.push_back(level * sigma);
    }
    per_night.push_back(std::move(c));
  }
  auto joined = join_nights(per_night);
  return joined;
}

FieldSearchOptions options() {
  FieldSearchOptions o;
  o.periods = 3000;
  o.threads = 2;
  return o;
}

const double kT0 = 2460000;

void print(const char* what, const std::vector<PeriodicCandidate>& found) {
  for (const auto& k : found) {
    std::printf("%s: signal %d: P %.5f d, t0 %.4f, depth %.3f +- %.3f %%, SNR %.1f, %d transits over %d nights, "
                "odd-even %.1f sigma, secondary %.1f sigma, single ln BF %.1f, flags: %s\n",
                what, k.signal, k.fit.period, k.fit.t0 - kT0, 100 * k.fit.depth, 100 * k.fit.depth_err, k.fit.snr,
                k.fit.transits, k.nights_covered, k.odd_even_sigma, k.secondary_sigma, k.single_ln_bf,
                k.flags_text().c_str());
  }
}

TEST(FieldSearch, FindsThePlanetsPeriodWithinAPermilleAndFlagsNothing) {
  const Dip planet{2.37, kT0 + 0.05, 0.1, 0.008};
  const auto found = search_field_source(survey(1, {planet}), options());
  print("planet", found);
  ASSERT_FALSE(found.empty());
  EXPECT_NEAR(found[0].fit.period, planet.period, 0.001 * planet.period);
  EXPECT_NEAR(found[0].fit.depth, planet.depth, 0.002);
  // Epochs 0.05 + 2.37 k fall in the 0.4-d nights for k = 0, 3, 6, 8 (and partly 9); the half
  // period is ruled out by the nights at 0.235 + 2.37 k without a dip (3.05 d would not be: its
  // half-period epochs all fall in daytime).
  EXPECT_GE(found[0].fit.transits, 4);
  EXPECT_NEAR(std::remainder(found[0].fit.t0 - planet.t0, planet.period), 0.0, 0.01);
  EXPECT_LT(found[0].odd_even_sigma, 3);
  EXPECT_LT(found[0].secondary_sigma, 3);
  EXPECT_GT(found[0].single_ln_bf, 5);
  EXPECT_TRUE(found[0].flags.empty()) << found[0].flags_text();
}

TEST(FieldSearch, TheBaselineBlsFindsTheSamePeriod) {
  const Dip planet{2.37, kT0 + 0.05, 0.1, 0.008};
  auto o = options();
  o.method = SearchMethod::bls;
  o.max_signals = 1;
  const auto found = search_field_source(survey(1, {planet}), o);
  print("planet, BLS", found);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NEAR(found[0].fit.period, planet.period, 0.001 * planet.period);
}

TEST(FieldSearch, AnEclipsingBinaryIsFlaggedByItsSecondaryOrOddEvenDepths) {
  const Dip primary{2.1, kT0 + 0.05, 0.1, 0.010}, secondary{2.1, kT0 + 0.05 + 1.05, 0.1, 0.006};
  const auto found = search_field_source(survey(2, {primary, secondary}), options());
  print("binary", found);
  ASSERT_FALSE(found.empty());
  EXPECT_TRUE(found[0].odd_even_sigma > 3 || found[0].secondary_sigma > 3);
  EXPECT_NE(found[0].flags_text().find("likely eclipsing binary"), std::string::npos) << found[0].flags_text();
}

TEST(FieldSearch, TheSameDipEveryNightIsFlaggedAsAlignedWithTheDay) {
  const Dip systematic{1.0, kT0 + 0.2, 0.05, 0.006};
  const auto found = search_field_source(survey(3, {systematic}), options());
  print("systematic", found);
  ASSERT_FALSE(found.empty());
  EXPECT_NE(found[0].flags_text().find("aligned with the day"), std::string::npos) << found[0].flags_text();
}

TEST(FieldSearch, ASecondPlanetIsFoundAfterMaskingTheFirst) {
  const Dip b{2.37, kT0 + 0.05, 0.1, 0.008}, c{1.45, kT0 + 0.12, 0.07, 0.006};
  const auto found = search_field_source(survey(4, {b, c}), options());
  print("two planets", found);
  ASSERT_GE(found.size(), 2u);
  EXPECT_NEAR(found[0].fit.period, b.period, 0.001 * b.period);
  EXPECT_NEAR(found[1].fit.period, c.period, 0.001 * c.period);
  EXPECT_EQ(found[1].signal, 2);
}

TEST(FieldSearch, ConstantStarsStayUnderTheThresholdUprightAndInverted) {
  std::vector<double> inverted;
  for (unsigned seed = 10; seed < 14; ++seed) {
    const auto star = survey(seed, {});
    EXPECT_TRUE(search_field_source(star, options()).empty()) << seed;
    inverted.push_back(inverted_peak_snr(star, options()));
    EXPECT_LT(inverted.back(), 7) << seed;
  }
  EXPECT_DOUBLE_EQ(false_alarm_fraction(12, inverted), 0.0);
  EXPECT_DOUBLE_EQ(false_alarm_fraction(0, inverted), 1.0);
}

}  // namespace
}  // namespace tianyu::pipeline::survey
