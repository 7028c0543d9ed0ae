// The night's vetting with known answers: a real dip on a quiet star passes; the same ln BF on a
// noisy star, at the frame edge, on a half-covered curve, saturated, or shared by its neighbours
// fails with the reason in words; the ranking puts the passed candidate first.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "pipeline/survey/night_vetting.h"

namespace tianyu::pipeline::survey {
namespace {

// 140 points over 0.3 d, white noise `sigma`, a box dip of `depth` for 0.1 d at 0.15.
LightCurveData night(unsigned seed, double sigma, double depth) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, sigma);
  LightCurveData c;
  for (int i = 0; i < 140; ++i) {
    const double t = 0.3 * i / 139;
    c.time.push_back(t);
    c.flux.push_back(0.5 * (1 - (std::abs(t - 0.15) < 0.05 ? depth : 0.0) + noise(rng)));
    c.flux_err.push_back(0.5 * sigma);
  }
  return c;
}

TEST(BoxDip, MeasuresTheDepthAndItsErrorFromTheCurvesOwnScatter) {
  const auto dip = measure_box_dip(night(1, 0.002, 0.01), 0.15, 0.1);
  EXPECT_NEAR(dip.points_in, 46, 1);
  EXPECT_NEAR(dip.depth, 0.01, 0.001);
  EXPECT_NEAR(dip.scatter, 0.002, 0.0004);
  EXPECT_NEAR(dip.snr(), 0.01 / (0.002 / std::sqrt(46.0)), 12);
}

TEST(NightVetting, PassesTheRealDipAndGivesEveryOtherItsReason) {
  // 0: the planet; 1: a noisy star; 2: at the edge; 3: half the night; 4: saturated;
  // 5..16: a field where 5 dips with its neighbours 6..16 (clouds).
  std::vector<LightCurveData> curves{night(1, 0.002, 0.01), night(2, 0.1, 0.06), night(3, 0.002, 0.01),
                                     night(4, 0.002, 0.01), night(5, 0.002, 0.01)};
  curves[3].time.resize(60), curves[3].flux.resize(60), curves[3].flux_err.resize(60);
  std::vector<NightSource> sources(5);
  for (int i = 0; i < 5; ++i) sources[i] = {std::uint64_t(i + 1), 100.0 + 150 * i, 200, 0, false, 140, 0, 0};
  sources[2].y_px = 4;
  sources[4].saturated_points = 20;
  for (int i = 5; i < 17; ++i) {
    curves.push_back(night(10 + i, 0.002, 0.01));
    sources.push_back({std::uint64_t(i + 1), 600.0 + i, 600.0 + (i % 3), 0, false, 140, 0, 0});
  }
  for (int i = 0; i < 15; ++i) {  // three quiet neighbours each for the first five, five of them references
    curves.push_back(night(40 + i, 0.002, 0.0));
    sources.push_back({std::uint64_t(30 + i), 100.0 + 150 * (i / 3) + 3, 203.0 + i % 3, 0, i % 3 == 0, 140, 0, 0});
  }
  std::vector<NightCandidate> candidates;
  for (std::size_t i = 0; i < 6; ++i) candidates.push_back({i, i == 0 ? 40.0 : 60.0, 0.15, 0.1, 0.01});
  NightVettingOptions o;
  o.frame_width = 1000, o.frame_height = 1000;
  o.neighbours = 3;
  const auto v = vet_night(curves, sources, candidates, o);
  for (const auto& x : v) std::printf("curve %zu rank %d: %s\n", x.curve, x.rank, x.reasons_text().c_str());
  EXPECT_TRUE(v[0].passed) << v[0].reasons_text();
  EXPECT_EQ(v[0].rank, 1);
  EXPECT_NE(v[1].reasons_text().find("own scatter"), std::string::npos);
  EXPECT_NE(v[2].reasons_text().find("frame edge"), std::string::npos);
  EXPECT_NE(v[3].reasons_text().find("clean points in only 43 %"), std::string::npos);
  EXPECT_NE(v[4].reasons_text().find("saturated in 20 of 140 frames"), std::string::npos);
  EXPECT_NE(v[5].reasons_text().find("systematics"), std::string::npos);
  for (std::size_t i = 1; i < 6; ++i) {
    EXPECT_FALSE(v[i].passed) << i;
    EXPECT_GT(v[i].rank, 1) << i;
  }
}

}  // namespace
}  // namespace tianyu::pipeline::survey
