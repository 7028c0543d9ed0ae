#include "pipeline/stacking/stack_node.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "pipeline/parallel.h"

namespace tianyu::pipeline {
namespace {

void check(const StackInput& in, int width, int height, std::size_t i) {
  if (!in.image) throw StackError("stack input " + std::to_string(i) + " has no image");
  const bool node = in.weight_map != nullptr;
  // A frame may differ in size from the reference; a node lives on the reference grid.
  if (node && (in.image->width != width || in.image->height != height ||
               in.weight_map->width != width || in.weight_map->height != height)) {
    throw StackError("stack node input " + std::to_string(i) + " is not on the " +
                     std::to_string(width) + " x " + std::to_string(height) + " grid");
  }
  if (in.mask && in.mask->size() != in.image->pixels.size()) {
    throw StackError("stack input " + std::to_string(i) + ": mask and image differ in size");
  }
}

// A translated frame, row by row: the sample offsets are the same for every pixel, so the
// range of x whose neighbours lie on the frame is found once per row and the inner loop is
// plain arithmetic (the general path below costs about three times as much).
void add_translated_frame(const StackInput& in, Image& sum, Image& weights, int y0, int y1) {
  const Image& f = *in.image;
  const double fx = std::floor(in.transform.dx), fy = std::floor(in.transform.dy);
  const float tx = static_cast<float>(in.transform.dx - fx), ty = static_cast<float>(in.transform.dy - fy);
  const int ix = static_cast<int>(fx), iy = static_cast<int>(fy);
  // Exact integer shifts take one pixel; otherwise all four neighbours must be good (a pixel
  // half off the frame is not covered).
  const int reach_x = tx > 0 ? 1 : 0, reach_y = ty > 0 ? 1 : 0;
  const int x_begin = std::max(0, -ix), x_end = std::min(sum.width, f.width - reach_x - ix);
  const float w = static_cast<float>(in.weight);
  const float w00 = (1 - tx) * (1 - ty), w10 = tx * (1 - ty), w01 = (1 - tx) * ty, w11 = tx * ty;
  for (int y = y0; y < y1; ++y) {
    const int sy = y + iy;
    if (sy < 0 || sy + reach_y >= f.height || x_begin >= x_end) continue;
    const float* r0 = f.row(sy) + ix;
    const float* r1 = f.row(sy + reach_y) + ix;
    const std::uint8_t* m0 = in.mask ? in.mask->data() + static_cast<std::size_t>(sy) * f.width + ix : nullptr;
    const std::uint8_t* m1 = in.mask ? in.mask->data() + static_cast<std::size_t>(sy + reach_y) * f.width + ix : nullptr;
    float* sum_row = sum.row(y);
    float* weight_row = weights.row(y);
    for (int x = x_begin; x < x_end; ++x) {
      if (m0 && (m0[x] | m0[x + reach_x] | m1[x] | m1[x + reach_x])) continue;
      const float value = w00 * r0[x] + w10 * r0[x + reach_x] + w01 * r1[x] + w11 * r1[x + reach_x];
      sum_row[x] += w * value;
      weight_row[x] += w;
    }
  }
}

// Adds a frame resampled onto the reference grid: out(x, y) takes frame(transform(x, y)),
// bilinear.
void add_frame(const StackInput& in, Image& sum, Image& weights, int y0, int y1) {
  if (in.transform.is_translation()) {
    add_translated_frame(in, sum, weights, y0, y1);
    return;
  }
  const Image& f = *in.image;
  const FrameTransform& t = in.transform;
  auto good = [&](int x, int y) {
    return x >= 0 && y >= 0 && x < f.width && y < f.height &&
           (!in.mask || (*in.mask)[static_cast<std::size_t>(y) * f.width + x] == 0);
  };
  const float w = static_cast<float>(in.weight);
  for (int y = y0; y < y1; ++y) {
    float* sum_row = sum.row(y);
    float* weight_row = weights.row(y);
    for (int x = 0; x < sum.width; ++x) {
      const auto [px, py] = t.apply(x, y);
      const double fx = std::floor(px), fy = std::floor(py);
      const double tx = px - fx, ty = py - fy;
      const int sx = static_cast<int>(fx), sy = static_cast<int>(fy);
      if (!good(sx, sy) || !good(sx + 1, sy) || !good(sx, sy + 1) || !good(sx + 1, sy + 1)) continue;
      const double value = (1 - tx) * (1 - ty) * f.at(sx, sy) + tx * (1 - ty) * f.at(sx + 1, sy) +
                           (1 - tx) * ty * f.at(sx, sy + 1) + tx * ty * f.at(sx + 1, sy + 1);
      sum_row[x] += static_cast<float>(w * value);
      weight_row[x] += w;
    }
  }
}

void add_node(const StackInput& in, Image& sum, Image& weights, int y0, int y1) {
  const std::size_t end = static_cast<std::size_t>(y1) * sum.width;
  for (std::size_t p = static_cast<std::size_t>(y0) * sum.width; p < end; ++p) {
    const float w = in.weight_map->pixels[p];
    if (w <= 0) continue;
    sum.pixels[p] += w * in.image->pixels[p];
    weights.pixels[p] += w;
  }
}

}  // namespace

Stack stack_node(const std::vector<StackInput>& children, int width, int height, int threads) {
  if (width <= 0 || height <= 0) throw StackError("stack grid must be non-empty");
  for (std::size_t i = 0; i < children.size(); ++i) check(children[i], width, height, i);
  Stack out{Image(width, height), Image(width, height)};
  // Children are added in their order within each row, so every pixel sums in the same order
  // whatever the split.
  parallel_rows(height, threads, [&](int y0, int y1) {
    for (const auto& in : children) {
      if (in.weight_map) {
        add_node(in, out.image, out.weight_map, y0, y1);
      } else if (in.weight > 0) {
        add_frame(in, out.image, out.weight_map, y0, y1);
      }
    }
    const std::size_t end = static_cast<std::size_t>(y1) * width;
    for (std::size_t p = static_cast<std::size_t>(y0) * width; p < end; ++p) {
      const float w = out.weight_map.pixels[p];
      out.image.pixels[p] = w > 0 ? out.image.pixels[p] / w : 0.0f;
    }
  });
  return out;
}

}  // namespace tianyu::pipeline
