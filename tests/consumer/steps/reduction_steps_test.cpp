// The reduction adapters (masters, calibrate, align, select_frames) against the in-memory
// observation store and a temporary site root: no database, no broker.
#include <algorithm>
#include <cmath>
#include <string>

#include "consumer/steps/observation_io.h"
#include "consumer/steps/step_test_fixture.h"
#include "pipeline/calibration/calibrate.h"
#include "pipeline/fits_io.h"

namespace tianyu::consumer::steps::test {
namespace {

// A staged product as the next process finds it among its dependencies' products.
ImageProduct as_dependency(const ImageProductRecord& r) {
  auto p = r.product;
  p.process_id = r.process_id;
  return p;
}

pipeline::Image constant(int w, int h, float value) {
  pipeline::Image image(w, h);
  std::fill(image.pixels.begin(), image.pixels.end(), value);
  return image;
}

// The dark's exposure is frame_calibration's (10 s), not the header's EXPTIME (1 s, wrong).
TEST_F(StepTest, MasterDarkScalesByFrameCalibrationExposureNotTheHeader) {
  for (std::uint64_t i = 1; i <= 3; ++i) add_raw(1, i, constant(32, 32, 100), i, {}, "bias");
  FrameCalibration ten_seconds;
  ten_seconds.exptime_s = 10;
  for (std::uint64_t i = 4; i <= 6; ++i) {
    add_raw(1, i, constant(32, 32, 100 + 5 * 10), i, ten_seconds, "dark", {{"EXPTIME", 1.0, "wrong on purpose"}});
  }
  run("master_bias", 1, {{"observation_id", 1}});
  ASSERT_EQ(db_.image_products.size(), 1u);
  db_.dependencies[2] = {{"master_bias", as_dependency(db_.image_products[0])}};
  run("master_dark", 2, {{"observation_id", 1}});
  ASSERT_EQ(db_.image_products.size(), 2u);
  const auto& dark = db_.image_products[1];
  EXPECT_EQ(dark.kind, "master_dark");
  EXPECT_EQ(dark.product.frames, 3);
  EXPECT_EQ(dark.product.path, "products/obs1/masters/master_dark.p2a1.fits");
  const auto rate = pipeline::read_fits(root_ / dark.product.path).image;
  EXPECT_NEAR(rate.pixels[32 * 16 + 16], 5.0, 1e-4);  // (150 - 100) ADU / 10 s
}

TEST_F(StepTest, MasterDarkWithoutExposureIsBadInputNamingTheFrame) {
  add_raw(1, 4, constant(32, 32, 150), 1, {}, "dark");
  try {
    run("master_dark", 2, {{"observation_id", 1}});
    FAIL() << "a dark without an exposure time was combined";
  } catch (const Failure& e) {
    EXPECT_FALSE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("frame 4 (raw/f4.fits) has no exposure time"), std::string::npos) << e.what();
  }
}

// frame_calibration's saturation (50000) masks the five pixels at 60000, which the default
// (65000) would not.
TEST_F(StepTest, CalibrateMasksAboveFrameCalibrationSaturationAndStagesAttemptNamedProduct) {
  auto image = star_field(64, 64, some_stars(6, 64, 64));
  const int hot[5][2] = {{3, 3}, {60, 4}, {10, 55}, {40, 40}, {58, 58}};
  for (const auto& p : hot) image.pixels[static_cast<std::size_t>(p[1]) * 64 + p[0]] = 60000;
  FrameCalibration values;
  values.exptime_s = 10;
  values.saturation_adu = 50000;
  add_raw(1, 11, image, 1.0, values);
  const auto ctx = run("calibrate", 7, {{"observation_id", 1}, {"frame_id", 11}});

  ASSERT_EQ(db_.image_products.size(), 1u);
  const auto& r = db_.image_products[0];
  EXPECT_EQ(r.kind, "calibrated");
  EXPECT_EQ(r.process_id, 7u);
  EXPECT_EQ(r.product.frame_id, 11u);
  EXPECT_EQ(r.product.path, "products/obs1/calibrated/11.p7a1.fits");
  EXPECT_EQ(r.product.mask_path, "products/obs1/calibrated/11.p7a1.mask.fits");
  EXPECT_EQ(ctx.written.size(), 3u);
  ASSERT_TRUE(r.masked_pixels.has_value());
  EXPECT_EQ(*r.masked_pixels, 5u);
  const auto mask = read_mask(root_ / r.product.mask_path, 64, 64);
  for (const auto& p : hot) EXPECT_EQ(mask[static_cast<std::size_t>(p[1]) * 64 + p[0]], pipeline::kSaturated);
  EXPECT_NEAR(*r.background_adu, 1000, 5);
}

class AlignTest : public StepTest {
 protected:
  // Frames 1 (earlier) and 2 (the same stars shifted by (3.4, -2.3)) calibrated by processes 11
  // and 12; the align processes depend on both (frame 2's product listed first).
  void calibrate_pair() {
    const auto stars = some_stars(25, 128, 128);
    auto shifted = stars;
    for (auto& s : shifted) s.x += 3.4, s.y -= 2.3;
    add_raw(1, 1, star_field(128, 128, stars, 1000, 1), 1.0, {10, {}, {}, {}});
    add_raw(1, 2, star_field(128, 128, shifted, 1000, 2), 2.0, {10, {}, {}, {}});
    run("calibrate", 12, {{"observation_id", 1}, {"frame_id", 2}});
    run("calibrate", 11, {{"observation_id", 1}, {"frame_id", 1}});
    for (std::uint64_t p : {21, 22, 23}) {
      for (const auto& r : db_.image_products) db_.dependencies[p].push_back({"calibrated", as_dependency(r)});
    }
  }
};

TEST_F(AlignTest, EarliestCalibratedDependencyIsTheReferenceAndTheShiftIsFound) {
  calibrate_pair();
  run("align", 22, {{"observation_id", 1}, {"frame_id", 2}});
  run("align", 21, {{"observation_id", 1}, {"frame_id", 1}});
  ASSERT_EQ(db_.frame_quality_records.size(), 2u);
  const auto& second = db_.frame_quality_records[0];
  EXPECT_EQ(second.frame_id, 2u);
  EXPECT_EQ(second.process_id, 22u);
  ASSERT_TRUE(second.alignment.aligned) << second.alignment.reason;
  EXPECT_NEAR(second.alignment.transform.dx, 3.4, 0.05);
  EXPECT_NEAR(second.alignment.transform.dy, -2.3, 0.05);
  EXPECT_EQ(second.star_count, 25u);
  const auto& first = db_.frame_quality_records[1];  // the reference onto itself
  EXPECT_NEAR(first.alignment.transform.dx, 0.0, 1e-6);
  EXPECT_NEAR(first.alignment.transform.dy, 0.0, 1e-6);
}

TEST_F(AlignTest, FrameMissingFromDependencyProductsIsPermanentAndNamed) {
  calibrate_pair();
  add_raw(1, 3, star_field(128, 128, {}, 1000, 3), 3.0);
  try {
    run("align", 23, {{"observation_id", 1}, {"frame_id", 3}});
    FAIL() << "aligned a frame that has no calibrated product";
  } catch (const Failure& e) {
    EXPECT_FALSE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("no calibrated frame or minute stack of frame 3"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(db_.frame_quality_records.empty());
}

TEST_F(StepTest, SelectFramesStagesOneVerdictPerAlignedFrame) {
  pipeline::FrameQuality ok{40, 5.0, true, "", 1.0, 0.0};
  pipeline::FrameQuality lost{2, 5.0, false, "too few stars", 0.0, 0.0};
  db_.quality[1] = {{1, ok}, {2, ok}, {3, lost}, {4, ok}};
  run("select_frames", 30, {{"observation_id", 1}});
  ASSERT_EQ(db_.verdicts.size(), 4u);
  EXPECT_EQ(db_.verdicts[2].frame_id, 3u);
  EXPECT_FALSE(db_.verdicts[2].good);
  EXPECT_FALSE(db_.verdicts[2].rejected_reason.empty());
  EXPECT_EQ(std::count_if(db_.verdicts.begin(), db_.verdicts.end(), [](auto& v) { return v.good; }), 3);
}

}  // namespace
}  // namespace tianyu::consumer::steps::test
