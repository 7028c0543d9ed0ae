// The threaded background model against SEP itself: every field of the sep_bkg, bit for bit,
// and every background-subtracted row, on frames that exercise each map-wide step SEP runs
// after measuring its tiles (bad-tile replacement and its ties, the median filter with and
// without a threshold, the global rms fallback, ragged last tiles).
#include "pipeline/calibration/background_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstring>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "pipeline/calibration/calibrate.h"

namespace tianyu::pipeline {
namespace {

using Mask = std::vector<std::uint8_t>;

// Gaussian sky of `level` and `noise` with a gradient, plus `stars` Gaussian stars (FWHM ~3.5 px).
Image star_field(int w, int h, unsigned seed, int stars, float level = 1000, float noise = 10) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> gauss(0.0f, noise);
  Image image(w, h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) image.at(x, y) = level + 0.05f * x + 0.03f * y + gauss(rng);
  }
  std::uniform_real_distribution<float> where(0.0f, 1.0f);
  std::lognormal_distribution<float> peak(5.0f, 1.5f);
  for (int s = 0; s < stars; ++s) {
    const float cx = where(rng) * w, cy = where(rng) * h, top = peak(rng);
    for (int y = std::max(0, int(cy) - 8); y < std::min(h, int(cy) + 9); ++y) {
      for (int x = std::max(0, int(cx) - 8); x < std::min(w, int(cx) + 9); ++x) {
        const float r2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
        image.at(x, y) += top * std::exp(-r2 / (2 * 1.5f * 1.5f));
      }
    }
  }
  return image;
}

// Saturated stars and a sprinkling of hot pixels, as the calibration masks them.
Mask star_mask(const Image& image, unsigned seed) {
  Mask mask(image.pixels.size(), 0);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> anywhere(0, mask.size() - 1);
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = image.pixels[i] > 3000 ? kSaturated : 0;
  for (std::size_t k = 0; k < mask.size() / 1000; ++k) mask[anywhere(rng)] |= kHot;
  return mask;
}

void mask_block(Mask& mask, int width, int x0, int y0, int x1, int y1) {
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) mask[static_cast<std::size_t>(y) * width + x] = kBadFlat;
  }
}

struct Settings {
  int box_w = 64, box_h = 64, filter_w = 3, filter_h = 3;
  double fthresh = 0.0;
};

sep_support::Background sep_reference(const Image& image, const Mask* mask, const Settings& s) {
  sep_image view = sep_support::view(image, mask);
  sep_bkg* raw = nullptr;
  const int status = sep_background(&view, s.box_w, s.box_h, s.filter_w, s.filter_h, s.fthresh, &raw);
  sep_support::Background out(raw);
  EXPECT_EQ(status, 0) << sep_support::describe("sep_background", status);
  return out;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

// Index of the first value whose bits differ, or -1.
int first_difference(const float* want, const float* got, int n) {
  for (int i = 0; i < n; ++i) {
    if (!same_bits(want[i], got[i])) return i;
  }
  return -1;
}

void expect_same_model(const sep_bkg& want, const sep_bkg& got) {
  ASSERT_EQ(want.w, got.w);
  ASSERT_EQ(want.h, got.h);
  ASSERT_EQ(want.bw, got.bw);
  ASSERT_EQ(want.bh, got.bh);
  ASSERT_EQ(want.nx, got.nx);
  ASSERT_EQ(want.ny, got.ny);
  ASSERT_EQ(want.n, got.n);
  EXPECT_TRUE(same_bits(want.global, got.global)) << want.global << " vs " << got.global;
  EXPECT_TRUE(same_bits(want.globalrms, got.globalrms)) << want.globalrms << " vs " << got.globalrms;
  const std::pair<const char*, std::pair<const float*, const float*>> maps[] = {
      {"back", {want.back, got.back}}, {"dback", {want.dback, got.dback}},
      {"sigma", {want.sigma, got.sigma}}, {"dsigma", {want.dsigma, got.dsigma}}};
  for (const auto& [name, arrays] : maps) {
    const int at = first_difference(arrays.first, arrays.second, want.n);
    EXPECT_EQ(at, -1) << name << "[" << at << "] = " << (at >= 0 ? arrays.first[at] : 0) << " vs "
                      << (at >= 0 ? arrays.second[at] : 0);
  }
}

// sep_bkg_subline on every row of the frame, through both models.
void expect_same_rows(const Image& image, const sep_bkg& want, const sep_bkg& got) {
  for (int y = 0; y < image.height; ++y) {
    std::vector<float> a(image.row(y), image.row(y) + image.width), b = a;
    ASSERT_EQ(sep_bkg_subline(&want, y, a.data(), SEP_TFLOAT), 0);
    ASSERT_EQ(sep_bkg_subline(&got, y, b.data(), SEP_TFLOAT), 0);
    const int at = first_difference(a.data(), b.data(), image.width);
    ASSERT_EQ(at, -1) << "row " << y << " column " << at;
  }
}

// The model on 1, 2, 3, 4, 7 and one-per-core threads is SEP's, field by field and row by row.
void expect_sep_on_every_thread_count(const Image& image, const Mask* mask, const Settings& s = {}) {
  const auto want = sep_reference(image, mask, s);
  ASSERT_TRUE(want);
  for (int threads : {1, 2, 3, 4, 7, 0}) {  // 0: one per core
    SCOPED_TRACE("threads " + std::to_string(threads));
    const auto got = model_background(image, mask, s.box_w, s.box_h, s.filter_w, s.filter_h, s.fthresh, threads);
    ASSERT_TRUE(got);
    expect_same_model(*want, *got);
    expect_same_rows(image, *want, *got);
  }
}

int count_bad(const Image& image, const Mask* mask, const Settings& s) {
  const auto bad = background_detail::unusable_tiles(image, mask, s.box_w, s.box_h);
  return static_cast<int>(std::count(bad.begin(), bad.end(), 1));
}

TEST(BackgroundModel, StarFieldOfACalibratedFrameSize) {
  const Image image = star_field(2048, 2048, 1, 3000);
  const Mask mask = star_mask(image, 2);
  expect_sep_on_every_thread_count(image, &mask);
}

TEST(BackgroundModel, RaggedFrameWithoutAMask) {
  // 1000 = 15 * 64 + 40 and 777 = 12 * 64 + 9: the last tile column and row are short.
  expect_sep_on_every_thread_count(star_field(1000, 777, 3, 800), nullptr);
}

TEST(BackgroundModel, EveryFilterSizeWithAndWithoutAThreshold) {
  const Image image = star_field(1000, 777, 4, 1500);
  const Mask mask = star_mask(image, 5);
  for (int filter : {1, 3, 5}) {
    for (double fthresh : {0.0, 0.5, 3.0}) {
      SCOPED_TRACE("filter " + std::to_string(filter) + " fthresh " + std::to_string(fthresh));
      Settings s;
      s.filter_w = s.filter_h = filter;
      s.fthresh = fthresh;
      expect_sep_on_every_thread_count(image, &mask, s);
    }
  }
}

TEST(BackgroundModel, UnequalTilesAndFilter) {
  const Image image = star_field(1000, 777, 6, 800);
  const Mask mask = star_mask(image, 7);
  Settings s;
  s.box_w = 48;
  s.box_h = 80;
  s.filter_w = 5;
  s.filter_h = 3;
  s.fthresh = 1.0;
  expect_sep_on_every_thread_count(image, &mask, s);
}

TEST(BackgroundModel, MaskedBlockAndHalfMaskedTiles) {
  const Image image = star_field(1000, 777, 8, 800);
  Mask mask = star_mask(image, 9);
  // Tiles x 2..5, y 3..7: crosses the band boundaries; its inner tiles' nearest good tiles tie.
  mask_block(mask, image.width, 128, 192, 384, 512);
  // Exactly half of a tile usable (kept), and one pixel less (discarded); no other mask here,
  // so the counts are exact.
  Mask halves(mask.size(), 0);
  mask_block(halves, image.width, 128, 192, 384, 512);
  mask_block(halves, image.width, 640, 64, 704, 96);  // tile (10, 1): 2048 of 4096 masked
  mask_block(halves, image.width, 704, 64, 768, 96);  // tile (11, 1)...
  halves[static_cast<std::size_t>(100) * image.width + 740] = kHot;  // ...and one more
  const Settings s;
  const auto bad = background_detail::unusable_tiles(image, &halves, s.box_w, s.box_h);
  EXPECT_EQ(bad[1 * 16 + 10], 0);
  EXPECT_EQ(bad[1 * 16 + 11], 1);
  EXPECT_EQ(count_bad(image, &halves, s), 4 * 5 + 1);
  expect_sep_on_every_thread_count(image, &halves);
  EXPECT_EQ(count_bad(image, &mask, s), 4 * 5);
  expect_sep_on_every_thread_count(image, &mask);
}

TEST(BackgroundModel, EveryTileOfTheFirstBandsBad) {
  const Image image = star_field(1000, 777, 10, 800);
  Mask mask = star_mask(image, 11);
  mask_block(mask, image.width, 0, 0, image.width, 6 * 64);  // tile rows 0..5: all of band 0 for 2 threads
  EXPECT_EQ(count_bad(image, &mask, {}), 6 * 16);
  expect_sep_on_every_thread_count(image, &mask);
}

TEST(BackgroundModel, MostlyConstantFrameTakesTheMedianOfThePositiveRms) {
  // 8 of 13 tile rows constant (rms 0): the median rms is 0, so SEP takes the positive ones'.
  Image image = star_field(1000, 777, 12, 0);
  for (int y = 0; y < 8 * 64; ++y) {
    for (int x = 0; x < image.width; ++x) image.at(x, y) = 250.0f;
  }
  const auto want = sep_reference(image, nullptr, {});
  EXPECT_NEAR(want->globalrms, 10.0, 0.5);
  expect_sep_on_every_thread_count(image, nullptr);
}

TEST(BackgroundModel, ConstantFrameHasUnitRms) {
  const Image image(1000, 777, 42.0f);
  const auto want = sep_reference(image, nullptr, {});
  EXPECT_EQ(want->global, 42.0f);
  EXPECT_EQ(want->globalrms, 1.0f);
  expect_sep_on_every_thread_count(image, nullptr);
}

TEST(BackgroundModel, NonFiniteAndExtremePixels) {
  Image image = star_field(1000, 777, 13, 400);
  image.at(10, 10) = std::nanf("");
  image.at(500, 300) = -std::numeric_limits<float>::infinity();
  image.at(600, 700) = -1e30f;  // at SEP's "no value": not counted
  expect_sep_on_every_thread_count(image, nullptr);
  image.at(300, 400) = 1e20f;  // so large that its tile's own level is far off: replaced or not, as SEP
  expect_sep_on_every_thread_count(image, nullptr);
}

TEST(BackgroundModel, FlatSkyGivesItsLevelAndNoise) {
  const Image image = star_field(1024, 1024, 14, 0, 500.0f, 20.0f);
  Image flat = image;  // the gradient removed: a level of exactly 500
  for (int y = 0; y < flat.height; ++y) {
    for (int x = 0; x < flat.width; ++x) flat.at(x, y) -= 0.05f * x + 0.03f * y;
  }
  const auto model = model_background(flat, nullptr, 64, 64, 3, 3, 0.0, 2);
  EXPECT_NEAR(model->global, 500.0, 0.01 * 500.0);
  // SEP clips its histogram at 3 of its own sigmas until they converge: for a Gaussian that is
  // the sigma of one truncated at +-2.954 of its estimate, s = 0.98485 S (s^2 = 1 - 2a phi(a) /
  // (2 Phi(a) - 1), a = 3s), not S itself.
  EXPECT_NEAR(model->globalrms, 0.98485 * 20.0, 0.01 * 0.98485 * 20.0);
  EXPECT_NEAR(model->globalrms, 20.0, 0.02 * 20.0);
}

TEST(BackgroundModel, RejectsAMaskOfAnotherSize) {
  const Image image(100, 100, 1.0f);
  const Mask mask(99 * 100, 0);
  try {
    model_background(image, &mask, 64, 64, 3, 3, 0.0, 2);
    FAIL() << "no error";
  } catch (const CalibrationError& e) {
    EXPECT_FALSE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("mask"), std::string::npos) << e.what();
  }
}

// SEP's own verdict on a tile, seen through the value it reports: a discarded tile at level
// 5000 takes its good neighbours' level of 100.
bool sep_discards(const Image& image, const Mask& mask, int tile) {
  const auto model = sep_reference(image, &mask, {64, 64, 1, 1, 0.0});
  return model->back[tile] < 1000;
}

TEST(BackgroundModel, HalfUsableTileIsKeptOneLessIsDiscarded) {
  // 101 x 93 px in 64-px tiles: 64x64, 37x64, 64x29 and 37x29 (odd area) tiles.
  const int tiles[][4] = {{1, 64, 0, 37}, {2, 0, 64, 64}, {3, 64, 64, 37}};  // tile, x0, y0, width
  for (const auto& [tile, x0, y0, width] : tiles) {
    const int height = tile >= 2 ? 29 : 64, area = width * height;
    for (int usable : {(area + 1) / 2, (area + 1) / 2 - 1}) {
      SCOPED_TRACE("tile " + std::to_string(tile) + " usable " + std::to_string(usable) + " of " + std::to_string(area));
      Image image = star_field(101, 93, 15, 0, 100.0f, 5.0f);
      Mask mask(image.pixels.size(), 0);
      for (int k = 0; k < area; ++k) {
        const int x = x0 + k % width, y = y0 + k / width;
        image.at(x, y) += 4900.0f;
        if (k >= usable + 1) mask[static_cast<std::size_t>(y) * image.width + x] = kBadFlat;
      }
      image.at(x0, y0) = std::nanf("");  // not usable either, though unmasked
      const bool kept = usable >= (area + 1) / 2;
      EXPECT_EQ(sep_discards(image, mask, tile), !kept);
      EXPECT_EQ(background_detail::unusable_tiles(image, &mask, 64, 64)[tile], !kept);
    }
  }
}

}  // namespace
}  // namespace tianyu::pipeline
