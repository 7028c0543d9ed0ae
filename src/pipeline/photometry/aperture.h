#pragma once
// Aperture photometry of one frame at the template's positions (DESIGN.md section 3, step 9):
// SEP circular apertures at several radii at once, a local sky from an annulus (sigma-clipped
// median, so a neighbour in the annulus does not lift it), errors from the photon noise of the
// star (gain), the pixel noise of the sky (the frame's background RMS, which already holds the
// read noise and the dark current) and the uncertainty of the local sky, and flags.
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "pipeline/failure.h"
#include "pipeline/geometry.h"
#include "pipeline/image.h"

namespace tianyu::pipeline {

class PhotometryError : public Failure {
 public:
  using Failure::Failure;
};

enum PhotometryFlag : std::uint8_t {
  kApertureEdge = 1,        // the aperture or its annulus runs off the frame
  kApertureMasked = 2,      // a masked pixel (hot, bad flat, not finite) inside the aperture
  kApertureSaturated = 4,   // a saturated pixel inside the aperture
  kApertureNoSky = 8,       // too few good annulus pixels for a local sky
};

struct ApertureOptions {
  std::vector<double> radii_px;     // every radius measured (fixed, or FWHM multiples made by the caller)
  double annulus_inner_px = 0;      // 0: 2 x the largest radius (the published 20 px for 10 px)
  double annulus_outer_px = 0;      // 0: 3 x the largest radius
  double gain_e_per_adu = 1.0;      // 0: no photon noise term
  int subpixels = 0;                // SEP's subpixel sampling of the aperture edge; 0: exact overlap
  int threads = 0;                  // stars measured at once; <= 0: one per core (results do not depend on it)
};

// One frame's measurements: star-major, radius-minor (index = star * radii + r).
struct FramePhotometry {
  int stars = 0, radii = 0;
  std::vector<double> flux, flux_err;  // ADU, local sky subtracted
  std::vector<std::uint8_t> flags;     // PhotometryFlag bits per star and radius
  std::vector<float> sky;              // local sky per star (ADU per pixel)
  std::vector<double> x, y;            // where each star was measured in this frame
  double at(int star, int r) const { return flux[static_cast<std::size_t>(star) * radii + r]; }
};

// `image` is background-subtracted (the local sky removes what the global model left), `mask`
// its MaskBit flags (may be null), positions are on the reference grid and move to the frame by
// `transform`; `background_rms` is the per-pixel sky noise in ADU.
FramePhotometry measure_apertures(const Image& image, const std::vector<std::uint8_t>* mask,
                                  double background_rms, const std::vector<double>& template_x,
                                  const std::vector<double>& template_y, const FrameTransform& transform,
                                  const ApertureOptions& options);

// The median FWHM (px) of star-like sources, from SEP's second moments, for seeing-scaled radii.
double median_fwhm(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace tianyu::pipeline
