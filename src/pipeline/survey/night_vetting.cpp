#include "pipeline/survey/night_vetting.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <numeric>

#include "pipeline/parallel.h"
#include "pipeline/robust_stats.h"
#include "pipeline/survey/wording.h"

namespace tianyu::pipeline::survey {
namespace {

// Least-squares line through (t - t0, y) of the points outside the box; false with under 2.
bool fit_line(const LightCurveData& c, double t0, double half, double& a, double& b) {
  double s = 0, st = 0, stt = 0, sy = 0, sty = 0;
  for (std::size_t i = 0; i < c.time.size(); ++i) {
    const double u = c.time[i] - t0;
    if (std::abs(u) < half) continue;
    s += 1, st += u, stt += u * u, sy += c.flux[i], sty += u * c.flux[i];
  }
  if (s < 2) return false;
  const double det = s * stt - st * st;
  if (det <= 1e-18 * s * s) {  // all outside points at one time: a constant
    a = sy / s, b = 0;
    return true;
  }
  a = (stt * sy - st * sty) / det;
  b = (s * sty - st * sy) / det;
  return a > 0;
}

double std_of_bin_means(const std::vector<double>& residuals, int per_bin) {
  std::vector<double> means;
  for (std::size_t i = 0; i + per_bin <= residuals.size(); i += per_bin) {
    means.push_back(std::accumulate(residuals.begin() + i, residuals.begin() + i + per_bin, 0.0) / per_bin);
  }
  return means.size() >= 3 ? mad_std(means) : 0.0;
}

double edge_distance(const NightSource& s, const NightVettingOptions& o) {
  if (o.frame_width <= 0 || o.frame_height <= 0) return -1;
  return std::min({s.x_px, s.y_px, o.frame_width - 1 - s.x_px, o.frame_height - 1 - s.y_px});
}

// What every candidate's comparisons need of the field, computed once a night rather than once
// a candidate (2,968 candidates on the "paper" night).
struct FieldIndex {
  std::vector<double> log_brightness;  // NaN where there is no brightness
  std::vector<std::size_t> references;
};

FieldIndex index_field(const std::vector<NightSource>& sources) {
  FieldIndex f;
  for (std::size_t j = 0; j < sources.size(); ++j) {
    f.log_brightness.push_back(sources[j].brightness > 0 ? std::log(sources[j].brightness) : std::nan(""));
    if (sources[j].is_reference) f.references.push_back(j);
  }
  return f;
}

// The `count` sources other than `self` nearest by `distance`, appended to `out`.
template <class D>
void add_nearest(std::size_t self, std::size_t n, int count, D distance, std::vector<std::size_t>& out) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  const auto k = std::min<std::size_t>(static_cast<std::size_t>(count) + 1, n);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](auto i, auto j) { return distance(i) < distance(j); });
  for (std::size_t i = 0; i < k; ++i) {
    if (order[i] != self) out.push_back(order[i]);
  }
}

// The sources compared with `self` besides the references, each once and never a reference:
// its nearest neighbours on the frame and the nearest in brightness.
std::vector<std::size_t> nearest_of(std::size_t self, const std::vector<NightSource>& sources,
                                    const FieldIndex& field, const NightVettingOptions& o) {
  const auto& me = sources[self];
  std::vector<std::size_t> out;
  add_nearest(self, sources.size(), o.neighbours,
              [&](std::size_t j) {
                const double dx = sources[j].x_px - me.x_px, dy = sources[j].y_px - me.y_px;
                return dx * dx + dy * dy;
              },
              out);
  if (me.brightness > 0) {
    const double mine = field.log_brightness[self];
    add_nearest(self, sources.size(), o.similar_brightness, [&](std::size_t j) {
      return sources[j].brightness > 0 ? std::abs(field.log_brightness[j] - mine) : 1e300;
    }, out);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  out.erase(std::remove_if(out.begin(), out.end(), [&](std::size_t j) { return j == self || sources[j].is_reference; }),
            out.end());
  return out;
}

// The box's line and the residuals about it: what both a full measurement and a comparison's
// verdict need. `measurable` false: the measurement ends there (no line, nothing inside, or
// under 2 points outside), and `dip` is the whole answer. The outside residuals are only
// computed on request (add_outside): a comparison that does not dip never needs them.
struct BoxResiduals {
  BoxDip dip;  // points in and out, and the depth; the scatter and errors are add_scatter's
  double a = 0, b = 0;      // the line through the outside points
  std::vector<double> out;  // the residuals outside the box, in time order
  bool measurable = false;
};

BoxResiduals box_inside(const LightCurveData& c, double t0, double duration) {
  BoxResiduals r;
  const double half = 0.5 * duration;
  if (!fit_line(c, t0, half, r.a, r.b)) return r;
  double in_sum = 0;
  for (std::size_t i = 0; i < c.time.size(); ++i) {
    const double u = c.time[i] - t0;
    if (std::abs(u) < half) ++r.dip.points_in, in_sum += c.flux[i] / (r.a + r.b * u) - 1;
  }
  r.dip.points_out = static_cast<int>(c.time.size()) - r.dip.points_in;
  if (r.dip.points_in == 0 || r.dip.points_out < 2) return r;
  r.dip.depth = -in_sum / r.dip.points_in;
  r.measurable = true;
  return r;
}

void add_outside(BoxResiduals& r, const LightCurveData& c, double t0, double duration) {
  const double half = 0.5 * duration;
  r.out.reserve(static_cast<std::size_t>(r.dip.points_out));
  for (std::size_t i = 0; i < c.time.size(); ++i) {
    const double u = c.time[i] - t0;
    if (!(std::abs(u) < half)) r.out.push_back(c.flux[i] / (r.a + r.b * u) - 1);
  }
}

// The depth's error from the outside residuals' robust scatter, binned to the points inside.
void add_scatter(BoxDip& dip, const std::vector<double>& out) {
  dip.scatter = mad_std(out);
  const double white = dip.scatter / std::sqrt(double(dip.points_in));
  dip.depth_err = std::max(white, std_of_bin_means(out, dip.points_in));
}

// True when the depth (> 0) is surely at most `snr` (> 0) times its error, decided with one
// selection instead of mad_std's two and the binned scatter: most comparison stars are nowhere
// near dipping. The scatter at which the depth would be `snr` white errors, a hair above it, is
// a floor; when at most (n - 1) / 2 outside residuals lie within the floor of their median,
// the median absolute deviation (the middle, or the mean of the middle two, of those same
// deviations) is at least the floor. Every step from there to snr() (x 1.4826, / sqrt(points
// in), the max with the binned error, depth / error) is monotone in IEEE arithmetic, so the
// SNR is then at most its value at the floor: the verdict is the full measurement's, exactly.
bool surely_not_above(const BoxDip& dip, const std::vector<double>& out, double snr) {
  constexpr double kMadToSigma = 1.482602218505602;  // as mad_std
  const double root_in = std::sqrt(double(dip.points_in));
  const double mad_floor = dip.depth * root_in / snr / kMadToSigma * (1 + 1e-9);
  const double white_floor = kMadToSigma * mad_floor / root_in;
  if (!(white_floor > 0) || !(dip.depth / white_floor <= snr)) return false;
  std::vector<double> finite;
  finite.reserve(out.size());
  for (const double x : out) {
    if (std::isfinite(x)) finite.push_back(x);
  }
  if (finite.empty()) return false;
  const double m = median_in_place(finite);  // mad_std's median: the same order statistic
  std::size_t within = 0;
  for (const double x : finite) within += std::abs(x - m) < mad_floor;
  return within <= (finite.size() - 1) / 2;
}

// A comparison star's verdict at one event: not usable (too few points in or out), usable, or
// usable and dipping too; the same verdict as measure_box_dip's numbers give, computing only
// what decides it (a million of these on a night: every reference at every event).
enum Verdict : std::uint8_t { kUnusable = 0, kUsable = 1, kDipping = 2 };

Verdict comparison_verdict(const LightCurveData& curve, double t0, double duration, const NightVettingOptions& o) {
  auto r = box_inside(curve, t0, duration);
  auto& dip = r.dip;
  if (dip.points_in < o.min_points_in || dip.points_out < o.min_points_out) return kUnusable;
  if (r.measurable) {
    // snr() is depth / error with error > 0, or 0: never above a threshold >= 0 unless depth > 0.
    if (o.comparison_snr >= 0 && !(dip.depth > 0)) return kUsable;
    add_outside(r, curve, t0, duration);
    if (o.comparison_snr > 0 && surely_not_above(dip, r.out, o.comparison_snr)) return kUsable;
    add_scatter(dip, r.out);
  }
  return dip.snr() > o.comparison_snr ? kDipping : kUsable;
}

// Every reference's verdict at one (t0, duration): the same for all candidates of that event,
// and the search puts most candidates on a few hundred of its grid's events (2,561 candidates
// on 632 events, 1,268 references, on a 200-frame "paper" night).
std::vector<Verdict> reference_verdicts(double t0, double duration, const std::vector<LightCurveData>& curves,
                                        const FieldIndex& field, const NightVettingOptions& o) {
  std::vector<Verdict> out;
  out.reserve(field.references.size());
  for (const auto j : field.references) out.push_back(comparison_verdict(curves[j], t0, duration, o));
  return out;
}

// The candidate against every reference but itself, and its nearest others.
void compare_with_field(NightVetting& v, const NightCandidate& c, const std::vector<LightCurveData>& curves,
                        const std::vector<NightSource>& sources, const FieldIndex& field,
                        const std::vector<Verdict>& references, const NightVettingOptions& o) {
  auto count = [&](Verdict verdict) {
    v.comparisons += verdict != kUnusable;
    v.comparisons_dipping += verdict == kDipping;
  };
  for (std::size_t r = 0; r < field.references.size(); ++r) {
    if (field.references[r] != c.curve) count(references[r]);
  }
  for (const auto j : nearest_of(c.curve, sources, field, o)) count(comparison_verdict(curves[j], c.t0, c.duration, o));
}

// A star that varies within the night: its minima look like transits to the box model.
void variability_reasons(const NightVetting& v, const NightVettingOptions& o, std::vector<std::string>& fails) {
  const auto& s = v.variability;
  const double depth = std::max(v.dip.depth, 0.0);
  if (s.excess_rms > o.max_outside_excess_of_depth * depth && s.outside_rms > o.max_outside_to_white * s.point_to_point) {
    fails.push_back(format("varies outside the event by %.2f %% rms, %.1f times its point-to-point noise (%.2f %%): a "
                           "variable star, not a transit",
                           100 * s.outside_rms, s.outside_rms / s.point_to_point, 100 * s.point_to_point));
  } else if (s.delta_bic > o.max_sinusoid_delta_bic) {
    fails.push_back(format("a sinusoid of period %.2f d and amplitude %.2f %% explains the night better than the dip "
                           "(BIC lower by %.0f): a variable star, not a transit",
                           s.sinusoid_period_d, 100 * s.sinusoid_amplitude, s.delta_bic));
  }
}

void judge(NightVetting& v, const NightSource& s, const NightCandidate& c, const NightVettingOptions& o) {
  std::vector<std::string> fails, notes;
  const auto& d = v.dip;
  if (d.points_in < o.min_points_in) fails.push_back(format("only %d points in the event", d.points_in));
  if (d.points_out < o.min_points_out) fails.push_back(format("only %d points outside the event", d.points_out));
  // With too few points outside, the scatter (so the SNR) is not measured: the count says why.
  if (d.points_in >= o.min_points_in && d.points_out >= o.min_points_out && d.snr() < o.min_depth_snr) {
    fails.push_back(format("depth %.2f %% is %.1f times its error from the light curve's own scatter "
                                "(%.2f %% per point), under %g",
                                100 * d.depth, d.snr(), 100 * d.scatter, o.min_depth_snr));
  }
  if (v.edge_distance_px >= 0 && v.edge_distance_px < o.min_edge_distance_px) {
    fails.push_back(format("%.1f px from the frame edge (the drifting field cuts its aperture)", v.edge_distance_px));
  }
  if (v.coverage < o.min_coverage) {
    fails.push_back(format("clean points in only %.0f %% of the night's frames", 100 * v.coverage));
  }
  const double saturated = s.frames > 0 ? double(s.saturated_points) / s.frames : 0.0;
  if (saturated > o.max_saturated_fraction) {
    fails.push_back(format("saturated in %d of %d frames", s.saturated_points, s.frames));
  } else if (s.saturated_points > 0) {
    notes.push_back(format("saturated in %d frames (left out)", s.saturated_points));
  }
  if (v.comparisons >= 3 && v.comparisons_dipping > o.max_comparisons_dipping * v.comparisons) {
    fails.push_back(format("the same dip in %d of %d neighbours, stars of its brightness and references: systematics",
                                v.comparisons_dipping, v.comparisons));
  }
  variability_reasons(v, o, fails);
  if (c.depth > o.max_planet_depth) {
    fails.push_back(format("depth %.0f %%: deeper than any planet (an eclipsing binary or a bad measurement)",
                           100 * c.depth));
  }
  v.passed = fails.empty();
  v.reasons = std::move(fails);
  v.reasons.insert(v.reasons.end(), notes.begin(), notes.end());
}

}  // namespace

BoxDip measure_box_dip(const LightCurveData& c, double t0, double duration) {
  auto r = box_inside(c, t0, duration);
  if (!r.measurable) return r.dip;
  add_outside(r, c, t0, duration);
  add_scatter(r.dip, r.out);
  return r.dip;
}

std::string NightVetting::reasons_text() const {
  std::string out;
  for (const auto& r : reasons) out += (out.empty() ? "" : "; ") + r;
  return out.empty() ? "passed every test" : out;
}

// Candidates grouped by their event (t0, duration), compared exactly: the references'
// verdicts are computed once an event, and a group is vetted by one worker.
std::vector<std::vector<std::size_t>> candidates_by_event(const std::vector<NightCandidate>& candidates) {
  std::map<std::pair<double, double>, std::vector<std::size_t>> groups;
  for (std::size_t k = 0; k < candidates.size(); ++k) groups[{candidates[k].t0, candidates[k].duration}].push_back(k);
  std::vector<std::vector<std::size_t>> out;
  out.reserve(groups.size());
  for (auto& [event, members] : groups) out.push_back(std::move(members));
  // The events with the most candidates first, so that none of them is the last item a worker
  // takes while the other idles (each candidate's entry is written by one worker whatever the order).
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return out;
}

std::vector<NightVetting> vet_night(const std::vector<LightCurveData>& curves, const std::vector<NightSource>& sources,
                                    const std::vector<NightCandidate>& candidates, const NightVettingOptions& o) {
  const auto field = index_field(sources);
  const auto events = candidates_by_event(candidates);
  std::vector<NightVetting> out(candidates.size());
  // Each candidate writes only its own entry.
  parallel_for(events.size(), o.threads, [&](std::size_t e) {
    const auto& first = candidates[events[e].front()];
    const auto references = reference_verdicts(first.t0, first.duration, curves, field, o);
    for (const auto k : events[e]) {
      const auto& c = candidates[k];
      NightVetting& v = out[k];
      v.curve = c.curve;
      const auto& s = sources[c.curve];
      v.dip = measure_box_dip(curves[c.curve], c.t0, c.duration);
      v.variability = measure_night_variability(curves[c.curve], c.t0, c.duration);
      v.edge_distance_px = edge_distance(s, o);
      v.coverage = s.frames > 0 ? double(curves[c.curve].time.size()) / s.frames : 1.0;
      compare_with_field(v, c, curves, sources, field, references, o);
      judge(v, s, c, o);
    }
  });
  std::vector<std::size_t> order(out.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](auto i, auto j) {
    if (out[i].passed != out[j].passed) return out[i].passed;
    return candidates[i].ln_bayes_factor > candidates[j].ln_bayes_factor;
  });
  for (std::size_t r = 0; r < order.size(); ++r) out[order[r]].rank = static_cast<int>(r) + 1;
  return out;
}

}  // namespace tianyu::pipeline::survey
