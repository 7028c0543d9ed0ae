#pragma once
// A science frame SEP cannot extract after calibration: a vertical stripe 40 px wide (narrower
// than one 64-px background tile, so the 3x3-tile median background ignores it) of stars on a
// 3-px grid standing on a pedestal well above the detection threshold. The whole stripe is one
// object with about 2,400 peaks, more than SEP's 1,024 sub-objects when deblending (the
// deblending-overflow frame of tests/pipeline/detection, made to survive the calibration's
// background subtraction). The frame is tall and narrow (256 x 2048) so the stripe holds
// 7 x 341 stars; each is a separate island of at least SEP's minimum area at the upper
// deblending thresholds.
#include <cmath>
#include <cstdint>

#include "pipeline/image.h"

namespace tianyu::safety {

inline pipeline::Image sep_overflow_frame(int width = 256, int height = 2048) {
  pipeline::Image image(width, height);
  std::uint32_t state = 12345;  // deterministic sky noise (sum of 4 uniforms, sigma ~3 ADU)
  auto noise = [&] {
    double sum = 0;
    for (int k = 0; k < 4; ++k) {
      state = state * 1664525u + 1013904223u;
      sum += (state >> 8) / double(1 << 24) - 0.5;
    }
    return sum * 5.2;
  };
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double v = 1000 + noise();
      if (x >= 72 && x < 112) {
        const int cx = (x - 72) / 6 * 6 + 75, cy = y / 6 * 6 + 3;
        const double r2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
        v += 60 + 300 * std::exp(-r2 / 2);
      }
      image.at(x, y) = static_cast<float>(v);
    }
  }
  return image;
}

}  // namespace tianyu::safety
