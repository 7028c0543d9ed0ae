// The survey search at survey level on simulated multi-night light curves (issue 21), what
// tests/pipeline/survey/field_search_test.cpp does not already show: the false-alarm rate at the
// alert threshold over constant and active stars (printed and bounded), and an eclipsing binary
// whose primary has the planet's depth, flagged by its odd-even depths or its secondary. Eight
// 0.4-d nights at the survey test's cadence (80 points a night), as in tests/survey/survey_field_test.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "pipeline/survey/field_search.h"
#include "pipeline/transit/celerite.h"

namespace tianyu::pipeline::survey {
namespace {

constexpr double kT0 = 2460000;
constexpr int kNights = 8, kPointsPerNight = 80;
// The field_search step's alert threshold (FieldSearchParams::alert_snr) and candidate floor.
constexpr double kAlertSnr = 10, kMinSnr = 7;

struct Dip {
  double period, t0, duration, depth;
};

// One star over the nights: white noise `sigma`, optional stellar variability (a draw of a
// simple harmonic oscillator GP, standard deviation `active_rms` at time scale `active_days`),
// each night's level off by up to 2 %, and box dips.
FieldCurve star(unsigned seed, double sigma, double active_rms, double active_days, const std::vector<Dip>& dips) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n01;
  std::uniform_real_distribution<double> offset(0.98, 1.02);
  std::vector<double> time;
  for (int n = 0; n < kNights; ++n) {
    for (int i = 0; i < kPointsPerNight; ++i) time.push_back(kT0 + n + 0.4 * i / kPointsPerNight);
  }
  std::vector<double> variability(time.size(), 0.0);
  if (active_rms > 0) {
    const double w0 = 2 * M_PI / active_days, q = 1 / std::sqrt(2.0);
    std::vector<double> z(time.size()), tiny(time.size(), 1e-12);
    for (auto& v : z) v = n01(rng);
    variability = CeleriteSolver(time, tiny, {{active_rms * active_rms / (w0 * q), w0, q}}).sample(z);
  }
  std::vector<LightCurveData> nights(kNights);
  double level = 1;
  for (std::size_t i = 0; i < time.size(); ++i) {
    const int n = static_cast<int>(i) / kPointsPerNight;
    if (i % kPointsPerNight == 0) level = offset(rng);
    double f = 1 + variability[i];
    for (const auto& d : dips) {
      if (std::abs(std::remainder(time[i] - d.t0, d.period)) < d.duration / 2) f -= d.depth;
    }
    nights[n].time.push_back(time[i]);
    nights[n].flux.push_back(level * (f + sigma * n01(rng)));
    nights[n].flux_err.push_back(level * sigma);
  }
  return join_nights(nights);
}

FieldSearchOptions options() {
  FieldSearchOptions o;
  o.periods = 3000;
  o.threads = 0;
  o.min_snr = kMinSnr;
  return o;
}

// An alert as the step raises one: SNR at or above the threshold and no flag.
bool would_alert(const std::vector<PeriodicCandidate>& found) {
  for (const auto& k : found) {
    if (k.fit.snr >= kAlertSnr && k.flags.empty()) return true;
  }
  return false;
}

struct Rates {
  int stars = 0, candidates = 0, alerts = 0;
  std::vector<double> inverted;
};

Rates search_stars(unsigned first_seed, int count, double active_rms) {
  Rates r;
  for (int s = 0; s < count; ++s) {
    const auto c = star(first_seed + s, 0.004, active_rms, 0.3, {});
    const auto found = search_field_source(c, options());
    ++r.stars;
    r.candidates += !found.empty();
    r.alerts += would_alert(found);
    r.inverted.push_back(inverted_peak_snr(c, options()));
  }
  return r;
}

TEST(FieldFalseAlarms, ConstantAndActiveStarsRarelyReachTheAlertThreshold) {
  // Active: variability as large as the planets sought (0.5 %) on a 0.3-d time scale, within
  // each night's window.
  const Rates constant = search_stars(100, 16, 0.0), active = search_stars(200, 16, 0.005);
  for (const auto* r : {&constant, &active}) {
    std::printf("%s stars: %d searched, %d with a candidate (SNR >= %.0f), %d would alert (SNR >= %.0f, no flag): "
                "false-alarm rate %.3f; inverted curves at SNR >= %.0f: %.3f\n",
                r == &constant ? "constant" : "active", r->stars, r->candidates, kMinSnr, r->alerts, kAlertSnr,
                double(r->alerts) / r->stars, kAlertSnr, false_alarm_fraction(kAlertSnr, r->inverted));
  }
  const int stars = constant.stars + active.stars, alerts = constant.alerts + active.alerts;
  std::printf("false-alarm rate at SNR %.0f over %d constant and active stars: %.3f\n", kAlertSnr, stars,
              double(alerts) / stars);
  EXPECT_EQ(constant.alerts, 0) << "white noise never reaches SNR 10";
  EXPECT_LE(active.alerts, 1) << "the GP takes up the variability: at most one active star in 16 alerts";
  EXPECT_DOUBLE_EQ(false_alarm_fraction(kAlertSnr, constant.inverted), 0.0);
  // The search can tell: a 0.8 % planet on the first active star is a candidate at its period,
  // and on the first constant star an alert.
  const Dip planet{2.08, kT0 + 0.08, 0.125, 0.008};
  for (const double activity : {0.0, 0.005}) {
    const auto found = search_field_source(star(activity > 0 ? 200 : 100, 0.004, activity, 0.3, {planet}), options());
    ASSERT_FALSE(found.empty()) << activity;
    std::printf("a planet on a%s star: P %.5f d, SNR %.1f, flags '%s'\n", activity > 0 ? "n active" : " constant",
                found[0].fit.period, found[0].fit.snr, found[0].flags_text().c_str());
    EXPECT_NEAR(found[0].fit.period, planet.period, 0.001 * planet.period) << activity;
    if (activity == 0) {
      EXPECT_TRUE(would_alert(found));
    }
  }
}

TEST(FieldFalseAlarms, AnEclipsingBinaryAtThePlanetsDepthIsFlagged) {
  // Primary 0.8 % (the planet's depth in these tests), secondary 0.5 % half an orbit later: at
  // the orbit (4.2 d) a secondary at phase 0.5, at half of it (2.1 d) odd and even eclipses of
  // different depths. Either way a flag, and no alert.
  const Dip primary{4.2, kT0 + 0.1, 0.1, 0.008}, secondary{4.2, kT0 + 0.1 + 2.1, 0.1, 0.005};
  const auto c = star(7, 0.002, 0, 0, {primary, secondary});
  const auto found = search_field_source(c, options());
  ASSERT_FALSE(found.empty());
  const auto& k = found[0];
  std::printf("binary: P %.4f d, depth %.3f %%, SNR %.1f, odd-even %.3f %% (%.1f sigma), secondary %.3f %% (%.1f "
              "sigma), flags: %s\n",
              k.fit.period, 100 * k.fit.depth, k.fit.snr, 100 * k.odd_even_diff, k.odd_even_sigma,
              100 * k.secondary_depth, k.secondary_sigma, k.flags_text().c_str());
  const bool at_orbit = std::abs(k.fit.period / 4.2 - 1) < 0.01, at_half = std::abs(k.fit.period / 2.1 - 1) < 0.01;
  EXPECT_TRUE(at_orbit || at_half) << k.fit.period;
  EXPECT_TRUE(k.odd_even_sigma > 3 || k.secondary_sigma > 3);
  EXPECT_NE(k.flags_text().find("likely eclipsing binary"), std::string::npos) << k.flags_text();
  EXPECT_FALSE(would_alert(found));
}

}  // namespace
}  // namespace tianyu::pipeline::survey
