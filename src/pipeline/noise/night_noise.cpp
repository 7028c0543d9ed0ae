#include "pipeline/noise/night_noise.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "pipeline/parallel.h"
#include "pipeline/robust_stats.h"

namespace tianyu::pipeline {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int index_of_radius(std::span<const double> radii, bool largest) {
  const auto it = largest ? std::max_element(radii.begin(), radii.end()) : std::min_element(radii.begin(), radii.end());
  return static_cast<int>(it - radii.begin());
}

// The Gaussian's fraction of its flux inside r over that inside R, for sigma s.
double fraction_for(double s, double r, double big) {
  return (1 - std::exp(-r * r / (2 * s * s))) / (1 - std::exp(-big * big / (2 * s * s)));
}

double frame_level(const Image& image) {
  std::vector<double> sample;
  for (std::size_t i = 0; i < image.pixels.size(); i += 97) sample.push_back(image.pixels[i]);
  return sample.empty() ? kNaN : median(sample);
}

}  // namespace

std::vector<FramePair> pair_flats_by_level(std::span<const Image> flats, double tolerance) {
  std::vector<std::pair<double, const Image*>> by_level;
  for (const auto& f : flats) by_level.emplace_back(frame_level(f), &f);
  std::sort(by_level.begin(), by_level.end(), [](auto& a, auto& b) { return a.first < b.first; });
  std::vector<FramePair> pairs;
  for (std::size_t i = 0; i + 1 < by_level.size();) {
    const auto& [la, a] = by_level[i];
    const auto& [lb, b] = by_level[i + 1];
    const bool alike = lb - la <= tolerance * lb && a->width == b->width && a->height == b->height;
    if (alike) pairs.push_back({a, b});
    i += alike ? 2 : 1;
  }
  return pairs;
}

std::vector<int> constant_star_candidates(const recipes::ObservationLightCurves& lc, int min_stars) {
  std::vector<int> refs, covered;
  const std::size_t frames = lc.sources.empty() ? 0 : lc.sources.front().rel_flux.size();
  for (std::size_t s = 0; s < lc.sources.size(); ++s) {
    const auto& c = lc.sources[s];
    if (c.is_reference) refs.push_back(static_cast<int>(s));
    if (c.points >= 0.8 * static_cast<double>(frames) && c.median_flux > 0) covered.push_back(static_cast<int>(s));
  }
  return static_cast<int>(refs.size()) >= min_stars ? refs : covered;
}

std::vector<StarScatter> constant_star_scatters(const recipes::ObservationLightCurves& lc,
                                                const std::vector<FluxTable>& per_aperture,
                                                std::span<const int> stars, double gain_used) {
  // Each star's median flux and non-photon variance at each radius, as needed.
  const auto level_of = [&](int r, int s, double* other) {
    const auto& t = per_aperture[static_cast<std::size_t>(r)];
    std::vector<double> flux, extra;
    for (int f = 0; f < t.frames; ++f) {
      const std::size_t k = static_cast<std::size_t>(s) * t.frames + f;
      if (!(std::isfinite(t.flux[k]) && t.flux[k] > 0)) continue;
      flux.push_back(t.flux[k]);
      const double v = non_photon_variance(t.flux[k], t.flux_err[k], gain_used);
      if (std::isfinite(v)) extra.push_back(v);
    }
    *other = extra.empty() ? 0.0 : median(extra);
    return flux.empty() ? kNaN : median(flux);
  };
  std::vector<StarScatter> out;
  for (const int s : stars) {
    const auto& c = lc.sources[static_cast<std::size_t>(s)];
    const int r = c.best_aperture >= 0 ? c.best_aperture : lc.main_aperture;
    const auto& groups = lc.per_radius[static_cast<std::size_t>(r)].groups;
    double other = 0, comparison = 0, comparison_other = 0;
    const double f = level_of(r, s, &other);
    if (c.group >= 0 && c.group < static_cast<int>(groups.size())) {
      for (const int j : groups[static_cast<std::size_t>(c.group)].references) {
        if (j == s) continue;
        double o = 0;
        const double l = level_of(r, j, &o);
        if (std::isfinite(l)) comparison += l, comparison_other += o;
      }
    }
    // The comparison's own noise is in the star's curve: its photons act as F^2 / C more photons
    // of the star, its sky as F^2 B_C / C^2 more sky (without this the gain of a group of N
    // references came out (N - 1) / N of the truth).
    const double share = comparison > 0 ? f / comparison : 0.0;
    auto scatter = star_scatter(c.rel_flux, f, other + share * share * comparison_other);
    scatter.flux_adu = f * (1 + share);
    out.push_back(scatter);
  }
  return out;
}

void recompute_flux_errors(std::vector<FluxTable>& per_aperture, double gain_used, double gain_new,
                           double extra_variance_adu2, double relative_floor) {
  const double floor2 = relative_floor * relative_floor;
  for (auto& t : per_aperture) {
    for (std::size_t k = 0; k < t.flux.size(); ++k) {
      if (std::isfinite(t.flux[k]) && std::isfinite(t.flux_err[k])) {
        const double e = flux_error_for_gain(t.flux[k], t.flux_err[k], gain_used, gain_new);
        t.flux_err[k] = std::sqrt(std::max(0.0, e * e + extra_variance_adu2 + floor2 * t.flux[k] * t.flux[k]));
      }
    }
  }
}

double gaussian_fwhm_from_fraction(double fraction, double r_small, double r_large) {
  if (!(fraction > 0 && fraction < 1 && r_small > 0 && r_large > r_small)) return kNaN;
  // The fraction falls as sigma grows: bisect on log sigma between a point and a wide blur.
  double lo = r_small * 1e-3, hi = r_large * 1e2;
  if (fraction_for(hi, r_small, r_large) > fraction || fraction_for(lo, r_small, r_large) < fraction) return kNaN;
  for (int i = 0; i < 100; ++i) {
    const double mid = std::sqrt(lo * hi);
    if (mid == lo || mid == hi) break;  // adjacent doubles (~57 halvings): nothing changes after
    (fraction_for(mid, r_small, r_large) > fraction ? lo : hi) = mid;
  }
  return 2.0 * std::sqrt(2.0 * std::log(2.0)) * std::sqrt(lo * hi);
}

std::vector<double> seeing_fwhm_px(const std::vector<FluxTable>& per_aperture, std::span<const double> radii_px,
                                   std::span<const int> stars) {
  if (per_aperture.size() < 2 || radii_px.size() != per_aperture.size()) {
    return std::vector<double>(per_aperture.empty() ? 0 : static_cast<std::size_t>(per_aperture.front().frames), kNaN);
  }
  const int small = index_of_radius(radii_px, false), large = index_of_radius(radii_px, true);
  const auto& a = per_aperture[static_cast<std::size_t>(small)];
  const auto& b = per_aperture[static_cast<std::size_t>(large)];
  std::vector<double> out(static_cast<std::size_t>(a.frames), kNaN);
  // Frames on all cores: each writes only its own value (a bisection per star and frame).
  parallel_for(static_cast<std::size_t>(a.frames), 0, [&](std::size_t frame) {
    const int f = static_cast<int>(frame);
    std::vector<double> fwhm;
    for (const int s : stars) {
      const double v = gaussian_fwhm_from_fraction(a.value(s, f) / b.value(s, f), radii_px[small], radii_px[large]);
      if (std::isfinite(v)) fwhm.push_back(v);
    }
    if (!fwhm.empty()) out[frame] = median(fwhm);
  });
  return out;
}

std::vector<double> transparency(const std::vector<FluxTable>& per_aperture, std::span<const double> radii_px,
                                 std::span<const int> stars) {
  if (per_aperture.empty()) return {};
  const auto& t = per_aperture[static_cast<std::size_t>(radii_px.size() == per_aperture.size()
                                                           ? index_of_radius(radii_px, true)
                                                           : static_cast<int>(per_aperture.size()) - 1)];
  std::vector<double> level;
  for (const int s : stars) {
    const auto row = std::span<const double>(t.flux.data() + static_cast<std::size_t>(s) * t.frames, t.frames);
    level.push_back(median(row));
  }
  std::vector<double> out(static_cast<std::size_t>(t.frames), kNaN);
  for (int f = 0; f < t.frames; ++f) {
    std::vector<double> ratio;
    for (std::size_t i = 0; i < stars.size(); ++i) {
      const double v = t.value(stars[i], f) / level[i];
      if (std::isfinite(v) && v > 0) ratio.push_back(v);
    }
    if (!ratio.empty()) out[static_cast<std::size_t>(f)] = median(ratio);
  }
  return out;
}

}  // namespace tianyu::pipeline
