#include "pipeline/stacking/banded_stack.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "pipeline/parallel.h"
#include "pipeline/streaming/minute_frame.h"

namespace tianyu::pipeline {
namespace {

bool is_node(const BandedChild& c) { return static_cast<bool>(c.weight_map); }

void check(const BandedChild& c, int width, int height, std::size_t i) {
  if (!c.image || c.width <= 0 || c.height <= 0) {
    throw StackError("banded stack input " + std::to_string(i) + " has no image");
  }
  if (is_node(c) && (c.width != width || c.height != height)) {
    throw StackError("stack node input " + std::to_string(i) + " is " + std::to_string(c.width) + " x " +
                     std::to_string(c.height) + ", not on the " + std::to_string(width) + " x " +
                     std::to_string(height) + " grid");
  }
}

// One child's rows for one band, owning what its StackBandInput points to.
struct ChildBand {
  Image image, weight_map;
  std::vector<std::uint8_t> mask;
};

// Reads what output rows [y0, y1) need of child `c` into `band`; false when the band misses it.
bool read_band(const BandedChild& c, int width, int y0, int y1, ChildBand& band, StackBandInput& in) {
  if (is_node(c)) {
    band.image = Image(c.width, y1 - y0);
    band.weight_map = Image(c.width, y1 - y0);
    c.image(y0, y1 - y0, band.image.pixels.data());
    c.weight_map(y0, y1 - y0, band.weight_map.pixels.data());
    in = {{&band.image, 1.0, {}, nullptr, &band.weight_map}, y0, c.height};
    return true;
  }
  const RowRange rows = frame_rows_for_band(c.transform, width, y0, y1, c.height);
  if (rows.end <= rows.first) return false;
  band.image = Image(c.width, rows.end - rows.first);
  c.image(rows.first, rows.end - rows.first, band.image.pixels.data());
  if (c.mask) {
    band.mask.assign(band.image.pixels.size(), 0);
    c.mask(rows.first, rows.end - rows.first, band.mask.data());
  }
  in = {{&band.image, c.weight, c.transform, c.mask ? &band.mask : nullptr, nullptr}, rows.first, c.height};
  return true;
}

}  // namespace

MaskRows partial_exposure_rows(const FloatRows& exposure, int width, int height) {
  constexpr int kRows = 256;
  std::vector<float> rows(static_cast<std::size_t>(kRows) * width);
  float full = -std::numeric_limits<float>::infinity();
  for (int y0 = 0; y0 < height; y0 += kRows) {
    const int n = std::min(kRows, height - y0);
    exposure(y0, n, rows.data());
    full = std::max(full, *std::max_element(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(n) * width));
  }
  return [exposure, width, full](int y0, int rows, std::uint8_t* out) {
    // One extra row at the fullest exposure makes the band's maximum the whole map's, so the
    // rule stays partial_exposure_mask's own.
    Image band(width, rows + 1, full);
    exposure(y0, rows, band.pixels.data());
    const auto mask = streaming::partial_exposure_mask(band);
    std::copy_n(mask.begin(), static_cast<std::size_t>(rows) * width, out);
  };
}

int band_rows_for_budget(const std::vector<BandedChild>& children, int width, int height, std::size_t budget_bytes) {
  // bytes = rows * per_row + fixed: a frame reads |ayy| frame rows per output row plus the
  // rows a rotation spans across the width and the interpolation margin.
  double per_row = 8.0 * width, fixed = 0;
  for (const auto& c : children) {
    if (is_node(c)) {
      per_row += 8.0 * c.width;
      continue;
    }
    const double pixel = c.mask ? 5.0 : 4.0;
    const auto& t = c.transform;
    per_row += pixel * c.width * std::max(std::abs(t.ayy), 1e-3);
    fixed += pixel * c.width * (std::abs(t.ayx) * width + 4);
  }
  const double rows = (static_cast<double>(budget_bytes) - fixed) / per_row;
  return static_cast<int>(std::clamp(rows, std::min(16.0, static_cast<double>(height)), static_cast<double>(height)));
}

void stack_in_bands(const std::vector<BandedChild>& children, int width, int height, int band_rows,
                    const std::function<void(int y0, const Stack& band)>& write, int threads) {
  if (width <= 0 || height <= 0) throw StackError("stack grid must be non-empty");
  if (band_rows <= 0) throw StackError("stack band height must be positive");
  for (std::size_t i = 0; i < children.size(); ++i) check(children[i], width, height, i);
  for (int y0 = 0; y0 < height; y0 += band_rows) {
    const int y1 = std::min(height, y0 + band_rows);
    // Children keep their order (skipping ones this band misses adds nothing), so every pixel
    // sums as stack_node sums it.
    // The children's rows read on all cores (separate files; fits_io serialises them where
    // CFITSIO is not reentrant).
    std::vector<ChildBand> bands(children.size());
    std::vector<StackBandInput> read(children.size());
    std::vector<char> used(children.size(), 0);
    parallel_for(children.size(), threads, [&](std::size_t i) {
      if (!is_node(children[i]) && !(children[i].weight > 0)) return;  // weighs nothing: never read
      used[i] = read_band(children[i], width, y0, y1, bands[i], read[i]);
    });
    std::vector<StackBandInput> inputs;
    for (std::size_t i = 0; i < children.size(); ++i) {
      if (used[i]) inputs.push_back(read[i]);
    }
    write(y0, stack_band(inputs, width, height, y0, y1 - y0, threads));
  }
}

}  // namespace tianyu::pipeline
