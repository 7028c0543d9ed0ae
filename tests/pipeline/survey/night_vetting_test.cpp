// The night's vetting with known answers: a real dip on a quiet star passes; the same ln BF on a
// noisy star, at the frame edge, on a half-covered curve, saturated, or shared by its neighbours
// fails with the reason in words; the ranking puts the passed candidate first.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

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

// The vetting shares the references' verdicts among candidates of one event: the counts must
// be those of the definition, every distinct source among the references and the nearest ones
// (neighbours on the frame, in brightness) but the candidate itself, measured one by one.
TEST(NightVetting, ComparisonsCountEachSourceOnceWhateverTheEventsCandidatesShare) {
  std::vector<LightCurveData> curves;
  std::vector<NightSource> sources;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> position(0, 500);  // no two distances, no two brightness ratios tie
  for (int i = 0; i < 40; ++i) {
    // Every fourth star dips at the event (a third of them deeper), so the counts are not trivial.
    curves.push_back(night(100 + i, 0.002, i % 4 == 0 ? 0.004 * (1 + i % 3) : 0.0));
    const double x = position(rng), y = position(rng);
    sources.push_back({std::uint64_t(i + 1), x, y, 1000.0 * std::exp(position(rng) / 100), i % 3 == 0, 140, 0, 0});
  }
  std::vector<NightCandidate> candidates;
  for (std::size_t i : {0, 3, 6, 9, 12, 20, 33}) candidates.push_back({i, 30.0, 0.15, 0.1, 0.01});  // one event
  candidates.push_back({5, 25.0, 0.16, 0.06, 0.01});                                                 // another
  candidates.push_back({6, 25.0, 0.16, 0.06, 0.01});  // a source may appear under two events
  NightVettingOptions o;
  o.neighbours = 4, o.similar_brightness = 3;
  const auto v = vet_night(curves, sources, candidates, o);
  for (std::size_t k = 0; k < candidates.size(); ++k) {
    const auto& c = candidates[k];
    std::vector<std::pair<double, std::size_t>> by_distance, by_brightness;
    for (std::size_t j = 0; j < sources.size(); ++j) {
      by_distance.push_back({std::hypot(sources[j].x_px - sources[c.curve].x_px, sources[j].y_px - sources[c.curve].y_px), j});
      by_brightness.push_back({std::abs(std::log(sources[j].brightness / sources[c.curve].brightness)), j});
    }
    std::sort(by_distance.begin(), by_distance.end());
    std::sort(by_brightness.begin(), by_brightness.end());
    std::set<std::size_t> compared;
    for (std::size_t j = 0; j < sources.size(); ++j) {
      if (sources[j].is_reference) compared.insert(j);
    }
    for (int r = 0; r <= 4; ++r) compared.insert(by_distance[r].second);   // itself is nearest, then 4
    for (int r = 0; r <= 3; ++r) compared.insert(by_brightness[r].second);
    compared.erase(c.curve);
    int usable = 0, dipping = 0;
    for (const auto j : compared) {
      const auto dip = measure_box_dip(curves[j], c.t0, c.duration);
      if (dip.points_in < o.min_points_in || dip.points_out < o.min_points_out) continue;
      ++usable;
      dipping += dip.snr() > o.comparison_snr;
    }
    EXPECT_EQ(v[k].comparisons, usable) << "candidate " << k;
    EXPECT_EQ(v[k].comparisons_dipping, dipping) << "candidate " << k;
    EXPECT_GT(dipping, 0) << "candidate " << k;
  }
}

// A comparison's verdict is decided from as little of its measurement as settles it (no scatter
// for a star that brightened, one selection instead of two far under the threshold): the counts
// must be the full measurement's for stars on either side of the threshold, for any threshold.
TEST(NightVetting, ComparisonVerdictsNearTheThresholdAreTheFullMeasurements) {
  std::vector<LightCurveData> curves;
  std::vector<NightSource> sources;
  for (int i = 0; i < 80; ++i) {  // depths from -0.1 % to 0.3 %: SNR from about -3 to 10
    curves.push_back(night(300 + i, 0.002, -0.001 + 0.00005 * i));
    sources.push_back({std::uint64_t(i + 1), 10.0 * i, 7.0 * i, 0, i > 0, 140, 0, 0});
  }
  int near_below = 0, near_above = 0;
  for (int i = 1; i < 80; ++i) {
    const double snr = measure_box_dip(curves[i], 0.15, 0.1).snr();
    near_below += snr > 2.5 && snr <= 3;
    near_above += snr > 3 && snr < 3.5;
  }
  ASSERT_GT(near_below, 0);
  ASSERT_GT(near_above, 0);
  for (const double threshold : {3.0, 0.0, -1.0, 8.0}) {
    NightVettingOptions o;
    o.neighbours = 0, o.similar_brightness = 0, o.comparison_snr = threshold;
    const auto v = vet_night(curves, sources, {{0, 30.0, 0.15, 0.1, 0.01}}, o);
    int usable = 0, dipping = 0;
    for (int j = 1; j < 80; ++j) {
      const auto dip = measure_box_dip(curves[j], 0.15, 0.1);
      if (dip.points_in < o.min_points_in || dip.points_out < o.min_points_out) continue;
      ++usable;
      dipping += dip.snr() > threshold;
    }
    EXPECT_EQ(v[0].comparisons, usable) << threshold;
    EXPECT_EQ(v[0].comparisons_dipping, dipping) << threshold;
    EXPECT_EQ(usable, 79) << threshold;
  }
}

}  // namespace
}  // namespace tianyu::pipeline::survey
