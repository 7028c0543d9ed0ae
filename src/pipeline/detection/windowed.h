#pragma once
// Windowed centroids (Source Extractor's XWIN/YWIN, SEP's sep_windowed): the barycentre of the
// pixels above threshold is pulled by noise in a faint source's outer isophote; a Gaussian
// window of the seeing's width, iterated, is several times more precise and is what an
// astrometric solution and photometry at fixed positions want.
#include <cstdint>
#include <vector>

#include "pipeline/image.h"

namespace tianyu::pipeline {

struct PixelPosition {
  double x = 0, y = 0;  // 0-based
};

// Each start position refined with a window of sigma = FWHM / 2.3548; a position whose
// iteration SEP flags, or that moves more than `max_shift_px` (a neighbour took it), keeps its
// start. Throws ExtractionError on a SEP failure other than a per-source flag.
std::vector<PixelPosition> windowed_centroids(const Image& image, const std::vector<std::uint8_t>* mask,
                                              const std::vector<PixelPosition>& start, double fwhm_px,
                                              double max_shift_px = 1.0);

}  // namespace tianyu::pipeline
