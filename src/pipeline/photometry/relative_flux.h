#pragma once
// Relative-flux calibration over an observation (DESIGN.md section 3, step 10). Reference
// candidates are stars measured cleanly in every good frame, not known variables, not blended;
// they are grouped by position bin and then by flux quantile within a bin,
//   n_f = max(1, min(floor(N_p / N_minref), floor(sqrt(N_p)))) groups for N_p candidates;
// a non-reference star's relative flux is N_ref F_i / sum_j F_ref,j, a reference's is
// (N_ref - 1) F_k / sum_{j != k} F_ref,j. The group SNR is
//   sum_j (mean_j / sigma_j^2) / sqrt(sum_j 1 / sigma_j^2)
// over the references' relative light curves, and a reference whose removal raises it is
// dropped (flares), one at a time; before that, a reference whose curve scatters far beyond its
// noise is dropped as a variable (an addition: see prune()). Every star gets a light curve and
// every decision is recorded.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "pipeline/failure.h"
#include "pipeline/noise/ensemble.h"

namespace tianyu::pipeline {

class RelativeFluxError : public Failure {
 public:
  using Failure::Failure;
};

// Fluxes of one aperture radius, star-major (index = star * frames + frame).
struct FluxTable {
  int stars = 0, frames = 0;
  std::vector<double> flux, flux_err;
  std::vector<std::uint8_t> flags;  // PhotometryFlag bits (see RelativeFluxOptions::disqualifying_flags)
  std::vector<double> x, y;         // template positions
  std::vector<bool> good_frame;     // the quality selection's verdicts
  std::vector<bool> known_variable; // from a catalogue; empty: none known
  std::vector<bool> blended;        // from the cross-match; empty: none known
  std::vector<std::string> excluded;  // a reason keeps that star from the references; empty: none
  double value(int star, int frame) const { return flux[static_cast<std::size_t>(star) * frames + frame]; }
};

struct RelativeFluxOptions {
  int position_bins_x = 2, position_bins_y = 2;  // over the template's extent
  int min_references = 6;       // N_minref
  int min_kept_references = 2;  // pruning never goes below this
  bool prune_references = true;
  // Photometry flags that keep a star from the references when raised in any good frame: the
  // edge (1), saturation (4) and a missing local sky (8). A masked pixel (2) is not among them:
  // the aperture repairs it from its mirror, and with a drifting field nearly every star
  // crosses a hot pixel some time in a night (on the simulator this left 2-7 candidates per
  // position bin, faint ones, and biased the target's transit by up to 42 %).
  std::uint8_t disqualifying_flags = 1 | 4 | 8;
  // A reference whose relative curve's RMS exceeds its point-to-point scatter by this factor,
  // and the group's median such ratio by this factor too, is dropped as a variable (before the
  // published leave-one-out SNR rule, which only sees events that outweigh one reference).
  double max_trend_ratio = 1.3;  // white noise over ~100 frames: 1.0 +- 0.1
  // Each group's comparison may be weighted by its references' measured scatter (Broeg 2005,
  // pipeline/noise/ensemble.h) instead of the plain sum of their fluxes, when that lowers the
  // median scatter of the references against the others by at least this fraction; < 0 never.
  double min_weighting_gain = 0.01;
};

struct ReferenceGroup {
  int position_bin = 0;
  std::vector<int> references;  // kept
  std::vector<int> dropped;     // by the pruning rules, in order
  std::vector<std::string> dropped_reason;
  double min_flux = 0, max_flux = 0;  // median fluxes spanned by its candidates
  double snr = 0;               // with the kept references
  // The comparison: the plain sum of the kept references' fluxes, or (weighted) the weighted
  // mean of their fluxes over their median levels, weights per kept reference summing to 1.
  bool weighted = false;
  std::vector<double> weights, levels;  // per kept reference (empty: not computed)
  double scatter_equal = 0, scatter_weighted = 0;  // median reference scatter with each (relative)
  std::string weighting;                // the decision, in words
};

struct RelativeFluxResult {
  int stars = 0, frames = 0;
  std::vector<double> rel_flux, rel_flux_err;  // star-major; NaN in rejected frames or unusable
  std::vector<std::uint8_t> flags;             // the photometry's flags of each point, carried along
  std::vector<int> group;                       // per star; -1 when no group could take it
  std::vector<bool> is_reference;
  std::vector<std::string> decision;            // per star, in words
  std::vector<ReferenceGroup> groups;
  double value(int star, int frame) const { return rel_flux[static_cast<std::size_t>(star) * frames + frame]; }
};

// n_f for N_p candidates.
int flux_group_count(int candidates, int min_references = 6);

RelativeFluxResult calibrate_relative_flux(const FluxTable& table, const RelativeFluxOptions& options = {});

// Every radius at once, with one set of references: a star the pruning drops at any radius is
// dropped at all (a slow variable can sit just under the bound at one radius and poison every
// curve measured against it there), then each radius is calibrated again without them.
std::vector<RelativeFluxResult> calibrate_relative_flux_radii(std::vector<FluxTable> per_radius,
                                                              const RelativeFluxOptions& options = {});

// The best aperture per star: the index of the result (one per radius) whose light curve has
// the least point-to-point scatter (1.4826 MAD of successive differences over sqrt 2, relative
// to the median), which ignores slow astrophysical variation; -1 when no radius gives a curve.
std::vector<int> best_radius_by_scatter(const std::vector<const RelativeFluxResult*>& per_radius);

// That scatter for one star's curve (NaN points skipped).
double point_to_point_scatter(const double* rel_flux, int frames);

}  // namespace tianyu::pipeline
