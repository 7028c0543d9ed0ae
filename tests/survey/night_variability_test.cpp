// The night's vetting refuses a single transit on a star that varies within the night (issue 21:
// two such alerts were raised on the simulated survey's periodic variables), with the reason in
// words, and still passes a real transit, whole or cut by the night's end.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "pipeline/survey/night_vetting.h"

namespace tianyu::pipeline::survey {
namespace {

constexpr double kNight = 0.4;
constexpr int kPoints = 80;  // the survey test's cadence: a 120-s frame every 7.2 min

struct Star {
  double sin_amplitude = 0, sin_period = 1;  // a pulsator / contact binary
  double dip_t0 = 0, dip_duration = 0, dip_depth = 0;  // a transit
};

LightCurveData observe(const Star& s, unsigned seed, double sigma = 0.003) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, sigma);
  LightCurveData c;
  for (int i = 0; i < kPoints; ++i) {
    const double t = kNight * i / (kPoints - 1);
    double f = 1 + s.sin_amplitude * std::cos(2 * M_PI * t / s.sin_period);
    if (std::abs(t - s.dip_t0) < s.dip_duration / 2) f -= s.dip_depth;
    c.time.push_back(t);
    c.flux.push_back(0.8 * (f + noise(rng)));
    c.flux_err.push_back(0.8 * sigma);
  }
  return c;
}

// One source alone on a 1000-px frame (no neighbours to compare), the candidate as the
// single-transit search reports it.
NightVetting vet(const LightCurveData& c, double t0, double duration, double depth) {
  NightSource source{1, 500, 500, 1e5, false, kPoints, 0, 0};
  NightVettingOptions o;
  o.frame_width = o.frame_height = 1000;
  const auto v = vet_night({c}, {source}, {{0, 40, t0, duration, depth}}, o);
  const auto& s = v[0].variability;
  std::printf("dip %.2f %% at %.1f sigma; outside rms %.2f %%, point-to-point %.2f %%, excess %.2f %%; sinusoid P %.3f "
              "d, amplitude %.2f %%, delta BIC %.1f: %s\n",
              100 * v[0].dip.depth, v[0].dip.snr(), 100 * s.outside_rms, 100 * s.point_to_point, 100 * s.excess_rms,
              s.sinusoid_period_d, 100 * s.sinusoid_amplitude, s.delta_bic, v[0].reasons_text().c_str());
  return v[0];
}

bool refused_as_variable(const NightVetting& v) {
  return !v.passed && v.reasons_text().find("a variable star, not a transit") != std::string::npos;
}

TEST(NightVariability, APulsatorsMinimumIsRefusedAsAVariableStar) {
  // 3 % amplitude, 0.55 d (the simulator's RR Lyrae-like period): one broad minimum a night.
  const Star pulsator{0.03, 0.55};
  const auto c = observe(pulsator, 1);
  const auto v = vet(c, 0.275, 0.12, 0.04);
  EXPECT_TRUE(refused_as_variable(v)) << v.reasons_text();
}

TEST(NightVariability, AContactBinarysMinimaAreRefusedAsAVariableStar) {
  // An EW binary of 0.3 d: two minima per orbit, the light varying with a 0.15-d period.
  const Star ew{0.02, 0.15};
  for (const double t0 : {0.075, 0.225}) {
    const auto v = vet(observe(ew, 2), t0, 0.05, 0.035);
    EXPECT_TRUE(refused_as_variable(v)) << t0 << ": " << v.reasons_text();
    EXPECT_NEAR(v.variability.sinusoid_period_d, 0.15, 0.02);
  }
}

TEST(NightVariability, ARealTransitOnAQuietStarPassesWholeOrCutByTheNightsEnd) {
  const Star whole{0, 1, 0.2, 0.125, 0.01}, cut{0, 1, 0.37, 0.125, 0.01};
  for (unsigned seed = 3; seed < 8; ++seed) {
    const auto a = vet(observe(whole, seed), whole.dip_t0, whole.dip_duration, whole.dip_depth);
    EXPECT_TRUE(a.passed) << seed << ": " << a.reasons_text();
    EXPECT_LT(a.variability.delta_bic, 0) << "the box explains a transit better than any sinusoid";
    const auto b = vet(observe(cut, seed), cut.dip_t0, cut.dip_duration, cut.dip_depth);
    EXPECT_FALSE(refused_as_variable(b)) << seed << ": " << b.reasons_text();
  }
}

}  // namespace
}  // namespace tianyu::pipeline::survey
