#pragma once
// A 2-D image of float32 pixels in row-major order (x fastest), the pipeline's working type.
#include <cstddef>
#include <vector>

namespace tianyu::pipeline {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<float> pixels;

  Image() = default;
  Image(int w, int h, float fill = 0.0f)
      : width(w), height(h), pixels(static_cast<std::size_t>(w) * h, fill) {}
  float& at(int x, int y) { return pixels[static_cast<std::size_t>(y) * width + x]; }
  float at(int x, int y) const { return pixels[static_cast<std::size_t>(y) * width + x]; }
  float* row(int y) { return pixels.data() + static_cast<std::size_t>(y) * width; }
  const float* row(int y) const { return pixels.data() + static_cast<std::size_t>(y) * width; }
};

}  // namespace tianyu::pipeline
