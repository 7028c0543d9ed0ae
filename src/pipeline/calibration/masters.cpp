#include "pipeline/calibration/masters.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <vector>

#include "pipeline/parallel.h"

namespace tianyu::pipeline {
namespace {

int band_rows(const FrameSet& frames, const CombineOptions& options) {
  if (options.band_rows > 0) return options.band_rows;
  return std::clamp(4 * frames.height() / std::max(1, frames.size()), 1, frames.height());
}

// Calls combine(values, weights-free) for every pixel with the N frames' (prepared) values.
// prepare(i, y0, rows, band) turns frame i's raw band into the values to combine.
Image combine_bands(const FrameSet& frames, const CombineOptions& options,
                    const std::function<void(int, int, int, float*)>& prepare,
                    const std::function<float(std::vector<float>&)>& combine) {
  const int n = frames.size(), w = frames.width(), h = frames.height();
  const int band = band_rows(frames, options);
  Image out(w, h);
  std::vector<float> bands(static_cast<std::size_t>(n) * band * w);
  for (int y0 = 0; y0 < h; y0 += band) {
    const int rows = std::min(band, h - y0);
    const std::size_t stride = static_cast<std::size_t>(band) * w;
    for (int i = 0; i < n; ++i) {
      float* b = bands.data() + i * stride;
      frames.read_rows(i, y0, rows, b);
      prepare(i, y0, rows, b);
    }
    parallel_rows(rows, options.threads, [&](int r0, int r1) {
      std::vector<float> values(n);
      for (std::size_t p = static_cast<std::size_t>(r0) * w; p < static_cast<std::size_t>(r1) * w; ++p) {
        for (int i = 0; i < n; ++i) values[i] = bands[i * stride + p];
        out.pixels[static_cast<std::size_t>(y0) * w + p] = combine(values);
      }
    });
  }
  return out;
}

float median_of(std::vector<float>& v) {
  const std::size_t n = v.size(), mid = n / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  const float upper = v[mid];
  if (n % 2) return upper;
  return 0.5f * (upper + *std::max_element(v.begin(), v.begin() + mid));
}

// Which values lie within clip_sigma robust sigmas (1.4826 MAD) of the median; all of them
// when clipping is off, the values are too few, or they do not scatter at all.
struct Kept {
  float median;
  std::vector<bool> keep;
};
Kept keep_within(const std::vector<float>& values, double clip_sigma) {
  std::vector<float> work = values;
  Kept k{median_of(work), std::vector<bool>(values.size(), true)};
  if (clip_sigma <= 0 || values.size() < 3) return k;
  for (std::size_t i = 0; i < values.size(); ++i) work[i] = std::abs(values[i] - k.median);
  const float sigma = 1.4826f * median_of(work);
  if (sigma <= 0) return k;
  for (std::size_t i = 0; i < values.size(); ++i) {
    k.keep[i] = std::abs(values[i] - k.median) <= clip_sigma * sigma;
  }
  return k;
}

float clipped_mean(std::vector<float>& values, double clip_sigma) {
  const auto kept = keep_within(values, clip_sigma);
  double sum = 0;
  int n = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (kept.keep[i]) { sum += values[i]; ++n; }
  }
  return n > 0 ? static_cast<float>(sum / n) : kept.median;
}

void require_same_size(const FrameSet& frames, const Image& image, const char* what) {
  if (image.width != frames.width() || image.height != frames.height()) {
    throw std::invalid_argument(std::string(what) + " is " + std::to_string(image.width) + " x " +
                                std::to_string(image.height) + ", the frames are " +
                                std::to_string(frames.width()) + " x " +
                                std::to_string(frames.height()));
  }
}

}  // namespace

Image master_bias(const FrameSet& biases, const CombineOptions& options) {
  return combine_bands(
      biases, options, [](int, int, int, float*) {},
      [&](std::vector<float>& v) { return clipped_mean(v, options.clip_sigma); });
}

Image master_dark_rate(const FrameSet& darks, const Image& bias, const CombineOptions& options) {
  require_same_size(darks, bias, "the master bias");
  const int w = darks.width();
  return combine_bands(
      darks, options,
      [&](int i, int y0, int rows, float* band) {
        const float inv_t = static_cast<float>(1.0 / darks.exptime(i));
        for (std::size_t p = 0; p < static_cast<std::size_t>(rows) * w; ++p) {
          band[p] = (band[p] - bias.pixels[static_cast<std::size_t>(y0) * w + p]) * inv_t;
        }
      },
      [&](std::vector<float>& v) { return clipped_mean(v, options.clip_sigma); });
}

Image master_flat(const FrameSet& flats, const Image& bias, const Image* dark_rate,
                  FlatCombine combine, const CombineOptions& options) {
  require_same_size(flats, bias, "the master bias");
  if (dark_rate) require_same_size(flats, *dark_rate, "the master dark");
  const int n = flats.size(), w = flats.width(), h = flats.height();
  // First pass: each flat's own level m_i (after bias and dark), one whole frame at a time
  // (one read per file; memory stays at one frame).
  std::vector<double> level(n, 0.0);
  std::vector<float> frame(static_cast<std::size_t>(w) * h);
  auto debias = [&](int i, int y0, int rows, float* b) {
    const double t = flats.exptime(i);
    for (std::size_t p = 0; p < static_cast<std::size_t>(rows) * w; ++p) {
      const std::size_t q = static_cast<std::size_t>(y0) * w + p;
      b[p] -= bias.pixels[q] + (dark_rate ? static_cast<float>(dark_rate->pixels[q] * t) : 0.0f);
    }
  };
  for (int i = 0; i < n; ++i) {
    flats.read_rows(i, 0, h, frame.data());
    debias(i, 0, h, frame.data());
    double sum = 0;
    for (float v : frame) sum += v;
    level[i] = sum / (static_cast<double>(w) * h);
    if (!(level[i] > 0)) {
      throw std::invalid_argument(flats.name(i) + ": mean level after bias is " +
                                  std::to_string(level[i]) + ", not a usable flat");
    }
  }
  // Second pass: normalise, then 3 median - 2 mean per pixel. The combine sees values in frame
  // order, so the weights line up with them.
  return combine_bands(
      flats, options,
      [&](int i, int y0, int rows, float* b) {
        debias(i, y0, rows, b);
        const float inv = static_cast<float>(1.0 / level[i]);
        for (std::size_t p = 0; p < static_cast<std::size_t>(rows) * w; ++p) b[p] *= inv;
      },
      [&](std::vector<float>& v) {
        const auto kept = keep_within(v, combine == FlatCombine::clipped_pearson_mode ? options.clip_sigma : 0.0);
        double sum = 0, weights = 0;
        for (int i = 0; i < n; ++i) {
          if (!kept.keep[i]) continue;
          sum += level[i] * v[i];
          weights += level[i];
        }
        const double mean = weights > 0 ? sum / weights : kept.median;
        return static_cast<float>(3.0 * kept.median - 2.0 * mean);
      });
}

}  // namespace tianyu::pipeline
