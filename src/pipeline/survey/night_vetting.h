#pragma once
// Vetting a night's single-transit candidates against their own light curve and the field
// around them, so the night's ranking is a list an observer can trust. The model comparison
// (pipeline/transit/single_transit.h) says how much better a dip explains a curve than its
// trend; it cannot say whether the curve's noise is what its errors claim, whether the source
// sat at the frame edge or saturated, or whether every star dipped at that moment (clouds,
// twilight, a bad frame). Each test below is one of those questions, answered in numbers and in
// words; a candidate that fails one is ranked after every candidate that passes all.
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/survey/night_variability.h"
#include "pipeline/transit/search.h"

namespace tianyu::pipeline::survey {

// The dip of a box (t0, duration) measured against the curve's own noise: a straight line fitted
// to the points outside the box, depth = that line minus the mean inside, and its error from the
// outside residuals' robust scatter, binned to the number of points inside when that is larger
// (correlated noise at the event's time scale: Pont et al. 2006).
struct BoxDip {
  int points_in = 0, points_out = 0;
  double depth = 0, depth_err = 0, scatter = 0;  // relative flux; scatter per point
  double snr() const { return depth_err > 0 ? depth / depth_err : 0.0; }
};
BoxDip measure_box_dip(const LightCurveData& curve, double t0, double duration);

// What the night knows of one source besides its clean light curve.
struct NightSource {
  std::uint64_t source_id = 0;
  double x_px = 0, y_px = 0;     // on the template (first frame) grid
  double brightness = 0;          // template flux: faint stars share background errors
  bool is_reference = false;
  int frames = 0;                // the night's good frames
  int saturated_points = 0;      // relative_flux flags & 4
  int edge_points = 0;           // flags & 1 (aperture over the frame edge)
};

struct NightVettingOptions {
  double min_depth_snr = 7;      // depth over its own-noise error
  int min_points_in = 4, min_points_out = 10;
  double min_edge_distance_px = 15;
  double min_coverage = 0.75;    // clean points / good frames
  double max_saturated_fraction = 0.02;
  double max_planet_depth = 0.3;  // deeper: a binary or a bad measurement, not this ranking's planet
  // Compared with each candidate: its nearest sources on the frame, the sources nearest to it in
  // brightness (a sky-background error dims every faint star at once), and every reference.
  int neighbours = 10, similar_brightness = 10;
  double comparison_snr = 3;     // a comparison "dips too" above this depth SNR
  double max_comparisons_dipping = 0.25;  // systematics: more than this fraction dip too
  int frame_width = 0, frame_height = 0;  // 0: the edge test is skipped
  // A star varying within the night (night_variability.h): the curve outside the event varies
  // by more than this fraction of the depth beyond its point-to-point noise, and by more than
  // max_outside_to_white times that noise; or a sinusoid beats the box by this BIC difference.
  double max_outside_excess_of_depth = 0.3, max_outside_to_white = 1.5;
  double max_sinusoid_delta_bic = 10;
  int threads = 0;  // candidates vetted at once; <= 0: one per core (results do not depend on it)
};

// A candidate as the search found it.
struct NightCandidate {
  std::size_t curve = 0;  // index into the night's curves / sources
  double ln_bayes_factor = 0, t0 = 0, duration = 0, depth = 0;
};

struct NightVetting {
  std::size_t curve = 0;
  bool passed = true;
  int rank = 0;  // 1 = first
  BoxDip dip;
  double edge_distance_px = -1;   // -1: frame size unknown
  double coverage = 1;
  int comparisons = 0, comparisons_dipping = 0;
  NightVariability variability;
  std::vector<std::string> reasons;  // failures first, then notes; empty for a clean pass
  std::string reasons_text() const;
};

// Vets every candidate and ranks them: passed by ln Bayes factor, then failed by ln Bayes
// factor. `curves` and `sources` share indices; candidates index into them.
std::vector<NightVetting> vet_night(const std::vector<LightCurveData>& curves, const std::vector<NightSource>& sources,
                                    const std::vector<NightCandidate>& candidates, const NightVettingOptions& options);

}  // namespace tianyu::pipeline::survey
