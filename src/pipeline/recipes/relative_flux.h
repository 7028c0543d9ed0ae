#pragma once
// The relative_flux step's recipe (DESIGN.md section 3, steps 10-11), the one the consumer
// runs and the tests and benchmarks judge: the raw fluxes of every aperture radius through one
// reference selection (calibrate_relative_flux_radii), each star's light curve at the radius of
// least point-to-point scatter, and its precision. The reference groups reported are those of
// the main radius, the one most stars prefer.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "pipeline/photometry/relative_flux.h"

namespace tianyu::pipeline::recipes {

struct RelativeFluxStepOptions {
  RelativeFluxOptions calibration{};  // reference groups and pruning (defaults in relative_flux.h)
  // CDPP over this duration, in cadences of the night (its mean cadence, (last - first) /
  // (frames - 1)), rounded, at least one; computed only for curves of more than 2 x that + 3
  // finite points.
  double cdpp_duration_d = 0.5 / 24;
  // Its Savitzky-Golay trend window (cadences): this many, or the largest odd number below the
  // curve's finite points when that is fewer.
  int cdpp_trend_window = 101;
  int min_rms_points = 3;  // fewer finite points: no RMS
};

struct SourceLightCurve {
  int best_aperture = -1;  // index into the radii; -1 when no radius gives a curve
  // At the best aperture (the main one when there is none); NaN in rejected or unusable frames.
  std::vector<double> rel_flux, rel_flux_err;
  std::vector<std::uint8_t> flags;  // the photometry's flags of each point
  // Its reference group at that aperture (an index into per_radius[aperture].groups, which
  // equals `groups` below only at the main aperture); -1 when none could take it.
  int group = -1;
  bool is_reference = false;
  std::string decision;             // in words
  double median_flux = 0;           // raw flux at that aperture (ADU), median of finite; NaN if none
  double instrumental_mag = 0;      // -2.5 log10(median_flux / exptime); NaN unless median_flux > 0
  double rms = 0;                   // relative_rms of the curve; NaN under min_rms_points
  double cdpp_ppm = 0;              // NaN when the curve is too short for the window
  int points = 0;                   // finite rel_flux values
  // Its curve against a constant: ~1 when the errors match the scatter (pipeline/noise/chi2.h,
  // 5-sigma clipped); NaN under 2 points.
  double reduced_chi2 = 0;
};

struct ObservationLightCurves {
  std::vector<SourceLightCurve> sources;   // in the tables' star order
  int main_aperture = 0;                    // the radius most stars prefer
  std::vector<ReferenceGroup> groups;       // of the main radius; star indices as in the tables
  std::vector<RelativeFluxResult> per_radius;  // every radius's calibration, for diagnostics
  int cdpp_cadences = 1;                    // the CDPP duration in cadences
  // The median reduced chi2 of the references' curves (constant stars by their selection)
  // against a constant: whether the observation's errors are honest; NaN without references.
  double constant_stars_reduced_chi2 = 0;
};

// `per_aperture`: one FluxTable per radius, same stars and frames; `bjd_tdb`: each frame's mid
// time, ascending (sets the cadence); `exptime_s`: the exposure for instrumental magnitudes.
// Throws RecipeInputError when the tables disagree or are empty; RelativeFluxError from the
// calibration.
ObservationLightCurves relative_flux(std::vector<FluxTable> per_aperture, std::span<const double> bjd_tdb,
                                     double exptime_s, const RelativeFluxStepOptions& options = {});

}  // namespace tianyu::pipeline::recipes
