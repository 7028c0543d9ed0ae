#include "pipeline/stacking/stack_node.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "pipeline/parallel.h"

namespace tianyu::pipeline {
namespace {

// A child's rows [first, first + image height) of a frame `frame_height` rows tall: every row
// index below is the frame's own, so whole and banded stacks run the same arithmetic.
struct ChildRows {
  const StackInput& in;
  int first;
  int frame_height;
  int index;

  const float* row(int y) const { return in.image->row(y - first); }
  const std::uint8_t* mask_row(int y) const {
    return in.mask ? in.mask->data() + static_cast<std::size_t>(y - first) * in.image->width : nullptr;
  }
  // A row the output band reads must be in the child's band: anything else is a caller's bug
  // (frame_rows_for_band gives the rows), never silently a wrong pixel.
  void require(int y) const {
    if (y < first || y >= first + in.image->height) {
      throw StackError("stack input " + std::to_string(index) + ": its band (rows " + std::to_string(first) +
                       ".." + std::to_string(first + in.image->height) + ") lacks row " + std::to_string(y));
    }
  }
};

// The output band: rows [y0, y0 + sum.height) of the grid.
struct BandOut {
  Image& sum;
  Image& weights;
  int y0;
};

void check(const StackBandInput& b, int width, int y0, int rows, std::size_t i) {
  const StackInput& in = b.input;
  if (!in.image) throw StackError("stack input " + std::to_string(i) + " has no image");
  const bool node = in.weight_map != nullptr;
  // A frame may differ in size from the reference; a node lives on the reference grid.
  if (node && (in.image->width != width || in.image->height != rows || in.weight_map->width != width ||
               in.weight_map->height != rows || b.first_row != y0)) {
    throw StackError("stack node input " + std::to_string(i) + " is not on rows " + std::to_string(y0) + ".." +
                     std::to_string(y0 + rows) + " of the " + std::to_string(width) + "-wide grid");
  }
  if (in.mask && in.mask->size() != in.image->pixels.size()) {
    throw StackError("stack input " + std::to_string(i) + ": mask and image differ in size");
  }
}

// A translated frame, row by row: the sample offsets are the same for every pixel, so the
// range of x whose neighbours lie on the frame is found once per row and the inner loop is
// plain arithmetic (the general path below costs about three times as much).
void add_translated_frame(const ChildRows& f, BandOut& out, int y0, int y1) {
  const StackInput& in = f.in;
  const int frame_width = in.image->width;
  const double fx = std::floor(in.transform.dx), fy = std::floor(in.transform.dy);
  const float tx = static_cast<float>(in.transform.dx - fx), ty = static_cast<float>(in.transform.dy - fy);
  const int ix = static_cast<int>(fx), iy = static_cast<int>(fy);
  // Exact integer shifts take one pixel; otherwise all four neighbours must be good (a pixel
  // half off the frame is not covered).
  const int reach_x = tx > 0 ? 1 : 0, reach_y = ty > 0 ? 1 : 0;
  const int x_begin = std::max(0, -ix), x_end = std::min(out.sum.width, frame_width - reach_x - ix);
  const float w = static_cast<float>(in.weight);
  const float w00 = (1 - tx) * (1 - ty), w10 = tx * (1 - ty), w01 = (1 - tx) * ty, w11 = tx * ty;
  for (int y = y0; y < y1; ++y) {
    const int sy = y + iy;
    if (sy < 0 || sy + reach_y >= f.frame_height || x_begin >= x_end) continue;
    f.require(sy);
    f.require(sy + reach_y);
    const float* r0 = f.row(sy) + ix;
    const float* r1 = f.row(sy + reach_y) + ix;
    const std::uint8_t* m0 = in.mask ? f.mask_row(sy) + ix : nullptr;
    const std::uint8_t* m1 = in.mask ? f.mask_row(sy + reach_y) + ix : nullptr;
    float* sum_row = out.sum.row(y - out.y0);
    float* weight_row = out.weights.row(y - out.y0);
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
void add_frame(const ChildRows& f, BandOut& out, int y0, int y1) {
  const StackInput& in = f.in;
  if (in.transform.is_translation()) {
    add_translated_frame(f, out, y0, y1);
    return;
  }
  const int frame_width = in.image->width;
  const FrameTransform& t = in.transform;
  auto good = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= frame_width || y >= f.frame_height) return false;
    f.require(y);
    return !in.mask || f.mask_row(y)[x] == 0;
  };
  auto at = [&](int x, int y) { return f.row(y)[x]; };
  const float w = static_cast<float>(in.weight);
  for (int y = y0; y < y1; ++y) {
    float* sum_row = out.sum.row(y - out.y0);
    float* weight_row = out.weights.row(y - out.y0);
    for (int x = 0; x < out.sum.width; ++x) {
      const auto [px, py] = t.apply(x, y);
      const double fx = std::floor(px), fy = std::floor(py);
      const double tx = px - fx, ty = py - fy;
      const int sx = static_cast<int>(fx), sy = static_cast<int>(fy);
      if (!good(sx, sy) || !good(sx + 1, sy) || !good(sx, sy + 1) || !good(sx + 1, sy + 1)) continue;
      const double value = (1 - tx) * (1 - ty) * at(sx, sy) + tx * (1 - ty) * at(sx + 1, sy) +
                           (1 - tx) * ty * at(sx, sy + 1) + tx * ty * at(sx + 1, sy + 1);
      sum_row[x] += static_cast<float>(w * value);
      weight_row[x] += w;
    }
  }
}

// A node child's band is the output band's rows (check() made sure).
void add_node(const StackInput& in, BandOut& out, int y0, int y1) {
  const std::size_t begin = static_cast<std::size_t>(y0 - out.y0) * out.sum.width;
  const std::size_t end = static_cast<std::size_t>(y1 - out.y0) * out.sum.width;
  for (std::size_t p = begin; p < end; ++p) {
    const float w = in.weight_map->pixels[p];
    if (w <= 0) continue;
    out.sum.pixels[p] += w * in.image->pixels[p];
    out.weights.pixels[p] += w;
  }
}

}  // namespace

Stack stack_band(const std::vector<StackBandInput>& children, int width, int height, int y0, int rows,
                 int threads) {
  if (width <= 0 || height <= 0) throw StackError("stack grid must be non-empty");
  if (y0 < 0 || rows <= 0 || y0 + rows > height) {
    throw StackError("stack band rows " + std::to_string(y0) + ".." + std::to_string(y0 + rows) +
                     " are outside the grid of height " + std::to_string(height));
  }
  for (std::size_t i = 0; i < children.size(); ++i) check(children[i], width, y0, rows, i);
  Stack out{Image(width, rows), Image(width, rows)};
  BandOut band{out.image, out.weight_map, y0};
  // Children are added in their order within each row, so every pixel sums in the same order
  // whatever the split into threads or bands.
  parallel_rows(rows, threads, [&](int r0, int r1) {
    for (std::size_t i = 0; i < children.size(); ++i) {
      const StackInput& in = children[i].input;
      if (in.weight_map) {
        add_node(in, band, y0 + r0, y0 + r1);
      } else if (in.weight > 0) {
        const ChildRows f{in, children[i].first_row, children[i].frame_height, static_cast<int>(i)};
        add_frame(f, band, y0 + r0, y0 + r1);
      }
    }
    const std::size_t end = static_cast<std::size_t>(r1) * width;
    for (std::size_t p = static_cast<std::size_t>(r0) * width; p < end; ++p) {
      const float w = out.weight_map.pixels[p];
      out.image.pixels[p] = w > 0 ? out.image.pixels[p] / w : 0.0f;
    }
  });
  return out;
}

Stack stack_node(const std::vector<StackInput>& children, int width, int height, int threads) {
  std::vector<StackBandInput> whole;
  whole.reserve(children.size());
  for (const auto& c : children) whole.push_back({c, 0, c.image ? c.image->height : 0});
  return stack_band(whole, width, height, 0, height, threads);
}

RowRange frame_rows_for_band(const FrameTransform& t, int width, int y0, int y1, int frame_height) {
  // The map is affine, so a band's rows land between its corners' rows.
  double lowest = 0, highest = 0;
  bool first = true;
  for (const double x : {0.0, static_cast<double>(width - 1)}) {
    for (const double y : {static_cast<double>(y0), static_cast<double>(y1 - 1)}) {
      const double py = t.apply(x, y).second;
      lowest = first ? py : std::min(lowest, py);
      highest = first ? py : std::max(highest, py);
      first = false;
    }
  }
  // floor(py) and the row below it for bilinear, and one row each side: points between the
  // corners are rounded separately and may land a hair outside them.
  const double begin = std::floor(lowest) - 1, end = std::floor(highest) + 3;
  RowRange r;
  r.first = static_cast<int>(std::clamp(begin, 0.0, static_cast<double>(frame_height)));
  r.end = static_cast<int>(std::clamp(end, static_cast<double>(r.first), static_cast<double>(frame_height)));
  return r;
}

}  // namespace tianyu::pipeline
