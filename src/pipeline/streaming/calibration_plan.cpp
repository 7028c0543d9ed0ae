#include "pipeline/streaming/calibration_plan.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "pipeline/calibration/calibrate.h"
#include "pipeline/parallel.h"
#include "pipeline/robust_stats.h"

namespace tianyu::pipeline::streaming {
namespace {

void require_size(int width, int height, const Image* master, const char* what) {
  if (master && (master->width != width || master->height != height)) {
    throw CalibrationError(std::string(what) + " is " + std::to_string(master->width) + " x " +
                           std::to_string(master->height) + ", the short frames are " +
                           std::to_string(width) + " x " + std::to_string(height));
  }
}

bool finite(float v) { return std::abs(v) <= std::numeric_limits<float>::max(); }

}  // namespace

CalibrationPlan plan_calibration(int width, int height, double exptime_s, const Masters& masters,
                                 const StreamingOptions& options) {
  require_size(width, height, masters.bias, "the master bias");
  require_size(width, height, masters.dark_rate, "the master dark");
  require_size(width, height, masters.flat, "the master flat");
  CalibrationPlan plan;
  plan.width = width;
  plan.height = height;
  plan.exptime_s = exptime_s;
  plan.saturation_adu = static_cast<float>(options.saturation_adu);
  const std::size_t n = static_cast<std::size_t>(width) * height;
  plan.offset.assign(n, 0.0f);
  plan.gain.assign(n, 1.0f);
  const float hot = masters.dark_rate ? hot_pixel_threshold(*masters.dark_rate, options.hot_sigma) : 0.0f;
  const float t = static_cast<float>(exptime_s), min_flat = static_cast<float>(options.min_flat);
  std::vector<std::vector<int>> unusable(height);
  parallel_rows(height, options.threads, [&](int y0, int y1) {
    for (int y = y0; y < y1; ++y) {
      for (int x = 0; x < width; ++x) {
        const std::size_t i = static_cast<std::size_t>(y) * width + x;
        float offset = masters.bias ? masters.bias->pixels[i] : 0.0f;
        bool usable = true;
        if (masters.dark_rate) {
          const float d = masters.dark_rate->pixels[i];
          offset += d * t;
          usable = usable && d <= hot;  // NaN fails too
        }
        const float f = masters.flat ? masters.flat->pixels[i] : 1.0f;
        usable = usable && f >= min_flat && finite(f) && finite(offset);
        plan.offset[i] = usable ? offset : 0.0f;
        plan.gain[i] = usable ? 1.0f / f : 0.0f;
        if (!usable) unusable[y].push_back(x);
      }
    }
  });
  plan.unusable_start.assign(height + 1, 0);
  for (int y = 0; y < height; ++y) {
    plan.unusable_start[y + 1] = plan.unusable_start[y] + unusable[y].size();
    plan.unusable_x.insert(plan.unusable_x.end(), unusable[y].begin(), unusable[y].end());
  }
  plan.unusable = plan.unusable_x.size();
  if (plan.unusable == n) throw CalibrationError("the masters leave no pixel of the short frames usable");
  return plan;
}

}  // namespace tianyu::pipeline::streaming
