#include "pipeline/detection/windowed.h"

#include <cmath>

#include "pipeline/detection/extract.h"
#include "pipeline/sep_support.h"

namespace tianyu::pipeline {

std::vector<PixelPosition> windowed_centroids(const Image& image, const std::vector<std::uint8_t>* mask,
                                              const std::vector<PixelPosition>& start, double fwhm_px,
                                              double max_shift_px) {
  if (!(fwhm_px > 0)) throw ExtractionError("windowed centroids need a positive FWHM");
  sep_image in = sep_support::view(image, mask);
  const double sigma = fwhm_px / 2.3548;
  std::vector<PixelPosition> refined = start;
  for (std::size_t i = 0; i < start.size(); ++i) {
    double x = 0, y = 0;
    int iterations = 0;
    short flag = 0;
    const int status = sep_windowed(&in, start[i].x, start[i].y, sigma, 5, 0, &x, &y, &iterations, &flag);
    if (status != 0) throw ExtractionError(sep_support::describe("sep_windowed", status));
    if (flag != 0 || !std::isfinite(x) || !std::isfinite(y)) continue;
    if (std::hypot(x - start[i].x, y - start[i].y) > max_shift_px) continue;
    refined[i] = {x, y};
  }
  return refined;
}

}  // namespace tianyu::pipeline
