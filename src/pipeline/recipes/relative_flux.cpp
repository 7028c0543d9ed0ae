#include "pipeline/recipes/relative_flux.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "pipeline/noise/chi2.h"
#include "pipeline/photometry/precision.h"
#include "pipeline/recipes/recipe_error.h"
#include "pipeline/robust_stats.h"

namespace tianyu::pipeline::recipes {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_tables(const std::vector<FluxTable>& tables, std::size_t times) {
  if (tables.empty()) throw RecipeInputError("relative flux: no aperture radius measured");
  const auto& first = tables.front();
  if (first.stars == 0 || first.frames == 0) throw RecipeInputError("relative flux: no star or no frame measured");
  for (const auto& t : tables) {
    if (t.stars != first.stars || t.frames != first.frames) {
      throw RecipeInputError("relative flux: the aperture radii's flux tables differ in stars or frames");
    }
  }
  if (times != static_cast<std::size_t>(first.frames)) {
    throw RecipeInputError("relative flux: " + std::to_string(times) + " frame times for " +
                           std::to_string(first.frames) + " frames");
  }
}

// The radius most stars prefer (the first on a tie).
int main_aperture_of(const std::vector<int>& best, std::size_t radii) {
  std::vector<int> votes(radii, 0);
  for (const int b : best) {
    if (b >= 0) ++votes[b];
  }
  return static_cast<int>(std::max_element(votes.begin(), votes.end()) - votes.begin());
}

// The CDPP duration in cadences of the night: its mean cadence, at least one.
int cdpp_cadences_of(std::span<const double> bjd, double duration_d) {
  const auto frames = bjd.size();
  const double cadence_d = frames > 1 ? (bjd.back() - bjd.front()) / static_cast<double>(frames - 1) : 0.0;
  return cadence_d > 0 ? std::max(1, static_cast<int>(std::lround(duration_d / cadence_d))) : 1;
}

// The curve's precision: RMS, CDPP and finite points.
void measure_precision(SourceLightCurve& c, int cdpp_cadences, const RelativeFluxStepOptions& options) {
  c.points = 0;
  for (const double v : c.rel_flux) c.points += std::isfinite(v);
  c.rms = c.points >= options.min_rms_points ? relative_rms(c.rel_flux) : kNaN;
  c.reduced_chi2 = clipped_reduced_chi2_against_constant(c.rel_flux, c.rel_flux_err);
  c.cdpp_ppm = kNaN;
  if (c.points > 2 * cdpp_cadences + 3) {
    try {
      const int window = std::min(options.cdpp_trend_window, (c.points / 2) * 2 - 1);
      const double v = cdpp_ppm(c.rel_flux, cdpp_cadences, window);
      if (std::isfinite(v)) c.cdpp_ppm = v;
    } catch (const std::exception&) {  // too short a curve for the trend window: no CDPP
    }
  }
}

// Each star's median raw flux at each radius ([radius][star]), taken before the tables are
// handed to the calibration.
std::vector<std::vector<double>> median_raw_fluxes(const std::vector<FluxTable>& tables) {
  std::vector<std::vector<double>> medians;
  for (const auto& t : tables) {
    auto& m = medians.emplace_back(t.stars);
    const auto frames = static_cast<std::size_t>(t.frames);
    for (int s = 0; s < t.stars; ++s) m[s] = median(std::span<const double>(t.flux.data() + s * frames, frames));
  }
  return medians;
}

// Star `s`'s light curve in `result` (one radius), with that radius's median raw flux.
SourceLightCurve light_curve_of(int s, const RelativeFluxResult& result, double median_flux, double exptime_s) {
  SourceLightCurve c;
  const auto frames = static_cast<std::size_t>(result.frames);
  const auto first = static_cast<std::ptrdiff_t>(static_cast<std::size_t>(s) * frames);
  const auto last = first + static_cast<std::ptrdiff_t>(frames);
  c.rel_flux.assign(result.rel_flux.begin() + first, result.rel_flux.begin() + last);
  c.rel_flux_err.assign(result.rel_flux_err.begin() + first, result.rel_flux_err.begin() + last);
  c.flags.assign(result.flags.begin() + first, result.flags.begin() + last);
  c.group = result.group[s];
  c.is_reference = result.is_reference[s];
  c.decision = result.decision[s];
  c.median_flux = median_flux;
  c.instrumental_mag = c.median_flux > 0 ? -2.5 * std::log10(c.median_flux / exptime_s) : kNaN;
  return c;
}

}  // namespace

ObservationLightCurves relative_flux(std::vector<FluxTable> per_aperture, std::span<const double> bjd_tdb,
                                     double exptime_s, const RelativeFluxStepOptions& options) {
  check_tables(per_aperture, bjd_tdb.size());
  ObservationLightCurves out;
  const int stars = per_aperture.front().stars;
  const auto raw_medians = median_raw_fluxes(per_aperture);
  out.per_radius = calibrate_relative_flux_radii(std::move(per_aperture), options.calibration);
  std::vector<const RelativeFluxResult*> pointers;
  for (const auto& r : out.per_radius) pointers.push_back(&r);
  const auto best = best_radius_by_scatter(pointers);
  out.main_aperture = main_aperture_of(best, out.per_radius.size());
  out.groups = out.per_radius[out.main_aperture].groups;
  out.cdpp_cadences = cdpp_cadences_of(bjd_tdb, options.cdpp_duration_d);
  out.sources.reserve(stars);
  for (int s = 0; s < stars; ++s) {
    const int r = best[s] >= 0 ? best[s] : out.main_aperture;
    auto c = light_curve_of(s, out.per_radius[r], raw_medians[r][s], exptime_s);
    c.best_aperture = best[s];
    measure_precision(c, out.cdpp_cadences, options);
    out.sources.push_back(std::move(c));
  }
  std::vector<double> chi2;
  for (const auto& c : out.sources) {
    if (c.is_reference) chi2.push_back(c.reduced_chi2);
  }
  out.constant_stars_reduced_chi2 = median(chi2);
  return out;
}

}  // namespace tianyu::pipeline::recipes
