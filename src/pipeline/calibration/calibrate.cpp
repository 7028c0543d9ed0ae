#include "pipeline/calibration/calibrate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "pipeline/calibration/background_model.h"
#include "pipeline/parallel.h"
#include "pipeline/robust_stats.h"
#include "pipeline/sep_support.h"

namespace tianyu::pipeline {
namespace {

void require_size(const Image& raw, const Image* master, const char* what) {
  if (master && (master->width != raw.width || master->height != raw.height)) {
    throw CalibrationError(std::string(what) + " is " + std::to_string(master->width) + " x " +
                           std::to_string(master->height) + ", the frame is " +
                           std::to_string(raw.width) + " x " + std::to_string(raw.height));
  }
}


// Pixels far above every reasonable PSF's neighbours: single hot pixels and cosmic-ray hits.
std::size_t mask_sharp(const Image& image, std::vector<std::uint8_t>& mask, double rms, const CalibrationOptions& o) {
  const float threshold = static_cast<float>(o.sharp_sigma * rms);
  std::size_t marked = 0;
  float around[8];
  for (int y = 1; y + 1 < image.height; ++y) {
    const float* row = image.row(y);
    for (int x = 1; x + 1 < image.width; ++x) {
      const float v = row[x];
      if (!(v > threshold)) continue;  // most pixels stop here
      int k = 0;
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          if (dx || dy) around[k++] = image.at(x + dx, y + dy);
        }
      }
      // The third-brightest neighbour: a star has at least four bright ones (its PSF is wider
      // than a pixel), a hot pixel none, a cosmic-ray streak at most two.
      std::nth_element(around, around + 5, around + 8);
      const float neighbours = around[5];
      if (v - neighbours > threshold && v > o.sharp_ratio * std::max(neighbours, 0.0f)) {
        std::uint8_t& m = mask[static_cast<std::size_t>(y) * image.width + x];
        if (!m) ++marked;
        m |= kSharp;
      }
    }
  }
  return marked;
}

// One row of (S - B - D t) / F with its mask bits; returns the row's masked pixel count.
// Single-precision arithmetic with the masters' presence decided per row: this loop is
// memory-bound, and a per-pixel double path cost as much as SEP's background model.
struct RowCalibration {
  const Image& raw;
  const Masters& masters;
  float exposure, saturation, min_flat, hot;

  std::size_t operator()(int y, float* row, float* out, std::uint8_t* m) const {
    const int w = raw.width;
    const std::size_t offset = static_cast<std::size_t>(y) * w;
    const float* s = raw.pixels.data() + offset;
    for (int x = 0; x < w; ++x) {
      row[x] = s[x];
      m[x] = (s[x] >= saturation ? kSaturated : 0);
    }
    if (masters.bias) {
      const float* b = masters.bias->pixels.data() + offset;
      for (int x = 0; x < w; ++x) row[x] -= b[x];
    }
    if (masters.dark_rate) {
      const float* d = masters.dark_rate->pixels.data() + offset;
      for (int x = 0; x < w; ++x) {
        row[x] -= d[x] * exposure;
        if (d[x] > hot) m[x] |= kHot;
      }
    }
    if (masters.flat) {
      const float* f = masters.flat->pixels.data() + offset;
      for (int x = 0; x < w; ++x) {
        // Selects, not branches, so the loop vectorises; NaN fails both comparisons.
        const bool usable = f[x] >= min_flat && f[x] <= std::numeric_limits<float>::max();
        row[x] = usable ? row[x] / f[x] : row[x];
        m[x] |= usable ? 0 : kBadFlat;
      }
    }
    std::size_t masked = 0;
    for (int x = 0; x < w; ++x) {
      // A NaN raw pixel, or a non-finite master value.
      const bool finite = std::abs(row[x]) <= std::numeric_limits<float>::max();
      m[x] |= finite ? 0 : kNotFinite;
      out[x] = finite ? row[x] : 0.0f;
      masked += m[x] != 0;
    }
    return masked;
  }
};

}  // namespace

// SEP's background model of the calibrated, masked frame (on the calibration's threads, bit
// for bit one sep_background call: background_model.h): its global level and RMS, and the
// frame minus the model when asked; then the sharp-pixel mask, which needs the RMS.
void model_sky(CalibratedFrame& out, const CalibrationOptions& options) {
  const int box_w = std::min(options.background_box, out.image.width);
  const int box_h = std::min(options.background_box, out.image.height);
  const auto background = model_background(out.image, &out.mask, box_w, box_h, options.background_filter,
                                           options.background_filter, 0.0, options.threads);
  out.background = sep_bkg_global(background.get());
  out.background_rms = sep_bkg_globalrms(background.get());
  if (options.subtract_background) {
    // Row by row on the calibration's threads: sep_bkg_subarray is this same loop of
    // sep_bkg_subline, so the result is identical whatever the thread count.
    std::vector<int> row_status(out.image.height, 0);
    parallel_rows(out.image.height, options.threads, [&](int y0, int y1) {
      for (int y = y0; y < y1; ++y) {
        row_status[y] = sep_bkg_subline(background.get(), y, out.image.row(y), SEP_TFLOAT);
      }
    });
    for (const int row : row_status) {
      if (row != 0) {
        throw CalibrationError(sep_support::describe("sep_bkg_subline", row), sep_support::retry_can_help(row));
      }
    }
  }
  if (options.mask_sharp_pixels && out.background_rms > 0) {
    // On the sky-subtracted values: without subtraction, compare against the background too.
    if (options.subtract_background) {
      out.masked += mask_sharp(out.image, out.mask, out.background_rms, options);
    } else {
      Image residual = out.image;
      sep_bkg_subarray(background.get(), residual.pixels.data(), SEP_TFLOAT);
      out.masked += mask_sharp(residual, out.mask, out.background_rms, options);
    }
  }
}

// Dark rate above median + hot_sigma robust sigmas: pixels whose dark current we do not trust.
float hot_pixel_threshold(const Image& dark_rate, double hot_sigma) {
  // About 65,000 pixels pin the median and MAD to 0.5 %; all of a 2048^2 master took as long
  // as the rest of the calibration.
  const std::size_t stride = std::max<std::size_t>(7, dark_rate.pixels.size() / 65'536) | 1;
  std::vector<double> values;
  values.reserve(dark_rate.pixels.size() / stride + 1);
  for (std::size_t i = 0; i < dark_rate.pixels.size(); i += stride) values.push_back(dark_rate.pixels[i]);
  const double spread = std::max(mad_std(values), 1e-6);
  return static_cast<float>(median(values) + hot_sigma * spread);
}

CalibratedFrame calibrate_pixels(const Image& raw, double exptime_s, const Masters& masters,
                                 const CalibrationOptions& options) {
  require_size(raw, masters.bias, "the master bias");
  require_size(raw, masters.dark_rate, "the master dark");
  require_size(raw, masters.flat, "the master flat");
  CalibratedFrame out;
  out.image = Image(raw.width, raw.height);
  out.mask.assign(raw.pixels.size(), 0);
  const RowCalibration calibrate_row{
      raw, masters, static_cast<float>(exptime_s), static_cast<float>(options.saturation_adu),
      static_cast<float>(options.min_flat),
      masters.dark_rate ? hot_pixel_threshold(*masters.dark_rate, options.hot_sigma) : 0.0f};
  std::vector<std::size_t> masked_rows(raw.height, 0);
  parallel_rows(raw.height, options.threads, [&](int y0, int y1) {
    std::vector<float> row(raw.width);
    for (int y = y0; y < y1; ++y) {
      const std::size_t offset = static_cast<std::size_t>(y) * raw.width;
      masked_rows[y] = calibrate_row(y, row.data(), out.image.pixels.data() + offset, out.mask.data() + offset);
    }
  });
  for (const auto m : masked_rows) out.masked += m;
  if (out.masked == out.mask.size()) throw CalibrationError("every pixel of the frame is masked");
  return out;
}

CalibratedFrame calibrate(const Image& raw, double exptime_s, const Masters& masters,
                          const CalibrationOptions& options) {
  CalibratedFrame out = calibrate_pixels(raw, exptime_s, masters, options);
  model_sky(out, options);
  return out;
}

}  // namespace tianyu::pipeline
