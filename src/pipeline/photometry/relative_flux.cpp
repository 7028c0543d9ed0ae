#include "pipeline/photometry/relative_flux.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "pipeline/parallel.h"
#include "pipeline/robust_stats.h"

namespace tianyu::pipeline {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check(const FluxTable& t) {
  const std::size_t cells = static_cast<std::size_t>(t.stars) * t.frames;
  auto require = [&](bool ok, const std::string& what) {
    if (!ok) throw RelativeFluxError("flux table: " + what);
  };
  require(t.stars >= 0 && t.frames >= 0, "negative size");
  require(t.flux.size() == cells && t.flux_err.size() == cells, "flux arrays are not stars x frames");
  require(t.flags.empty() || t.flags.size() == cells, "flags are not stars x frames");
  require(t.x.size() == static_cast<std::size_t>(t.stars) && t.y.size() == t.x.size(), "positions are not one per star");
  require(t.good_frame.size() == static_cast<std::size_t>(t.frames), "good_frame is not one per frame");
  require(t.known_variable.empty() || t.known_variable.size() == static_cast<std::size_t>(t.stars), "known_variable is not one per star");
  require(t.blended.empty() || t.blended.size() == static_cast<std::size_t>(t.stars), "blended is not one per star");
  require(t.excluded.empty() || t.excluded.size() == static_cast<std::size_t>(t.stars), "excluded is not one per star");
}

std::string format(const char* pattern, auto... values) {
  char text[512];
  std::snprintf(text, sizeof text, pattern, values...);
  return text;
}

// Why a star cannot be a reference; empty when it can.
std::string candidate_problem(const FluxTable& t, int s, std::uint8_t disqualifying) {
  if (!t.known_variable.empty() && t.known_variable[s]) return "a known variable";
  if (!t.blended.empty() && t.blended[s]) return "blended with a neighbour";
  if (!t.excluded.empty() && !t.excluded[s].empty()) return t.excluded[s];
  int missing = 0, flagged = 0;
  for (int f = 0; f < t.frames; ++f) {
    if (!t.good_frame[f]) continue;
    const std::size_t k = static_cast<std::size_t>(s) * t.frames + f;
    if (!(t.flux[k] > 0) || !std::isfinite(t.flux[k]) || !(t.flux_err[k] > 0)) ++missing;
    else if (!t.flags.empty() && (t.flags[k] & disqualifying)) ++flagged;
  }
  if (missing) return format("no positive flux in %d good frames", missing);
  if (flagged) return format("flagged (edge, saturated or no local sky) in %d good frames", flagged);
  return {};
}

// The relative light curves of references R over the good frames, for the group SNR.
double group_snr(const FluxTable& t, const std::vector<int>& refs) {
  if (refs.size() < 2) return 0;
  const int n = static_cast<int>(refs.size());
  double numerator = 0, weights = 0;
  std::vector<double> sum(t.frames, 0);
  for (const int j : refs) {
    for (int f = 0; f < t.frames; ++f) sum[f] += t.value(j, f);
  }
  for (const int k : refs) {
    double m = 0, m2 = 0;
    int count = 0;
    for (int f = 0; f < t.frames; ++f) {
      if (!t.good_frame[f]) continue;
      const double c = (n - 1) * t.value(k, f) / (sum[f] - t.value(k, f));
      m += c;
      m2 += c * c;
      ++count;
    }
    if (count < 2) return 0;
    m /= count;
    const double var = std::max(m2 / count - m * m, 1e-30);
    numerator += m / var;
    weights += 1.0 / var;
  }
  return numerator / std::sqrt(weights);
}

// Each reference's variability index: the RMS of its relative light curve over its
// point-to-point scatter (1.4826 MAD of successive differences / sqrt 2). White noise of any
// level, scintillation included, gives about 1; a slow variable gives its amplitude over its
// noise. It needs no noise model, which real nights rarely honour.
std::vector<double> trend_ratio(const FluxTable& t, const std::vector<int>& refs) {
  const int n = static_cast<int>(refs.size());
  std::vector<double> sum(t.frames, 0);
  for (const int j : refs) {
    for (int f = 0; f < t.frames; ++f) sum[f] += t.value(j, f);
  }
  std::vector<double> ratio;
  for (const int k : refs) {
    std::vector<double> curve;
    for (int f = 0; f < t.frames; ++f) {
      curve.push_back(t.good_frame[f] ? (n - 1) * t.value(k, f) / (sum[f] - t.value(k, f)) : kNaN);
    }
    std::vector<double> finite;
    for (const double c : curve) {
      if (std::isfinite(c)) finite.push_back(c);
    }
    const auto stats = sigma_clipped_stats(finite, {5, 5, 3});
    const double p2p = point_to_point_scatter(curve.data(), t.frames) * std::abs(median(finite));
    ratio.push_back(p2p > 0 ? stats.stddev / p2p : 1.0);
  }
  return ratio;
}

void drop(ReferenceGroup& g, std::size_t index, std::string why) {
  g.dropped.push_back(g.references[index]);
  g.dropped_reason.push_back(std::move(why));
  g.references.erase(g.references.begin() + static_cast<std::ptrdiff_t>(index));
}

void prune(const FluxTable& t, ReferenceGroup& g, const RelativeFluxOptions& options) {
  const std::size_t floor = static_cast<std::size_t>(std::max(options.min_kept_references, 2));
  // Slow variables first. The published SNR rule cannot see them: removing any reference costs
  // the sum sqrt((N-1)/N) by itself, more than a 1 % trend spread over N-1 other curves
  // gains back (measured on the simulator's EW binary and pulsator). So the reference whose
  // curve varies most slowly beyond its noise goes, when it stands out from the group (a
  // trend shared by all, such as colour-dependent extinction, does not remove everyone).
  while (options.prune_references && g.references.size() > floor) {
    const auto ratio = trend_ratio(t, g.references);
    const double typical = median(ratio);
    const auto worst = static_cast<std::size_t>(std::max_element(ratio.begin(), ratio.end()) - ratio.begin());
    if (!(ratio[worst] > options.max_trend_ratio && ratio[worst] > options.max_trend_ratio * typical)) break;
    drop(g, worst, format("a variable: its relative flux varies %.1f times its point-to-point scatter (group median %.1f)",
                          ratio[worst], typical));
  }
  // Then the published leave-one-out rule: events large enough to beat the count (flares).
  g.snr = group_snr(t, g.references);
  while (options.prune_references && g.references.size() > floor) {
    double best = g.snr;
    std::size_t best_index = g.references.size();
    for (std::size_t i = 0; i < g.references.size(); ++i) {
      std::vector<int> without = g.references;
      without.erase(without.begin() + static_cast<std::ptrdiff_t>(i));
      const double snr = group_snr(t, without);
      if (snr > best) {
        best = snr;
        best_index = i;
      }
    }
    if (best_index == g.references.size()) break;
    drop(g, best_index, format("leaving it out raised the group SNR from %.1f to %.1f", g.snr, best));
    g.snr = best;
  }
}

// Median flux over the good frames: what the flux quantiles sort on.
std::vector<double> median_levels(const FluxTable& t) {
  std::vector<double> level(t.stars);
  for (int s = 0; s < t.stars; ++s) {
    std::vector<double> v;
    for (int f = 0; f < t.frames; ++f) {
      if (t.good_frame[f]) v.push_back(t.value(s, f));
    }
    level[s] = median(v);
  }
  return level;
}

// Position bins over the template's extent.
class PositionBins {
 public:
  PositionBins(const FluxTable& t, const RelativeFluxOptions& options)
      : t_(t), nx_(options.position_bins_x), ny_(options.position_bins_y) {
    const auto [xmin, xmax] = std::minmax_element(t.x.begin(), t.x.end());
    const auto [ymin, ymax] = std::minmax_element(t.y.begin(), t.y.end());
    xmin_ = *xmin;
    ymin_ = *ymin;
    xspan_ = std::max(*xmax - *xmin, 1e-9);
    yspan_ = std::max(*ymax - *ymin, 1e-9);
  }
  int count() const { return nx_ * ny_; }
  int of(int s) const {
    const double fx = (t_.x[s] - xmin_) / xspan_;
    const double fy = (t_.y[s] - ymin_) / yspan_;
    const int bx = std::min(nx_ - 1, static_cast<int>(fx * nx_));
    const int by = std::min(ny_ - 1, static_cast<int>(fy * ny_));
    return by * nx_ + bx;
  }

 private:
  const FluxTable& t_;
  int nx_, ny_;
  double xmin_ = 0, ymin_ = 0, xspan_ = 1, yspan_ = 1;
};

// Flux-quantile groups of the candidates within each position bin (each sorted by level).
std::vector<ReferenceGroup> flux_groups(std::vector<std::vector<int>>& candidates, const std::vector<double>& level,
                                        const RelativeFluxOptions& options) {
  std::vector<ReferenceGroup> groups;
  for (int b = 0; b < static_cast<int>(candidates.size()); ++b) {
    auto& c = candidates[b];
    if (c.size() < 2) continue;  // one star cannot be measured against the others
    std::sort(c.begin(), c.end(), [&](int i, int j) { return level[i] < level[j]; });
    const int n_f = flux_group_count(static_cast<int>(c.size()), options.min_references);
    for (int q = 0; q < n_f; ++q) {
      ReferenceGroup g;
      g.position_bin = b;
      const std::size_t lo = c.size() * q / n_f, hi = c.size() * (q + 1) / n_f;
      g.references.assign(c.begin() + static_cast<std::ptrdiff_t>(lo), c.begin() + static_cast<std::ptrdiff_t>(hi));
      if (g.references.size() < 2) continue;
      g.min_flux = level[g.references.front()];
      g.max_flux = level[g.references.back()];
      groups.push_back(std::move(g));
    }
  }
  return groups;
}

// How far a flux lies outside a group's flux range, in log flux (0 inside, or for no flux).
double log_flux_distance(const ReferenceGroup& g, double flux) {
  if (!(flux > 0)) return 0.0;
  const double l = std::log(flux);
  if (l < std::log(g.min_flux)) return std::log(g.min_flux) - l;
  if (l > std::log(g.max_flux)) return l - std::log(g.max_flux);
  return 0.0;
}

// Every star joins a group: its own (a candidate), or the group of its bin whose flux range is
// nearest in log flux, or, in a bin without groups, the nearest such group anywhere.
std::vector<int> join_groups(const std::vector<ReferenceGroup>& groups, const std::vector<double>& level,
                             const PositionBins& bins) {
  const int stars = static_cast<int>(level.size()), count = static_cast<int>(groups.size());
  std::vector<int> group_of(stars, -1);
  for (int gi = 0; gi < count; ++gi) {
    for (const int s : groups[gi].references) group_of[s] = gi;
    for (const int s : groups[gi].dropped) group_of[s] = gi;
  }
  for (int s = 0; s < stars; ++s) {
    if (group_of[s] >= 0) continue;
    double best = std::numeric_limits<double>::infinity();
    for (int pass = 0; pass < 2 && group_of[s] < 0; ++pass) {
      for (int gi = 0; gi < count; ++gi) {
        if (pass == 0 && groups[gi].position_bin != bins.of(s)) continue;
        const double d = log_flux_distance(groups[gi], level[s]);
        if (d < best) { best = d; group_of[s] = gi; }
      }
    }
  }
  return group_of;
}

// Plain sum or weights by scatter for a group's kept references, over the good frames.
void choose_weighting(const FluxTable& t, ReferenceGroup& g, const RelativeFluxOptions& options) {
  if (options.min_weighting_gain < 0 || g.references.size() < 3) {
    g.weighting = "plain sum of the references";
    return;
  }
  ReferenceFluxes refs;
  refs.references = static_cast<int>(g.references.size());
  refs.frames = t.frames;
  refs.use_frame = t.good_frame;
  for (const int j : g.references) {
    for (int f = 0; f < t.frames; ++f) refs.flux.push_back(t.value(j, f));
  }
  const auto choice = choose_ensemble_weighting(refs, options.min_weighting_gain);
  g.weighted = choice.weighted;
  g.weights = choice.weights.weight;
  g.levels = choice.weights.level;
  g.scatter_equal = choice.scatter_equal;
  g.scatter_weighted = choice.scatter_weighted;
  g.weighting = choice.decision;
}

// The weighted comparison of one frame (reference `without` left out): C m_mean, the weighted
// mean of F_j / m_j scaled back to flux by the mean level (so that equal weights over equal
// stars give the plain sum's N F / sum F), and its relative variance.
std::pair<double, double> weighted_comparison_at(const FluxTable& t, const ReferenceGroup& g, int f, int without) {
  double sum = 0, total = 0, var = 0, level = 0;
  int n = 0;
  for (std::size_t i = 0; i < g.references.size(); ++i) {
    const int j = g.references[i];
    if (j == without) continue;
    const std::size_t k = static_cast<std::size_t>(j) * t.frames + f;
    sum += g.weights[i] * t.flux[k] / g.levels[i];
    var += std::pow(g.weights[i] * t.flux_err[k] / g.levels[i], 2);
    total += g.weights[i];
    level += g.levels[i];
    ++n;
  }
  if (!(total > 0) || n == 0) return {kNaN, kNaN};
  const double c = sum / total;
  return {c * level / n, var / (total * total) / (c * c)};
}

void weighted_relative_fluxes(const FluxTable& t, int gi, RelativeFluxResult& out) {
  const auto& g = out.groups[gi];
  for (int s = 0; s < t.stars; ++s) {
    if (out.group[s] != gi) continue;
    for (int f = 0; f < t.frames; ++f) {
      if (!t.good_frame[f]) continue;
      const std::size_t k = static_cast<std::size_t>(s) * t.frames + f;
      const auto [comparison, relative_var] = weighted_comparison_at(t, g, f, out.is_reference[s] ? s : -1);
      const double F = t.flux[k], e = t.flux_err[k];
      if (!(comparison > 0) || !std::isfinite(F)) continue;
      out.rel_flux[k] = F / comparison;
      out.rel_flux_err[k] = F != 0 ? std::abs(F / comparison) * std::sqrt(std::pow(e / F, 2) + relative_var) : e / comparison;
    }
  }
}

// Relative fluxes and their errors of group gi's stars, frame by frame: N_ref F / sum F_ref, a
// reference measured against the others.
void relative_fluxes_of_group(const FluxTable& t, int gi, RelativeFluxResult& out) {
  const auto& g = out.groups[gi];
  for (const int j : g.references) out.is_reference[j] = true;
  if (g.weighted) return weighted_relative_fluxes(t, gi, out);
  const int n = static_cast<int>(g.references.size());
  std::vector<double> sum(t.frames, 0), var(t.frames, 0);
  for (const int j : g.references) {
    for (int f = 0; f < t.frames; ++f) {
      sum[f] += t.value(j, f);
      var[f] += std::pow(t.flux_err[static_cast<std::size_t>(j) * t.frames + f], 2);
    }
  }
  for (int s = 0; s < t.stars; ++s) {
    if (out.group[s] != gi) continue;
    const bool ref = out.is_reference[s];
    for (int f = 0; f < t.frames; ++f) {
      if (!t.good_frame[f]) continue;
      const std::size_t k = static_cast<std::size_t>(s) * t.frames + f;
      const double F = t.flux[k], e = t.flux_err[k];
      const double S = ref ? sum[f] - F : sum[f];
      const double VS = ref ? var[f] - e * e : var[f];
      const int refs = ref ? n - 1 : n;
      if (!(S > 0) || !std::isfinite(F)) continue;
      const double rel = refs * F / S;
      out.rel_flux[k] = rel;
      const double relative_error2 = (F != 0 ? std::pow(e / F, 2) : 0) + std::max(VS, 0.0) / (S * S);
      out.rel_flux_err[k] = F != 0 ? std::abs(rel) * std::sqrt(relative_error2) : refs * e / S;
    }
  }
}

void record_decisions(RelativeFluxResult& out, const std::vector<std::string>& problem) {
  for (int s = 0; s < out.stars; ++s) {
    const int gi = out.group[s];
    const auto& g = out.groups[gi];
    if (out.is_reference[s]) {
      out.decision[s] = format("reference in group %d (%zu references; %s)", gi, g.references.size(), g.weighting.c_str());
    } else if (const auto it = std::find(g.dropped.begin(), g.dropped.end(), s); it != g.dropped.end()) {
      out.decision[s] = format("reference dropped from group %d: %s", gi,
                               g.dropped_reason[static_cast<std::size_t>(it - g.dropped.begin())].c_str());
    } else {
      out.decision[s] = format("measured against group %d (%s); not a reference: %s", gi, g.weighting.c_str(),
                               problem[s].empty() ? "a candidate outside the groups" : problem[s].c_str());
    }
  }
}

// Every star's curve NaN, no group, no decision yet.
RelativeFluxResult empty_result(const FluxTable& t) {
  RelativeFluxResult out;
  out.stars = t.stars;
  out.frames = t.frames;
  const std::size_t cells = static_cast<std::size_t>(t.stars) * t.frames;
  out.rel_flux.assign(cells, kNaN);
  out.rel_flux_err.assign(cells, kNaN);
  out.flags = t.flags.empty() ? std::vector<std::uint8_t>(cells, 0) : t.flags;
  out.group.assign(t.stars, -1);
  out.is_reference.assign(t.stars, false);
  out.decision.assign(t.stars, "");
  return out;
}

}  // namespace

int flux_group_count(int candidates, int min_references) {
  const int by_size = candidates / std::max(1, min_references);
  const int by_root = static_cast<int>(std::floor(std::sqrt(static_cast<double>(std::max(0, candidates)))));
  return std::max(1, std::min(by_size, by_root));
}

RelativeFluxResult calibrate_relative_flux(const FluxTable& t, const RelativeFluxOptions& options) {
  check(t);
  if (options.position_bins_x < 1 || options.position_bins_y < 1) {
    throw RelativeFluxError("position bins must be at least 1 x 1");
  }
  auto out = empty_result(t);
  if (t.stars == 0) return out;
  const auto level = median_levels(t);
  const PositionBins bins(t, options);
  std::vector<std::vector<int>> candidates(bins.count());
  std::vector<std::string> problem(t.stars);
  for (int s = 0; s < t.stars; ++s) {
    problem[s] = candidate_problem(t, s, options.disqualifying_flags);
    if (problem[s].empty()) candidates[bins.of(s)].push_back(s);
  }
  out.groups = flux_groups(candidates, level, options);
  if (out.groups.empty()) {
    for (int s = 0; s < t.stars; ++s) out.decision[s] = "no reference group: too few clean stars in the observation";
    return out;
  }
  for (auto& g : out.groups) {
    prune(t, g, options);
    choose_weighting(t, g, options);
  }
  out.group = join_groups(out.groups, level, bins);
  for (int gi = 0; gi < static_cast<int>(out.groups.size()); ++gi) relative_fluxes_of_group(t, gi, out);
  record_decisions(out, problem);
  return out;
}

std::vector<RelativeFluxResult> calibrate_relative_flux_radii(std::vector<FluxTable> per_radius,
                                                              const RelativeFluxOptions& options) {
  // The radii are independent calibrations: on all cores, each writing only its own result.
  std::vector<RelativeFluxResult> results(per_radius.size());
  parallel_for(per_radius.size(), 0, [&](std::size_t r) { results[r] = calibrate_relative_flux(per_radius[r], options); });
  if (per_radius.empty()) return results;
  const int stars = per_radius.front().stars;
  std::vector<std::string> excluded(stars);
  bool any = false;
  for (std::size_t r = 0; r < results.size(); ++r) {
    for (const auto& g : results[r].groups) {
      for (std::size_t d = 0; d < g.dropped.size(); ++d) {
        if (!excluded[g.dropped[d]].empty()) continue;
        excluded[g.dropped[d]] = format("dropped at aperture %zu: %s", r, g.dropped_reason[d].c_str());
        any = true;
      }
    }
  }
  if (!any) return results;
  parallel_for(per_radius.size(), 0, [&](std::size_t r) {
    auto& t = per_radius[r];
    if (t.excluded.empty()) t.excluded.assign(stars, "");
    for (int s = 0; s < stars; ++s) {
      if (t.excluded[s].empty()) t.excluded[s] = excluded[s];
    }
    results[r] = calibrate_relative_flux(t, options);
  });
  return results;
}

double point_to_point_scatter(const double* rel_flux, int frames) {
  std::vector<double> values, differences;
  double previous = kNaN;
  for (int f = 0; f < frames; ++f) {
    if (!std::isfinite(rel_flux[f])) continue;
    values.push_back(rel_flux[f]);
    if (std::isfinite(previous)) differences.push_back(rel_flux[f] - previous);
    previous = rel_flux[f];
  }
  if (differences.size() < 3) return kNaN;
  return mad_std(differences) / std::sqrt(2.0) / std::abs(median(values));
}

std::vector<int> best_radius_by_scatter(const std::vector<const RelativeFluxResult*>& per_radius) {
  if (per_radius.empty()) return {};
  const int stars = per_radius.front()->stars, frames = per_radius.front()->frames;
  std::vector<int> best(stars, -1);
  for (int s = 0; s < stars; ++s) {
    double lowest = std::numeric_limits<double>::infinity();
    for (std::size_t r = 0; r < per_radius.size(); ++r) {
      const double scatter = point_to_point_scatter(per_radius[r]->rel_flux.data() + static_cast<std::size_t>(s) * frames, frames);
      if (scatter < lowest) {
        lowest = scatter;
        best[s] = static_cast<int>(r);
      }
    }
  }
  return best;
}

}  // namespace tianyu::pipeline
