#include "pipeline/calibration/masters.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "pipeline/calibration/calibrate.h"
#include "pipeline/parallel.h"
#include "pipeline/robust_stats.h"

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

// pipeline::median on a scratch buffer (reordered): an even count averages the two middle
// values, non-finite values are ignored.
float median_of(std::vector<float>& v) { return static_cast<float>(median_in_place(std::span<float>(v))); }

// One thread's buffers for the per-pixel combination (it runs for each of a master's 4 M
// pixels: allocating them a pixel was most of a master's time).
struct ClipScratch {
  std::vector<float> work, values;
  std::vector<double> weights;
  std::vector<char> keep;
};

// Which values lie within clip_sigma robust sigmas (1.4826 MAD) of the median, into s.keep;
// all of them when clipping is off, the values are too few, or they do not scatter at all.
// Returns the median.
float keep_within(const std::vector<float>& values, double clip_sigma, ClipScratch& s) {
  s.work.assign(values.begin(), values.end());
  const float median = median_of(s.work);
  s.keep.assign(values.size(), 1);
  if (clip_sigma <= 0 || values.size() < 3) return median;
  for (std::size_t i = 0; i < values.size(); ++i) s.work[i] = std::abs(values[i] - median);
  const float sigma = 1.4826f * median_of(s.work);
  if (sigma <= 0) return median;
  for (std::size_t i = 0; i < values.size(); ++i) {
    s.keep[i] = std::abs(values[i] - median) <= clip_sigma * sigma;
  }
  return median;
}

float clipped_mean(std::vector<float>& values, double clip_sigma) {
  thread_local ClipScratch scratch;
  const float median = keep_within(values, clip_sigma, scratch);
  double sum = 0;
  int n = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (scratch.keep[i]) { sum += values[i]; ++n; }
  }
  return n > 0 ? static_cast<float>(sum / n) : median;
}

void require_same_size(const FrameSet& frames, const Image& image, const char* what) {
  if (image.width != frames.width() || image.height != frames.height()) {
    throw CalibrationError(std::string(what) + " is " + std::to_string(image.width) + " x " +
                                std::to_string(image.height) + ", the frames are " +
                                std::to_string(frames.width()) + " x " +
                                std::to_string(frames.height()));
  }
}

struct Disc {
  double x, y, r;
};

// The stars of each flat: local maxima of (flat / first master - 1) above 5 robust sigmas,
// each masked to the radius where a beta = 3, FWHM 4 px Moffat of that peak falls to
// max(0.1 sigma, 0.1 %).
template <typename Normalise>
std::vector<std::vector<Disc>> flat_stars(const FrameSet& flats, const Image& first, Normalise&& normalise) {
  const int n = flats.size(), w = flats.width(), h = flats.height();
  std::vector<std::vector<Disc>> stars(n);
  std::vector<float> frame(static_cast<std::size_t>(w) * h);
  constexpr double kAlpha = 4.0 / (2.0 * 0.50982);  // FWHM 4 px, beta 3
  for (int i = 0; i < n; ++i) {
    flats.read_rows(i, 0, h, frame.data());
    normalise(i, 0, h, frame.data());
    for (std::size_t p = 0; p < frame.size(); ++p) {
      frame[p] = first.pixels[p] > 0.2f ? frame[p] / first.pixels[p] - 1.0f : 0.0f;
    }
    std::vector<float> sample;
    for (std::size_t p = 0; p < frame.size(); p += 61) sample.push_back(frame[p]);
    const float med = median_of(sample);
    for (auto& v : sample) v = std::abs(v - med);
    const float sigma = 1.4826f * median_of(sample);
    if (!(sigma > 0)) continue;
    for (int y = 1; y + 1 < h; ++y) {
      for (int x = 1; x + 1 < w; ++x) {
        const float v = frame[static_cast<std::size_t>(y) * w + x] - med;
        if (v < 5 * sigma) continue;
        bool peak = true;
        for (int dy = -1; dy <= 1 && peak; ++dy) {
          for (int dx = -1; dx <= 1; ++dx) {
            if ((dx || dy) && frame[static_cast<std::size_t>(y + dy) * w + x + dx] - med > v) { peak = false; break; }
          }
        }
        if (!peak) continue;
        // Out to where the wing falls under a tenth of the noise, or under 0.1 % of the sky
        // when the flats are deeper than that matters.
        const double floor = std::max(0.1 * sigma, 1e-3);
        const double r = kAlpha * std::sqrt(std::max(std::cbrt(v / floor) - 1.0, 1.0));
        stars[i].push_back({static_cast<double>(x), static_cast<double>(y), std::min(r, 100.0)});
      }
    }
  }
  return stars;
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

namespace {

// A flat minus the bias and the dark current of its exposure, band by band.
struct Debias {
  const FrameSet& flats;
  const Image& bias;
  const Image* dark_rate;

  void operator()(int i, int y0, int rows, float* b) const {
    const double t = flats.exptime(i);
    const std::size_t w = static_cast<std::size_t>(flats.width());
    for (std::size_t p = 0; p < static_cast<std::size_t>(rows) * w; ++p) {
      const std::size_t q = static_cast<std::size_t>(y0) * w + p;
      b[p] -= bias.pixels[q] + (dark_rate ? static_cast<float>(dark_rate->pixels[q] * t) : 0.0f);
    }
  }
};

// Each flat's own level m_i (after bias and dark), one whole frame at a time (one read per
// file; memory stays at one frame). A flat without light is bad input.
std::vector<double> flat_levels(const FrameSet& flats, const Debias& debias) {
  const int n = flats.size(), w = flats.width(), h = flats.height();
  std::vector<double> level(n, 0.0);
  std::vector<float> frame(static_cast<std::size_t>(w) * h);
  for (int i = 0; i < n; ++i) {
    flats.read_rows(i, 0, h, frame.data());
    debias(i, 0, h, frame.data());
    double sum = 0;
    for (float v : frame) sum += v;
    level[i] = sum / (static_cast<double>(w) * h);
    if (!(level[i] > 0)) {
      throw CalibrationError(flats.name(i) + ": mean level after bias is " + std::to_string(level[i]) +
                             ", not a usable flat");
    }
  }
  return level;
}

// Per pixel: 3 median - 2 mean over the flats, weights m_i; NaN values (star pixels masked in
// that flat) drop out with their weights; NaN when fewer than 3 remain. Values arrive in frame
// order, so the weights line up with them.
struct PearsonMode {
  const std::vector<double>& level;
  double clip;

  float operator()(std::vector<float>& v) const {
    thread_local ClipScratch s;
    const std::size_t n = v.size();
    auto& values = s.values;
    auto& weights_of = s.weights;
    values.clear();
    weights_of.clear();
    for (std::size_t i = 0; i < n; ++i) {
      if (std::isnan(v[i])) continue;
      values.push_back(v[i]);
      weights_of.push_back(level[i]);
    }
    if (values.size() < 3 && values.size() < n) return std::numeric_limits<float>::quiet_NaN();
    const float median = keep_within(values, clip, s);
    double sum = 0, weights = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!s.keep[i]) continue;
      sum += weights_of[i] * values[i];
      weights += weights_of[i];
    }
    const double mean = weights > 0 ? sum / weights : median;
    return static_cast<float>(3.0 * median - 2.0 * mean);
  }
};

// Sets the pixels of each disc that fall in rows [y0, y0 + rows) of a band to NaN.
void blank_discs(const std::vector<Disc>& discs, int w, int y0, int rows, float* b) {
  for (const auto& d : discs) {
    const int ya = std::max(y0, static_cast<int>(std::floor(d.y - d.r)));
    const int yb = std::min(y0 + rows - 1, static_cast<int>(std::ceil(d.y + d.r)));
    const int xa = std::max(0, static_cast<int>(std::floor(d.x - d.r)));
    const int xb = std::min(w - 1, static_cast<int>(std::ceil(d.x + d.r)));
    for (int y = ya; y <= yb; ++y) {
      for (int x = xa; x <= xb; ++x) {
        if ((x - d.x) * (x - d.x) + (y - d.y) * (y - d.y) <= d.r * d.r) {
          b[static_cast<std::size_t>(y - y0) * w + x] = std::numeric_limits<float>::quiet_NaN();
        }
      }
    }
  }
}

}  // namespace

Image master_flat(const FrameSet& flats, const Image& bias, const Image* dark_rate,
                  FlatCombine combine, const CombineOptions& options) {
  require_same_size(flats, bias, "the master bias");
  if (dark_rate) require_same_size(flats, *dark_rate, "the master dark");
  const int w = flats.width();
  const Debias debias{flats, bias, dark_rate};
  const std::vector<double> level = flat_levels(flats, debias);
  auto normalise = [&](int i, int y0, int rows, float* b) {
    debias(i, y0, rows, b);
    const float inv = static_cast<float>(1.0 / level[i]);
    for (std::size_t p = 0; p < static_cast<std::size_t>(rows) * w; ++p) b[p] *= inv;
  };
  const PearsonMode combine_pixel{level, combine == FlatCombine::clipped_pearson_mode ? options.clip_sigma : 0.0};
  // Second pass: normalise and combine.
  Image first = combine_bands(flats, options, normalise, combine_pixel);
  if (combine != FlatCombine::clipped_pearson_mode || !options.mask_flat_stars) return first;
  // Third and fourth passes: find each flat's stars against the first master and combine again
  // without them. The per-pixel clip cannot see a star's wings below ~3 noise sigmas, and those
  // faint rings, crossed by drifting stars, biased transit depths by several per cent on the
  // simulator. Each star is masked out to where a Moffat wing (beta 3, FWHM 4 px) falls to a
  // tenth of the flat's noise (or 0.1 %).
  const auto stars = flat_stars(flats, first, normalise);
  Image second = combine_bands(
      flats, options,
      [&](int i, int y0, int rows, float* b) {
        normalise(i, y0, rows, b);
        blank_discs(stars[i], w, y0, rows, b);
      },
      combine_pixel);
  for (std::size_t p = 0; p < second.pixels.size(); ++p) {
    if (std::isnan(second.pixels[p])) second.pixels[p] = first.pixels[p];  // stars there in most flats
  }
  return second;
}

}  // namespace tianyu::pipeline
