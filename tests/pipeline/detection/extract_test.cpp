// Source extraction: positions and fluxes of known stars, hot pixels dropped, and a source
// larger than SEP's default pixel stack still extracted.
#include "pipeline/detection/extract.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "pipeline/sim/night.h"

namespace tianyu::pipeline {
namespace {

TEST(Extract, FindsKnownStarsAndDropsHotPixels) {
  Image image(200, 150);
  std::mt19937_64 rng(1);
  std::normal_distribution<double> noise(0.0, 5.0);
  for (auto& v : image.pixels) v = static_cast<float>(noise(rng));
  const std::vector<std::pair<double, double>> stars{{40.3, 30.7}, {150.6, 100.2}, {90.0, 75.5}};
  for (std::size_t i = 0; i < stars.size(); ++i) {
    sim::add_moffat_star(image, stars[i].first, stars[i].second, 2e4 * (i + 1), 3.0, 3.0);
  }
  image.at(120, 20) = 5000;  // a hot pixel: all its flux in one pixel
  const auto sources = extract_sources(image, nullptr, 5.0);
  ASSERT_EQ(sources.size(), 3u);
  // Brightest first: the third star, then the second, then the first.
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& [x, y] = stars[2 - i];
    EXPECT_NEAR(sources[i].x, x, 0.05) << i;
    EXPECT_NEAR(sources[i].y, y, 0.05) << i;
  }
}

// 700 x 700 pixels above threshold: more than SEP's default stack of 300,000 pixels. The stack
// grows and the source comes out whole.
TEST(Extract, ASourceBiggerThanThePixelStackIsStillExtracted) {
  Image image(1000, 1000);
  for (int y = 150; y < 850; ++y)
    for (int x = 150; x < 850; ++x) image.at(x, y) = 100.0f + 0.001f * (x + y);
  const auto sources = extract_sources(image, nullptr, 1.0);
  ASSERT_EQ(sources.size(), 1u);
  // The 3x3 detection filter spreads the square's edge by one pixel on each side.
  EXPECT_EQ(sources[0].npix, 702 * 702);
  EXPECT_NEAR(sources[0].x, 499.5, 0.5);
}

TEST(Extract, RejectsAZeroNoiseLevelAndAMismatchedMask) {
  const Image image(10, 10);
  EXPECT_THROW(extract_sources(image, nullptr, 0.0), ExtractionError);
  const std::vector<std::uint8_t> mask(5, 0);
  EXPECT_THROW(extract_sources(image, &mask, 1.0), ExtractionError);
}

}  // namespace
}  // namespace tianyu::pipeline
