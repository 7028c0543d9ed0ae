#include "pipeline/streaming/registration.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "pipeline/robust_stats.h"

namespace tianyu::pipeline::streaming {
namespace {

// A calibrated window of a frame, clipped to the frame; saturated and unusable pixels flagged.
struct Window {
  int x0 = 0, y0 = 0, w = 0, h = 0;
  std::vector<float> value;
  std::vector<char> clean;
  float at(int x, int y) const { return value[static_cast<std::size_t>(y - y0) * w + (x - x0)]; }
  bool clean_at(int x, int y) const { return clean[static_cast<std::size_t>(y - y0) * w + (x - x0)]; }
};

Window read_window(const ShortFrame& f, const CalibrationPlan& plan, int x0, int y0, int x1, int y1) {
  Window win;
  win.x0 = std::max(0, x0);
  win.y0 = std::max(0, y0);
  win.w = std::max(0, std::min(f.width, x1) - win.x0);
  win.h = std::max(0, std::min(f.height, y1) - win.y0);
  win.value.resize(static_cast<std::size_t>(win.w) * win.h);
  win.clean.resize(win.value.size());
  for (int y = win.y0; y < win.y0 + win.h; ++y) {
    for (int x = win.x0; x < win.x0 + win.w; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * f.width + x;
      const float raw = f.adu16.empty() ? f.adu[i] : static_cast<float>(f.adu16[i]);
      const std::size_t k = static_cast<std::size_t>(y - win.y0) * win.w + (x - win.x0);
      win.value[k] = plan.calibrated(i, raw);
      win.clean[k] = raw < plan.saturation_adu && plan.gain[i] != 0.0f;
    }
  }
  return win;
}

struct Peak {
  int x = 0, y = 0;
  double height = 0;  // 3x3 mean above the window's median
  double level = 0;   // the window's median: the sky under the star
  double noise = 0;   // one pixel's robust sigma in the window
};

// The clean 3x3 box of largest sum (a star, not a one-pixel cosmic ray or hot pixel), at
// least `edge` pixels inside the window.
std::optional<Peak> brightest(const Window& win, int edge) {
  if (win.w < 2 * edge + 1 || win.h < 2 * edge + 1) return std::nullopt;
  std::vector<float> sample;
  sample.reserve(win.value.size());
  for (std::size_t k = 0; k < win.value.size(); ++k) {
    if (win.clean[k]) sample.push_back(win.value[k]);
  }
  if (sample.size() < 9) return std::nullopt;
  std::vector<double> as_double(sample.begin(), sample.end());
  const double level = median(std::span<const float>(sample)), noise = mad_std(as_double);
  Peak best;
  double best_sum = -1e300;
  for (int y = win.y0 + edge; y < win.y0 + win.h - edge; ++y) {
    for (int x = win.x0 + edge; x < win.x0 + win.w - edge; ++x) {
      double sum = 0;
      bool clean = true;
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          sum += win.at(x + dx, y + dy);
          clean = clean && win.clean_at(x + dx, y + dy);
        }
      }
      if (clean && sum > best_sum) {
        best_sum = sum;
        best = Peak{x, y, sum / 9.0 - level, level, noise};
      }
    }
  }
  if (best_sum == -1e300) return std::nullopt;
  best.noise = std::max(noise, 1e-6);
  return best;
}

constexpr int kHalfBox = 4;   // the centroid reaches 4 px from the star's peak pixel
constexpr double kWindowSigma = 1.5;  // px: a 3.5-px seeing disc's Gaussian sigma

// The Gaussian-windowed centroid (SExtractor's XWIN/YWIN) of the light above the sky, iterated
// from the peak pixel: unbiased for any symmetric star wherever it falls on the pixel grid,
// where a plain centroid in a box pulls towards the box's centre (0.15 px at 3 px seeing).
std::pair<double, double> centroid(const Window& win, const Peak& p) {
  double cx = p.x, cy = p.y;
  for (int iteration = 0; iteration < 12; ++iteration) {
    double sum = 0, sx = 0, sy = 0;
    const int x0 = static_cast<int>(std::lround(cx)), y0 = static_cast<int>(std::lround(cy));
    for (int y = std::max(win.y0, y0 - kHalfBox); y <= std::min(win.y0 + win.h - 1, y0 + kHalfBox); ++y) {
      for (int x = std::max(win.x0, x0 - kHalfBox); x <= std::min(win.x0 + win.w - 1, x0 + kHalfBox); ++x) {
        const double r2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
        const double v = (win.at(x, y) - p.level) * std::exp(-0.5 * r2 / (kWindowSigma * kWindowSigma));
        sum += v;
        sx += v * (x - cx);
        sy += v * (y - cy);
      }
    }
    if (!(sum > 0)) break;
    const double step_x = 2.0 * sx / sum, step_y = 2.0 * sy / sum;
    if (std::abs(step_x) > kHalfBox || std::abs(step_y) > kHalfBox) return {double(p.x), double(p.y)};
    cx += step_x;
    cy += step_y;
    if (step_x * step_x + step_y * step_y < 1e-6) break;
  }
  return {cx, cy};
}

}  // namespace

ShiftTracker::ShiftTracker(const CalibrationPlan& plan, const StreamingOptions& options)
    : plan_(&plan), options_(options) {}

void ShiftTracker::pick_reference(const ShortFrame& frame) {
  const int cells = std::max(1, static_cast<int>(std::ceil(std::sqrt(std::max(1, options_.reference_stars)))));
  const int edge = kHalfBox + 1;
  for (int cy = 0; cy < cells; ++cy) {
    for (int cx = 0; cx < cells; ++cx) {
      const int cell_w = frame.width / cells, cell_h = frame.height / cells;
      const int w = std::min(options_.star_window_px, cell_w), h = std::min(options_.star_window_px, cell_h);
      const int x0 = cx * cell_w + (cell_w - w) / 2, y0 = cy * cell_h + (cell_h - h) / 2;
      const Window win = read_window(frame, *plan_, x0, y0, x0 + w, y0 + h);
      const auto peak = brightest(win, edge);
      if (!peak || !(peak->height > options_.detect_sigma * peak->noise)) continue;
      const auto [x, y] = centroid(win, *peak);
      reference_.push_back({x, y, peak->height});
    }
  }
  if (reference_.empty()) {
    throw StreamingInputError(frame.name, "reference stars",
                              "no star " + std::to_string(options_.detect_sigma) +
                                  " sigma above the sky in any of " + std::to_string(cells * cells) +
                                  " windows of the first frame: the minute cannot be registered");
  }
  std::sort(reference_.begin(), reference_.end(), [](const auto& a, const auto& b) { return a.peak > b.peak; });
  if (static_cast<int>(reference_.size()) > options_.reference_stars) reference_.resize(options_.reference_stars);
}

FrameShift ShiftTracker::measure(const ShortFrame& frame) {
  if (!started_) {
    pick_reference(frame);
    started_ = true;
    last_ = FrameShift{0, 0, 0, 0, static_cast<int>(reference_.size())};
    return last_;
  }
  const int r = options_.search_radius_px + kHalfBox + 1;
  std::vector<double> dx, dy;
  for (const auto& star : reference_) {
    const int px = static_cast<int>(std::lround(star.x)) + last_.ix;
    const int py = static_cast<int>(std::lround(star.y)) + last_.iy;
    const Window win = read_window(frame, *plan_, px - r, py - r, px + r + 1, py + r + 1);
    const auto peak = brightest(win, kHalfBox + 1);
    // Half the reference detection threshold: seeing and transparency vary frame to frame.
    if (!peak || !(peak->height > 0.5 * options_.detect_sigma * peak->noise)) continue;
    const auto [x, y] = centroid(win, *peak);
    dx.push_back(x - star.x);
    dy.push_back(y - star.y);
  }
  if (dx.empty()) {
    throw StreamingInputError(frame.name, "registration",
                              "none of the " + std::to_string(reference_.size()) +
                                  " reference stars found within " + std::to_string(options_.search_radius_px) +
                                  " px of where the previous frame had them");
  }
  FrameShift shift;
  shift.dx = median(std::span<const double>(dx));
  shift.dy = median(std::span<const double>(dy));
  shift.ix = static_cast<int>(std::lround(shift.dx));
  shift.iy = static_cast<int>(std::lround(shift.dy));
  shift.stars = static_cast<int>(dx.size());
  last_ = shift;
  return shift;
}

}  // namespace tianyu::pipeline::streaming
