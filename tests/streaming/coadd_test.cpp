// The minute co-add against analytic truth: N identical frames sum to N times the calibrated
// frame (the formula of pipeline/calibration), a star's flux in the stack is the sum of its
// per-frame fluxes, the exposure map counts frames and pixels left out, and bad frames are
// refused naming the frame and the field without touching the minute.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "pipeline/streaming/minute_coadd.h"
#include "streaming/minute_fixture.h"

namespace tianyu::pipeline::streaming {
namespace {

using testing::aperture_flux;
using testing::masters_of;
using testing::small_minute;
using testing::view;

TEST(MinuteCoadd, IdenticalFramesSumToNTimesTheCalibratedFrame) {
  const ShortMinute minute(small_minute(1, false), false);
  std::vector<std::uint16_t> raw;
  minute.render(0, raw);
  MinuteCoadd coadd(minute.width(), minute.height(), minute.exptime_s(), masters_of(minute), {.threads = 2});
  constexpr int kFrames = 7;
  for (int k = 0; k < kFrames; ++k) coadd.add(view(raw, minute, k));
  const MinuteStack stack = coadd.finish();

  // The same frame through the long-exposure calibration, sky kept.
  Image as_float(minute.width(), minute.height());
  for (std::size_t i = 0; i < raw.size(); ++i) as_float.pixels[i] = raw[i];
  CalibrationOptions options;
  options.subtract_background = false;
  const Masters masters = masters_of(minute);
  const CalibratedFrame one = calibrate(as_float, minute.exptime_s(), masters, options);
  std::size_t compared = 0, masked = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (one.mask[i]) {
      ++masked;
      EXPECT_EQ(stack.sum.pixels[i], 0.0f) << "pixel " << i;
      EXPECT_EQ(stack.exposure_s.pixels[i], 0.0f) << "pixel " << i;
      continue;
    }
    ++compared;
    ASSERT_NEAR(stack.sum.pixels[i], kFrames * one.image.pixels[i], 1e-5 * std::abs(kFrames * one.image.pixels[i]) + 1e-3)
        << "pixel " << i;
    ASSERT_FLOAT_EQ(stack.exposure_s.pixels[i], static_cast<float>(kFrames * minute.exptime_s())) << "pixel " << i;
  }
  EXPECT_EQ(masked, 6u);  // the six hot pixels, nothing saturated without noise at mag 9
  EXPECT_EQ(stack.pixels_left_out, masked * kFrames);
  EXPECT_EQ(stack.frames, kFrames);
  for (const auto& s : stack.shifts) EXPECT_EQ(s.ix * s.ix + s.iy * s.iy, 0);
}

TEST(MinuteCoadd, StarFluxInTheStackIsTheSumOfItsPerFrameFluxes) {
  constexpr int kFrames = 24;
  auto config = small_minute(kFrames);
  config.drift_x_px = 0.15;  // 3.5 px over the frames: the co-add must follow the star
  config.drift_y_px = -0.1;
  config.stars = 30;  // a sparse field: a bright star with its aperture and sky to itself
  const ShortMinute minute(config);
  MinuteCoadd coadd(minute.width(), minute.height(), minute.exptime_s(), masters_of(minute), {.threads = 2});
  // The brightest star well inside the frame with no star above 1 % of its light within 30 px.
  const MinuteStar* star = nullptr;
  for (const auto& s : minute.stars()) {
    const bool inside = s.x > 30 && s.x < 220 && s.y > 30 && s.y < 220;
    bool alone = true;
    for (const auto& o : minute.stars()) {
      alone = alone && (&o == &s || std::hypot(o.x - s.x, o.y - s.y) > 30 || o.electrons < 0.01 * s.electrons);
    }
    if (inside && alone && (!star || s.electrons > star->electrons)) star = &s;
  }
  ASSERT_NE(star, nullptr);
  double per_frame_sum = 0, variance = 0;
  std::vector<std::uint16_t> raw;
  CalibrationOptions options;
  options.subtract_background = false;
  const Masters masters = masters_of(minute);
  for (int k = 0; k < kFrames; ++k) {
    minute.render(k, raw);
    coadd.add(view(raw, minute, k));
    Image as_float(minute.width(), minute.height());
    for (std::size_t i = 0; i < raw.size(); ++i) as_float.pixels[i] = raw[i];
    const auto one = calibrate(as_float, minute.exptime_s(), masters, options);
    per_frame_sum += aperture_flux(one.image, star->x + minute.true_dx(k), star->y + minute.true_dy(k), 10);
    // Photon noise of the star and the sky under the aperture, and read noise, in ADU^2.
    const double sky_e = config.sky_e_per_s * config.exptime_s;
    variance += (star->electrons + 314 * (sky_e + config.read_noise_e * config.read_noise_e)) / (config.gain * config.gain);
  }
  const MinuteStack stack = coadd.finish();
  const double in_stack = aperture_flux(stack.sum, star->x, star->y, 10);
  const double truth = kFrames * star->electrons / config.gain * 0.994;  // Moffat beta 3 within 10 px
  EXPECT_NEAR(in_stack, per_frame_sum, 3 * std::sqrt(variance) + 1e-3 * per_frame_sum);
  EXPECT_NEAR(in_stack, truth, 4 * std::sqrt(variance) + 0.01 * truth);
  EXPECT_GT(in_stack, 1000.0);  // a real star, not two zeros agreeing
}

TEST(MinuteCoadd, ExposureMapCountsTheFramesCoveringEachPixel) {
  const ShortMinute minute(small_minute(2, false), false);
  ShortMinute shifted(small_minute(2, false), false);
  shifted.set_shift(1, 4.0, -3.0);
  std::vector<std::uint16_t> raw0, raw1;
  shifted.render(0, raw0);
  shifted.render(1, raw1);
  MinuteCoadd coadd(minute.width(), minute.height(), minute.exptime_s(), masters_of(minute), {.threads = 2});
  coadd.add(view(raw0, minute, 0));
  const FrameShift s = coadd.add(view(raw1, minute, 1));
  EXPECT_EQ(s.ix, 4);
  EXPECT_EQ(s.iy, -3);
  const MinuteStack stack = coadd.finish();
  const float t = static_cast<float>(minute.exptime_s());
  // Stack pixel (X, Y) takes frame 1's (X + 4, Y - 3): the last 4 columns and first 3 rows
  // have only frame 0.
  EXPECT_FLOAT_EQ(stack.exposure_s.at(100, 100), 2 * t);
  EXPECT_FLOAT_EQ(stack.exposure_s.at(255, 100), t);
  EXPECT_FLOAT_EQ(stack.exposure_s.at(100, 2), t);
  EXPECT_FLOAT_EQ(stack.exposure_s.at(251, 3), 2 * t);
}

class RefusedFrame : public ::testing::Test {
 protected:
  RefusedFrame()
      : minute_(small_minute(2, false), false),
        coadd_(minute_.width(), minute_.height(), minute_.exptime_s(), masters_of(minute_), {.threads = 2}) {
    minute_.render(0, raw_);
    coadd_.add(view(raw_, minute_, 0));
  }
  // The error's text and field; the minute must still hold exactly one frame.
  void expect_refused(const ShortFrame& frame, const std::string& field, const std::string& words) {
    try {
      coadd_.add(frame);
      FAIL() << "accepted " << frame.name;
    } catch (const StreamingInputError& e) {
      EXPECT_EQ(e.field(), field);
      EXPECT_EQ(e.frame(), frame.name);
      EXPECT_NE(std::string(e.what()).find(frame.name), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
      EXPECT_FALSE(e.retryable());
    }
    EXPECT_EQ(coadd_.frames(), 1);
  }
  ShortMinute minute_;
  MinuteCoadd coadd_;
  std::vector<std::uint16_t> raw_;
};

TEST_F(RefusedFrame, WrongSize) {
  ShortFrame f = view(raw_, minute_, 1);
  f.width = 128;
  expect_refused(f, "width", "128 px, the minute's frames are 256 x 256");
}

TEST_F(RefusedFrame, Truncated) {
  ShortFrame f = view(raw_, minute_, 1);
  f.adu16 = f.adu16.first(256 * 200);
  expect_refused(f, "pixels", "51200 values for 256 x 256");
}

TEST_F(RefusedFrame, NotANumberPixelLeavesTheStackUntouched) {
  std::vector<float> as_float(raw_.begin(), raw_.end());
  as_float[256 * 17 + 5] = std::numeric_limits<float>::quiet_NaN();
  ShortFrame f = view(raw_, minute_, 1);
  f.adu16 = {};
  f.adu = as_float;
  expect_refused(f, "pixels", "not a number at pixel (5, 17)");
  const MinuteStack stack = coadd_.finish();
  // Only the first frame is in: a pixel's sum is one calibrated frame.
  const float t = static_cast<float>(minute_.exptime_s());
  EXPECT_FLOAT_EQ(stack.exposure_s.at(100, 100), t);
}

TEST_F(RefusedFrame, OtherExposureTime) {
  ShortFrame f = view(raw_, minute_, 1);
  f.exptime_s = 10;
  expect_refused(f, "exptime_s", "10.0");
}

TEST(MinuteCoadd, FloatFramesGiveTheSameStackAsIntegerFrames) {
  const ShortMinute minute(small_minute(3));
  MinuteCoadd as_int(minute.width(), minute.height(), minute.exptime_s(), masters_of(minute), {.threads = 2});
  MinuteCoadd as_float(minute.width(), minute.height(), minute.exptime_s(), masters_of(minute), {.threads = 1});
  std::vector<std::uint16_t> raw;
  for (int k = 0; k < 3; ++k) {
    minute.render(k, raw);
    as_int.add(view(raw, minute, k));
    const std::vector<float> values(raw.begin(), raw.end());
    ShortFrame f = view(raw, minute, k);
    f.adu16 = {};
    f.adu = values;
    as_float.add(f);
  }
  const auto a = as_int.finish(), b = as_float.finish();
  EXPECT_EQ(a.sum.pixels, b.sum.pixels);
  EXPECT_EQ(a.exposure_s.pixels, b.exposure_s.pixels);
}

TEST(MinuteCoadd, ABatchOfFramesGivesTheSameStackAsOneAtATime) {
  const ShortMinute minute(small_minute(5));
  MinuteCoadd one_by_one(minute.width(), minute.height(), minute.exptime_s(), masters_of(minute), {.threads = 2});
  MinuteCoadd batched(minute.width(), minute.height(), minute.exptime_s(), masters_of(minute), {.threads = 2});
  std::vector<std::vector<std::uint16_t>> raw(5);
  std::vector<ShortFrame> frames;
  for (int k = 0; k < 5; ++k) {
    minute.render(k, raw[k]);
    frames.push_back(view(raw[k], minute, k));
    one_by_one.add(frames.back());
  }
  batched.add(std::span<const ShortFrame>(frames).first(2));
  // A batch with a bad frame is refused whole, naming it; the minute keeps its two frames.
  auto bad = frames;
  bad[3].height = 255;
  EXPECT_THROW(batched.add(std::span<const ShortFrame>(bad).subspan(2)), StreamingInputError);
  EXPECT_EQ(batched.frames(), 2);
  batched.add(std::span<const ShortFrame>(frames).subspan(2));
  const auto a = one_by_one.finish(), b = batched.finish();
  ASSERT_EQ(a.sum.pixels.size(), b.sum.pixels.size());
  for (std::size_t i = 0; i < a.sum.pixels.size(); ++i) ASSERT_FLOAT_EQ(a.sum.pixels[i], b.sum.pixels[i]) << i;
  EXPECT_EQ(a.exposure_s.pixels, b.exposure_s.pixels);
  for (int k = 0; k < 5; ++k) EXPECT_EQ(a.shifts[k].dx, b.shifts[k].dx);
}

TEST(MinuteCoadd, FinishingAnEmptyMinuteNamesIt) {
  const ShortMinute minute(small_minute(1, false), false);
  MinuteCoadd coadd(minute.width(), minute.height(), minute.exptime_s(), masters_of(minute));
  try {
    coadd.finish();
    FAIL();
  } catch (const StreamingInputError& e) {
    EXPECT_EQ(e.field(), "frames");
  }
}

TEST(MinuteCoadd, MasterOfAnotherSizeIsNamed) {
  const ShortMinute minute(small_minute(1, false), false);
  const Image small_flat(128, 128, 1.0f);
  const Masters masters{&minute.bias(), &minute.dark_rate(), &small_flat};
  try {
    MinuteCoadd coadd(minute.width(), minute.height(), minute.exptime_s(), masters);
    FAIL();
  } catch (const CalibrationError& e) {
    EXPECT_NE(std::string(e.what()).find("the master flat is 128 x 128"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tianyu::pipeline::streaming
