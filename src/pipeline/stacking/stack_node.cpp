#include "pipeline/stacking/stack_node.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace tianyu::pipeline {
namespace {

void check(const StackInput& in, int width, int height, std::size_t i) {
  if (!in.image) throw std::invalid_argument("stack input " + std::to_string(i) + " has no image");
  const bool node = in.weight_map != nullptr;
  // A frame may differ in size from the reference; a node lives on the reference grid.
  if (node && (in.image->width != width || in.image->height != height ||
               in.weight_map->width != width || in.weight_map->height != height)) {
    throw std::invalid_argument("stack node input " + std::to_string(i) + " is not on the " +
                                std::to_string(width) + " x " + std::to_string(height) + " grid");
  }
  if (in.mask && in.mask->size() != in.image->pixels.size()) {
    throw std::invalid_argument("stack input " + std::to_string(i) + ": mask and image differ in size");
  }
}

// Adds a frame resampled onto the reference grid: out(x, y) takes frame(x + dx, y + dy).
void add_frame(const StackInput& in, Image& sum, Image& weights) {
  const Image& f = *in.image;
  const double fx = std::floor(in.dx), fy = std::floor(in.dy);
  const double tx = in.dx - fx, ty = in.dy - fy;
  const int ix = static_cast<int>(fx), iy = static_cast<int>(fy);
  const bool integer = tx == 0.0 && ty == 0.0;
  auto good = [&](int x, int y) {
    return x >= 0 && y >= 0 && x < f.width && y < f.height &&
           (!in.mask || (*in.mask)[static_cast<std::size_t>(y) * f.width + x] == 0);
  };
  for (int y = 0; y < sum.height; ++y) {
    for (int x = 0; x < sum.width; ++x) {
      const int sx = x + ix, sy = y + iy;
      double value = 0;
      if (integer) {
        if (!good(sx, sy)) continue;
        value = f.at(sx, sy);
      } else {
        // All four neighbours must be good: a pixel half off the frame is not covered.
        if (!good(sx, sy) || !good(sx + 1, sy) || !good(sx, sy + 1) || !good(sx + 1, sy + 1)) continue;
        value = (1 - tx) * (1 - ty) * f.at(sx, sy) + tx * (1 - ty) * f.at(sx + 1, sy) +
                (1 - tx) * ty * f.at(sx, sy + 1) + tx * ty * f.at(sx + 1, sy + 1);
      }
      sum.at(x, y) += static_cast<float>(in.weight * value);
      weights.at(x, y) += static_cast<float>(in.weight);
    }
  }
}

void add_node(const StackInput& in, Image& sum, Image& weights) {
  for (std::size_t p = 0; p < sum.pixels.size(); ++p) {
    const float w = in.weight_map->pixels[p];
    if (w <= 0) continue;
    sum.pixels[p] += w * in.image->pixels[p];
    weights.pixels[p] += w;
  }
}

}  // namespace

Stack stack_node(const std::vector<StackInput>& children, int width, int height) {
  if (width <= 0 || height <= 0) throw std::invalid_argument("stack grid must be non-empty");
  Stack out{Image(width, height), Image(width, height)};
  for (std::size_t i = 0; i < children.size(); ++i) {
    const auto& in = children[i];
    check(in, width, height, i);
    if (in.weight_map) {
      add_node(in, out.image, out.weight_map);
    } else if (in.weight > 0) {
      add_frame(in, out.image, out.weight_map);
    }
  }
  for (std::size_t p = 0; p < out.image.pixels.size(); ++p) {
    const float w = out.weight_map.pixels[p];
    out.image.pixels[p] = w > 0 ? out.image.pixels[p] / w : 0.0f;
  }
  return out;
}

}  // namespace tianyu::pipeline
