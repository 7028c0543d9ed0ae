// The catalogue's order, a field's stars at their true positions, and the two reasons why
// extract_sources does not extract horizontal bands of a frame on several cores: with SEP 1.2
// a band's catalogue is not, to the last bit, the whole frame's. If one of the "Sep..." tests
// starts failing after a SEP upgrade, banding may have become exact: re-measure before using it.
#include <algorithm>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/detection/extract.h"
#include "pipeline/sep_support.h"
#include "pipeline/sim/night.h"

namespace tianyu::pipeline {
namespace {

// Rows [y0, y1) of `frame` as a frame of their own: what a band's SEP call sees.
Image band_of(const Image& frame, int y0, int y1) {
  Image band(frame.width, y1 - y0);
  std::copy(frame.row(y0), frame.row(y1), band.pixels.begin());
  return band;
}

// Exact copies of one star (same sub-pixel phase, whole-pixel shifts) have bit-identical
// fluxes; they come out by row, then column, after the brighter star.
TEST(ExtractOrder, ExactFluxTiesComeOutByRowThenColumn) {
  Image image(300, 300);
  for (const auto& [x, y] : std::vector<std::pair<double, double>>{{250.25, 100.5}, {50.25, 200.5}, {150.25, 100.5}})
    sim::add_moffat_star(image, x, y, 2e4, 3.0, 3.0);
  sim::add_moffat_star(image, 100.7, 250.1, 5e4, 3.0, 3.0);
  const auto sources = extract_sources(image, nullptr, 1.0);
  ASSERT_EQ(sources.size(), 4u);
  EXPECT_NEAR(sources[0].x, 100.7, 0.01);
  EXPECT_EQ(sources[1].flux, sources[2].flux);
  EXPECT_EQ(sources[2].flux, sources[3].flux);
  const std::vector<std::pair<double, double>> expected{{150.25, 100.5}, {250.25, 100.5}, {50.25, 200.5}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(sources[i + 1].x, expected[i].first, 0.01) << i;
    EXPECT_NEAR(sources[i + 1].y, expected[i].second, 0.01) << i;
  }
}

// 400 stars on a noisy 1024^2 frame: the 50 brightest of those with no other star within
// 12 px are found within 0.1 px of where they were put, and the catalogue is brightest first.
TEST(ExtractOrder, AFieldsBrightStarsAreWhereTheyWerePut) {
  Image image(1024, 1024);
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 5.0);
  for (auto& v : image.pixels) v = static_cast<float>(noise(rng));
  std::uniform_real_distribution<double> pos(20.0, 1004.0), mag(0.0, 2.0);
  struct Star { double x, y, flux; };
  std::vector<Star> stars(400);
  for (auto& s : stars) s = {pos(rng), pos(rng), 2e3 * std::pow(100.0, mag(rng))};
  for (const auto& s : stars) sim::add_moffat_star(image, s.x, s.y, s.flux, 3.0, 3.0);
  std::vector<Star> isolated;
  for (const auto& s : stars) {
    const bool alone = std::none_of(stars.begin(), stars.end(), [&](const Star& o) {
      return &o != &s && std::hypot(o.x - s.x, o.y - s.y) < 12.0;
    });
    if (alone) isolated.push_back(s);
  }
  std::sort(isolated.begin(), isolated.end(), [](const Star& a, const Star& b) { return a.flux > b.flux; });
  ASSERT_GE(isolated.size(), 50u);
  isolated.resize(50);
  const auto sources = extract_sources(image, nullptr, 5.0);
  for (std::size_t i = 1; i < sources.size(); ++i) ASSERT_GE(sources[i - 1].flux, sources[i].flux) << i;
  for (const auto& s : isolated) {
    double nearest = 1e9;
    for (const auto& found : sources) nearest = std::min(nearest, std::hypot(found.x - s.x, found.y - s.y));
    EXPECT_LT(nearest, 0.1) << s.x << ", " << s.y;
  }
}

// Two blended pairs, one above the other. SEP deblends a pair by handing the pixels between
// its stars out at random from one stream seeded once per call, so the lower pair's fluxes
// depend on how many draws the upper pair took: a band holding only the lower pair gets other
// fluxes than the frame. Without the upper pair the band's fluxes are the frame's exactly.
TEST(SepBands, ADeblendedPairDependsOnTheBlendsAboveIt) {
  Image with_upper(120, 400), without_upper(120, 400);
  for (Image* image : {&with_upper, &without_upper}) {
    sim::add_moffat_star(*image, 60.7, 300.4, 1e5, 3.0, 3.0);
    sim::add_moffat_star(*image, 66.2, 304.9, 8e4, 3.0, 3.0);
  }
  sim::add_moffat_star(with_upper, 40.3, 100.2, 1e5, 3.0, 3.0);
  sim::add_moffat_star(with_upper, 45.6, 104.6, 8e4, 3.0, 3.0);
  const auto fluxes_of_lower_pair = [](const std::vector<Source>& sources, double y_offset) {
    std::vector<double> fluxes;
    for (const auto& s : sources)
      if (s.y + y_offset > 200) fluxes.push_back(s.flux);
    return fluxes;
  };
  for (const bool upper : {true, false}) {
    const Image& frame = upper ? with_upper : without_upper;
    const auto whole = extract_sources(frame, nullptr, 1.0);
    const auto band = extract_sources(band_of(frame, 200, 400), nullptr, 1.0);
    const auto in_frame = fluxes_of_lower_pair(whole, 0), in_band = fluxes_of_lower_pair(band, 200);
    ASSERT_EQ(in_frame.size(), 2u) << "the lower pair is deblended into its two stars";
    ASSERT_EQ(in_band.size(), 2u);
    for (const auto& s : band) EXPECT_TRUE(s.flag & SEP_OBJ_MERGED) << "deblended";
    if (upper) {
      EXPECT_NE(in_band, in_frame) << "the upper pair's draws changed the lower pair";
    } else {
      EXPECT_EQ(in_band, in_frame);
    }
  }
}

// SEP's y is (mean row offset within the source) + (its first row). Counted from a band's
// first row, the sum rounds on a finer grid than counted from the frame's, and shifting it
// back does not always give the frame's double: some stars are 1 ulp off (2^-42 px near row
// 1000), though everything else about them is identical.
TEST(SepBands, ABandsRowsDoNotShiftBackToTheFramesToTheLastBit) {
  Image frame(400, 1200);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> x(10.0, 390.0), y(1040.0, 1160.0);
  for (int i = 0; i < 60; ++i) sim::add_moffat_star(frame, x(rng), y(rng), 3e4, 3.0, 3.0);
  const auto whole = extract_sources(frame, nullptr, 1.0);
  const auto band = extract_sources(band_of(frame, 960, 1200), nullptr, 1.0);
  ASSERT_EQ(band.size(), whole.size());
  int off_by_an_ulp = 0;
  for (std::size_t i = 0; i < band.size(); ++i) {
    EXPECT_EQ(band[i].x, whole[i].x);
    EXPECT_EQ(band[i].flux, whole[i].flux);
    EXPECT_EQ(band[i].a, whole[i].a);
    const double shifted = band[i].y + 960;
    EXPECT_LE(std::fabs(shifted - whole[i].y), std::ldexp(1.0, -42)) << i;
    if (shifted != whole[i].y) ++off_by_an_ulp;
  }
  EXPECT_GT(off_by_an_ulp, 0);
}

}  // namespace
}  // namespace tianyu::pipeline
