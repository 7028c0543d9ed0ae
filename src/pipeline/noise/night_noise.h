#pragma once
// A night's noise budget and systematics from its raw fluxes, for the relative_flux step: the
// gain from its constant stars when the header has none, every error recomputed with it, and
// the per-frame systematics that only the photometry itself can measure (seeing from the curve
// of growth, transparency from the references' flux). Pure: the step reads and stores.
#include <span>
#include <vector>

#include "pipeline/noise/gain.h"
#include "pipeline/photometry/relative_flux.h"
#include "pipeline/recipes/relative_flux.h"

namespace tianyu::pipeline {

// Flats paired for the photon-transfer curve: sorted by level (a sample's median), neighbours
// within `tolerance` (relative) and of one size paired, each flat in one pair at most (the
// difference of two flats cancels their fixed pattern only when their levels are alike).
std::vector<FramePair> pair_flats_by_level(std::span<const Image> flats, double tolerance = 0.1);

// The stars a gain is measured on: the references (constant by their selection) when there are
// at least `min_stars`, else every star with a curve in 80 % of the frames.
std::vector<int> constant_star_candidates(const recipes::ObservationLightCurves& lc, int min_stars = 8);

// Each of `stars`' scatter in its light curve (its best aperture, its group's comparison): the
// curve's clipped relative variance times its median flux F squared, with the non-photon part
// of its error budget (the median over frames of flux_err^2 - flux / gain_used) and the
// comparison's share (its photons as F^2 / C more of the star's, C the group's other references'
// flux). Local comparisons: against one sum over the whole chip, the flat-field errors of a
// drifting field (HAT-P-32: 270 px, no flats) swamp the photon noise.
std::vector<StarScatter> constant_star_scatters(const recipes::ObservationLightCurves& lc,
                                                const std::vector<FluxTable>& per_aperture,
                                                std::span<const int> stars, double gain_used);

// Every flux error of every radius recomputed for `gain_new` (the photon term), plus the
// variance the constant stars show beyond the photometry's budget: `extra_variance_adu2` (b)
// and the relative floor (sqrt c: scintillation, flat field, the comparison), so that the
// errors match the scatter of constant stars at every flux, not only the photon-limited ones.
void recompute_flux_errors(std::vector<FluxTable>& per_aperture, double gain_used, double gain_new,
                           double extra_variance_adu2 = 0, double relative_floor = 0);

// The seeing of each frame: the median over `stars` of the FWHM (pixels) of the Gaussian whose
// flux inside the smallest radius, as a fraction of that inside the largest, is the star's;
// NaN where no star gives one. `radii_px` by table.
std::vector<double> seeing_fwhm_px(const std::vector<FluxTable>& per_aperture, std::span<const double> radii_px,
                                   std::span<const int> stars);

// The sky's transparency in each frame: the median over `stars` of their flux in the largest
// radius over their own median over the night (1 = a typical frame); NaN where none is measured.
std::vector<double> transparency(const std::vector<FluxTable>& per_aperture, std::span<const double> radii_px,
                                 std::span<const int> stars);

// A Gaussian's FWHM whose flux within r_small over that within r_large is `fraction` (0 < f < 1);
// NaN when no Gaussian gives that fraction.
double gaussian_fwhm_from_fraction(double fraction, double r_small, double r_large);

}  // namespace tianyu::pipeline
