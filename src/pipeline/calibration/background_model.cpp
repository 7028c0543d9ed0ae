// SEP's background model on several threads (see background_model.h). Every step below that
// reproduces SEP's map-wide arithmetic keeps its types (float values, float tile distances,
// double only where SEP divides by a double constant) and its order of operations: the result
// must be bit-for-bit what sep_background returns, not merely close.
#include "pipeline/calibration/background_model.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <thread>

#include "pipeline/calibration/calibrate.h"
#include "pipeline/calibration/tile_statistics.h"
#include "pipeline/parallel.h"

namespace tianyu::pipeline {
namespace {

// SEP's BIG (sepcore.h): a pixel at or below -BIG is no value; a tile at or below it is bad.
constexpr double kBig = 1e+30;
// SEP compares a float pixel with -BIG in double. -BIG as a float lies below -BIG, so "above
// it in float" is the same test, and in float the census loop vectorises.
constexpr float kNoValue = static_cast<float>(-kBig);
static_assert(static_cast<double>(kNoValue) < -kBig, "a float above kNoValue must be above -BIG");
struct TileGrid {
  int nx = 0, ny = 0;
  std::vector<float> back, sigma;
};

int tiles_across(int size, int box) { return std::max(1, (size - 1) / box + 1); }

// Usable pixels of one tile's row segment. Integer arithmetic: it vectorises.
int count_usable(const float* pixels, const std::uint8_t* flags, int x0, int x1) {
  int count = 0;
  for (int x = x0; x < x1; ++x) count += (flags == nullptr || flags[x] == 0) & (pixels[x] > kNoValue);
  return count;
}

// Marks tile row `ty`'s discarded tiles in bad[0..nx). SEP's test: the float count of usable
// pixels (mask byte 0, as its maskthresh 0.0 compares it; value above -BIG) below the float of
// half the tile's area, the last column and row as wide / tall as what is left of the frame.
void census_tile_row(const Image& image, const std::vector<std::uint8_t>* mask, int box_w, int box_h,
                     int ty, char* bad) {
  const int nx = tiles_across(image.width, box_w);
  const int y0 = ty * box_h, y1 = std::min(image.height, y0 + box_h);
  std::vector<int> usable(nx, 0);
  for (int y = y0; y < y1; ++y) {
    const std::uint8_t* flags = mask ? mask->data() + static_cast<std::size_t>(y) * image.width : nullptr;
    for (int tx = 0; tx < nx; ++tx) {
      usable[tx] += count_usable(image.row(y), flags, tx * box_w, std::min(image.width, (tx + 1) * box_w));
    }
  }
  for (int tx = 0; tx < nx; ++tx) {
    const int width = std::min(image.width, (tx + 1) * box_w) - tx * box_w;
    bad[tx] = static_cast<float>(usable[tx]) < static_cast<float>(width * (y1 - y0) * 0.5);
  }
}

int compare_as_sep(const void* a, const void* b) {
  const double first = *static_cast<const float*>(a);
  const double second = *static_cast<const float*>(b);
  return first > second ? 1 : (first < second ? -1 : 0);
}

// SEP's median (fqmedian): the C library's qsort with SEP's comparison, so values that compare
// equal but differ in bits (+0 and -0) or NaN end up where SEP puts them; the even case is the
// float sum of the middle two halved in double. Reorders `values`.
float sep_median(float* values, int n) {
  std::qsort(values, static_cast<std::size_t>(n), sizeof(float), compare_as_sep);
  if (n < 2) return values[0];
  if (n % 2 != 0) return values[n / 2];
  return static_cast<float>((values[n / 2 - 1] + values[n / 2]) / 2.0);
}

// A bad tile takes the mean of the nearest good tiles (ties summed in row-major order, in
// float); with no good tile at all, level 0 and rms 1. Sigma is replaced in place, as SEP does:
// only good tiles' sigma is read, so the order of replacement does not matter.
void replace_bad_tiles(TileGrid& grid) {
  std::vector<float> replaced = grid.back;
  for (int py = 0, i = 0; py < grid.ny; ++py) {
    for (int px = 0; px < grid.nx; ++px, ++i) {
      if (!(grid.back[i] <= -kBig)) continue;
      float nearest = static_cast<float>(kBig), level = 0.0f, rms = 0.0f;
      int ties = 0;
      for (int y = 0, j = 0; y < grid.ny; ++y) {
        for (int x = 0; x < grid.nx; ++x, ++j) {
          if (!(grid.back[j] > -kBig)) continue;
          const float d2 = static_cast<float>(x - px) * (x - px) + (y - py) * (y - py);
          if (d2 < nearest) {
            level = grid.back[j];
            rms = grid.sigma[j];
            ties = 1;
            nearest = d2;
          } else if (d2 == nearest) {
            level += grid.back[j];
            rms += grid.sigma[j];
            ++ties;
          }
        }
      }
      replaced[i] = ties ? level / ties : 0.0f;
      grid.sigma[i] = ties ? rms / ties : 1.0f;
    }
  }
  grid.back = std::move(replaced);
}

// The filter_w x filter_h median (a symmetric window shrunk at the map's edges); a tile keeps
// its own values unless the median level differs from it by fthresh or more.
void median_filter(TileGrid& grid, int filter_w, int filter_h, double fthresh) {
  std::vector<float> back = grid.back, sigma = grid.sigma;
  std::vector<float> levels, rmss;
  for (int py = 0; py < grid.ny; ++py) {
    const int ry = std::min({grid.ny - 1 - py, filter_h / 2, py});
    for (int px = 0; px < grid.nx; ++px) {
      const int rx = std::min({grid.nx - 1 - px, filter_w / 2, px});
      levels.clear();
      rmss.clear();
      for (int y = py - ry; y <= py + ry; ++y) {
        for (int x = px - rx; x <= px + rx; ++x) {
          levels.push_back(grid.back[y * grid.nx + x]);
          rmss.push_back(grid.sigma[y * grid.nx + x]);
        }
      }
      const int i = py * grid.nx + px;
      const float median = sep_median(levels.data(), static_cast<int>(levels.size()));
      const float change = median - grid.back[i];  // float, as in SEP, before fabs in double
      if (std::fabs(static_cast<double>(change)) >= fthresh) {
        back[i] = median;
        sigma[i] = sep_median(rmss.data(), static_cast<int>(rmss.size()));
      }
    }
  }
  grid.back = std::move(back);
  grid.sigma = std::move(sigma);
}

// The median tile rms; if that is not positive, the median of the positive ones (found in the
// sorted map from the top down to the first non-positive value), or 1 if none is positive.
float global_rms(std::vector<float> sigma) {
  const int n = static_cast<int>(sigma.size());
  const float median = sep_median(sigma.data(), n);
  if (!(median <= 0.0)) return median;  // SEP's test: a NaN median stays
  int i = n - 1;
  while (i >= 0 && sigma[i] > 0.0) --i;
  if (i >= 0 && i < n - 1) return sep_median(sigma.data() + i + 1, n - 1 - i);
  return 1.0f;
}

// Second derivatives along y of a natural cubic spline through each tile column (SEP's
// makebackspline): the tridiagonal recurrence in float; the back substitution divides the
// float sum by 6 in double.
void spline_second_derivatives(int nx, int ny, const float* map, float* dmap) {
  std::vector<float> u(std::max(1, ny - 1));
  for (int x = 0; x < nx; ++x) {
    auto at = [&](int y) { return static_cast<std::size_t>(y) * nx + x; };
    dmap[at(0)] = 0.0f;
    if (ny < 2) continue;
    u[0] = 0.0f;
    for (int y = 1; y < ny - 1; ++y) {
      float temp = -1 / (dmap[at(y - 1)] + 4);
      dmap[at(y)] = temp;
      temp *= u[y - 1] - 6 * (map[at(y + 1)] + map[at(y - 1)] - 2 * map[at(y)]);
      u[y] = temp;
    }
    dmap[at(ny - 1)] = 0.0f;
    for (int y = ny - 2; y >= 1; --y) {
      dmap[at(y)] = static_cast<float>((dmap[at(y)] * dmap[at(y + 1)] + u[y]) / 6.0);
    }
  }
}

void require_ok(int status, const char* call) {
  if (status != 0) {
    throw CalibrationError(sep_support::describe(call, status), sep_support::retry_can_help(status));
  }
}

// A sep_bkg as SEP allocates one (malloc'd struct and arrays), for sep_bkg_free.
sep_support::Background make_background(const Image& image, int box_w, int box_h, const TileGrid& grid) {
  sep_support::Background out(static_cast<sep_bkg*>(std::calloc(1, sizeof(sep_bkg))));
  const std::size_t n = grid.back.size();
  if (out) {
    out->back = static_cast<float*>(std::malloc(n * sizeof(float)));
    out->dback = static_cast<float*>(std::malloc(n * sizeof(float)));
    out->sigma = static_cast<float*>(std::malloc(n * sizeof(float)));
    out->dsigma = static_cast<float*>(std::malloc(n * sizeof(float)));
  }
  if (!out || !out->back || !out->dback || !out->sigma || !out->dsigma) {
    throw CalibrationError("background model: out of memory for " + std::to_string(n) + " tiles", true);
  }
  out->w = image.width;
  out->h = image.height;
  out->bw = box_w;
  out->bh = box_h;
  out->nx = grid.nx;
  out->ny = grid.ny;
  out->n = static_cast<int>(n);
  std::copy(grid.back.begin(), grid.back.end(), out->back);
  std::copy(grid.sigma.begin(), grid.sigma.end(), out->sigma);
  return out;
}

sep_support::Background single_call(const Image& image, const std::vector<std::uint8_t>* mask, int box_w,
                                    int box_h, int filter_w, int filter_h, double fthresh) {
  sep_image view = sep_support::view(image, mask);
  sep_bkg* raw = nullptr;
  const int status = sep_background(&view, box_w, box_h, filter_w, filter_h, fthresh, &raw);
  sep_support::Background background(raw);
  require_ok(status, "sep_background");
  return background;
}

void require_usable(const Image& image, const std::vector<std::uint8_t>* mask, int box_w, int box_h,
                    int filter_w, int filter_h) {
  const std::size_t pixels = static_cast<std::size_t>(std::max(image.width, 0)) * std::max(image.height, 0);
  if (image.width < 1 || image.height < 1 || image.pixels.size() != pixels) {
    throw CalibrationError("background model: the frame has no pixels or its size does not match them");
  }
  if (mask && mask->size() != image.pixels.size()) {
    throw CalibrationError("background model: the mask has " + std::to_string(mask->size()) +
                           " pixels, the frame " + std::to_string(image.pixels.size()));
  }
  if (box_w < 1 || box_h < 1 || filter_w < 1 || filter_h < 1) {
    throw CalibrationError("background model: tile " + std::to_string(box_w) + "x" + std::to_string(box_h) +
                           " and filter " + std::to_string(filter_w) + "x" + std::to_string(filter_h) +
                           " must be at least 1x1");
  }
}

}  // namespace

sep_support::Background model_background(const Image& image, const std::vector<std::uint8_t>* mask,
                                         int box_w, int box_h, int filter_w, int filter_h,
                                         double fthresh, int threads) {
  require_usable(image, mask, box_w, box_h, filter_w, filter_h);
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  TileGrid grid;
  grid.nx = tiles_across(image.width, box_w);
  grid.ny = tiles_across(image.height, box_h);
  const long long tile_pixels = static_cast<long long>(std::min(box_w, image.width)) * std::min(box_h, image.height);
  if (tile_pixels > tile_statistics::kLargestExactTile) {
    return single_call(image, mask, box_w, box_h, filter_w, filter_h, fthresh);
  }
  const std::size_t n = static_cast<std::size_t>(grid.nx) * grid.ny;
  grid.back.resize(n);
  grid.sigma.resize(n);
  // Each tile row's raw measurement (a discarded tile: -BIG), as SEP's own loop over tile rows
  // leaves them before its map-wide steps.
  parallel_for(static_cast<std::size_t>(grid.ny), threads, [&](std::size_t ty) {
    const std::size_t first = ty * static_cast<std::size_t>(grid.nx);
    tile_statistics::measure_tile_row(image, mask, box_w, box_h, static_cast<int>(ty), grid.back.data() + first,
                                      grid.sigma.data() + first);
  });
  replace_bad_tiles(grid);
  median_filter(grid, filter_w, filter_h, fthresh);
  sep_support::Background out = make_background(image, box_w, box_h, grid);
  out->global = sep_median(std::vector<float>(grid.back).data(), static_cast<int>(n));
  out->globalrms = global_rms(grid.sigma);
  spline_second_derivatives(grid.nx, grid.ny, out->back, out->dback);
  spline_second_derivatives(grid.nx, grid.ny, out->sigma, out->dsigma);
  return out;
}

namespace background_detail {

std::vector<char> unusable_tiles(const Image& image, const std::vector<std::uint8_t>* mask, int box_w,
                                 int box_h) {
  const int nx = tiles_across(image.width, box_w), ny = tiles_across(image.height, box_h);
  std::vector<char> bad(static_cast<std::size_t>(nx) * ny);
  for (int ty = 0; ty < ny; ++ty) {
    census_tile_row(image, mask, box_w, box_h, ty, bad.data() + static_cast<std::size_t>(ty) * nx);
  }
  return bad;
}

}  // namespace background_detail
}  // namespace tianyu::pipeline
