// The simulator's "tianyu" preset as the camera runs (0.3-s frames, 174 a minute, scaled sizes
// by override) and the in-memory minute made from it.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "pipeline/sim/night.h"
#include "pipeline/streaming/short_minute.h"

namespace tianyu::pipeline::streaming {
namespace {

TEST(TianyuPreset, IsOneMinuteOfShortFrames) {
  const auto c = sim::preset("tianyu");
  EXPECT_EQ(c.width, 8120);
  EXPECT_EQ(c.height, 8120);
  EXPECT_DOUBLE_EQ(c.exptime_s, 0.3);
  EXPECT_EQ(c.frames, 174);
  EXPECT_NEAR(c.frames * (c.exptime_s + c.readout_s), 60.0, 1e-9);  // 2.9 frames a second
  EXPECT_NEAR(c.width * double(c.height) / (c.exptime_s + c.readout_s) / 1e6, 191.2, 0.1);  // Mpix/s
  sim::validate(c);
}

TEST(TianyuPreset, ScalesByOverridingTheSize) {
  const auto c = sim::apply_json(sim::preset("tianyu"), {{"width", 1024}, {"height", 768}});
  EXPECT_EQ(c.width, 1024);
  EXPECT_EQ(c.height, 768);
  EXPECT_DOUBLE_EQ(c.exptime_s, 0.3);  // the rest of the preset stays
  EXPECT_THROW(sim::apply_json(sim::preset("tianyu"), {{"width", 32}}), sim::SimConfigError);
}

TEST(ShortMinute, FramesAreReproducibleAndCarryTheStarsElectrons) {
  auto c = sim::preset("tianyu");
  c.width = c.height = 128;
  c.stars = 5;
  c.hot_pixels = 0;
  c.frames = 3;
  const ShortMinute minute(c, false);
  std::vector<std::uint16_t> a, b;
  minute.render(2, a);
  minute.render(2, b);
  EXPECT_EQ(a, b);
  // Noise-free: the calibrated light of the frame is the sky plus the stars, in ADU.
  double calibrated = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    calibrated += (a[i] - minute.bias().pixels[i] - minute.dark_rate().pixels[i] * c.exptime_s) / minute.flat().pixels[i];
  }
  double stars_e = 0;
  for (const auto& s : minute.stars()) stars_e += s.electrons;
  const double sky_e = c.sky_e_per_s * c.exptime_s * a.size();
  // Stars near the edge lose a little light off the frame: within 1 %.
  EXPECT_NEAR(calibrated * c.gain, sky_e + stars_e, 0.01 * (sky_e + stars_e));
  EXPECT_THROW(minute.render(3, a), std::out_of_range);
}

}  // namespace
}  // namespace tianyu::pipeline::streaming
