#include "pipeline/noise/gain.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include <Eigen/Dense>

#include "pipeline/robust_stats.h"

namespace tianyu::pipeline {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string format(const char* pattern, auto... values) {
  char text[240];
  std::snprintf(text, sizeof text, pattern, values...);
  return text;
}

void check_pair(const FramePair& p, const char* what) {
  if (!p.first || !p.second) throw GainError(std::string(what) + ": a frame of the pair is missing");
  if (p.first->width != p.second->width || p.first->height != p.second->height) {
    throw GainError(format("%s: the pair differs in size (%dx%d and %dx%d)", what, p.first->width,
                           p.first->height, p.second->width, p.second->height));
  }
}

struct TileStats {
  double level = 0;     // mean of the two frames
  double variance = 0;  // of one frame's noise, from the difference
};

// One tile of a pair: the clipped mean of each frame and the clipped variance of A - k B, k
// matching B's level to A's so the fixed pattern cancels, divided by 1 + k^2.
TileStats tile_stats(const FramePair& p, int x0, int y0, int size, double clip) {
  std::vector<double> a, b;
  for (int y = y0; y < y0 + size; ++y) {
    for (int x = x0; x < x0 + size; ++x) {
      a.push_back(p.first->at(x, y));
      b.push_back(p.second->at(x, y));
    }
  }
  const ClipOptions options{clip, clip, 10};
  const double ma = sigma_clipped_stats(a, options).mean, mb = sigma_clipped_stats(b, options).mean;
  const double k = mb != 0 ? ma / mb : 1.0;
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - k * b[i];
  const auto s = sigma_clipped_stats(d, options);
  return {0.5 * (ma + mb), s.stddev * s.stddev / (1 + k * k)};
}

std::vector<TileStats> pair_tiles(const FramePair& p, const PhotonTransferOptions& o) {
  std::vector<TileStats> tiles;
  const int w = p.first->width, h = p.first->height, m = o.margin_px, t = o.tile_px;
  for (int y0 = m; y0 + t <= h - m; y0 += t) {
    for (int x0 = m; x0 + t <= w - m; x0 += t) tiles.push_back(tile_stats(p, x0, y0, t, o.clip_sigma));
  }
  return tiles;
}

// Least squares of var = slope S + intercept (or through the origin); returns {slope, intercept,
// slope's standard error from the residual scatter}.
Eigen::Vector3d fit_transfer(const std::vector<double>& s, const std::vector<double>& var, bool intercept) {
  const int n = static_cast<int>(s.size()), k = intercept ? 2 : 1;
  Eigen::MatrixXd A(n, k);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) {
    A(i, 0) = s[i];
    if (intercept) A(i, 1) = 1.0;
    y(i) = var[i];
  }
  const Eigen::MatrixXd normal = A.transpose() * A;
  const Eigen::VectorXd beta = normal.ldlt().solve(A.transpose() * y);
  const double rss = (A * beta - y).squaredNorm();
  const double slope_var = rss / std::max(1, n - k) * normal.inverse()(0, 0);
  return {beta(0), intercept ? beta(1) : 0.0, std::sqrt(slope_var)};
}

}  // namespace

const char* gain_source_name(GainSource source) {
  switch (source) {
    case GainSource::header: return "header";
    case GainSource::flat_photon_transfer: return "flat_photon_transfer";
    case GainSource::constant_star_scatter: return "constant_star_scatter";
    default: return "assumed";
  }
}

GainEstimate gain_from_flat_pairs(std::span<const FramePair> flats, const FramePair& bias,
                                  const PhotonTransferOptions& o) {
  if (flats.empty()) throw GainError("photon transfer: no flat pair given");
  if (o.tile_px < 8) throw GainError("photon transfer: tile_px must be at least 8");
  const bool have_bias = bias.first || bias.second;
  double bias_level = o.bias_level_adu, read_var = kNaN;
  if (have_bias) {
    check_pair(bias, "bias pair");
    std::vector<double> levels, vars;
    for (const auto& t : pair_tiles(bias, o)) levels.push_back(t.level), vars.push_back(t.variance);
    if (levels.empty()) throw GainError("bias pair: smaller than one tile inside the margins");
    bias_level = median(levels);
    read_var = median(vars);
  }
  std::vector<double> s, var;
  for (const auto& p : flats) {
    check_pair(p, "flat pair");
    for (const auto& t : pair_tiles(p, o)) {
      if (t.level > o.max_level_adu) continue;
      s.push_back(t.level - bias_level);
      var.push_back(have_bias ? t.variance - read_var : t.variance);
    }
  }
  if (s.size() < 4) throw GainError(format("photon transfer: %zu usable tiles (at least 4 needed)", s.size()));
  const auto [lo, hi] = std::minmax_element(s.begin(), s.end());
  const bool intercept = !have_bias && *lo > 0 && *hi > 1.5 * *lo;
  const auto fit = fit_transfer(s, var, intercept);
  if (!(fit(0) > 0)) throw GainError("photon transfer: the variance does not grow with the level (no shot noise seen)");
  GainEstimate e;
  e.source = GainSource::flat_photon_transfer;
  e.gain_e_per_adu = 1.0 / fit(0);
  e.gain_err = fit(2) / (fit(0) * fit(0));
  const double rn_adu2 = have_bias ? read_var : (intercept ? fit(1) : kNaN);
  e.read_noise_e = rn_adu2 > 0 ? std::sqrt(rn_adu2) * e.gain_e_per_adu : kNaN;
  e.samples = static_cast<int>(s.size());
  e.detail = format("photon transfer of %zu flat pair(s), %d tiles, levels %.0f-%.0f ADU above bias%s",
                    flats.size(), e.samples, *lo, *hi,
                    have_bias ? ", read noise from the bias pair" : (intercept ? ", read noise from the intercept" : ""));
  return e;
}

double non_photon_variance(double flux_adu, double flux_err_adu, double gain_used) {
  const double photon = gain_used > 0 ? std::max(flux_adu, 0.0) / gain_used : 0.0;
  return std::max(0.0, flux_err_adu * flux_err_adu - photon);
}

double flux_error_for_gain(double flux_adu, double flux_err_adu, double gain_used, double gain_new) {
  const double other = non_photon_variance(flux_adu, flux_err_adu, gain_used);
  const double photon = gain_new > 0 ? std::max(flux_adu, 0.0) / gain_new : 0.0;
  return std::sqrt(other + photon);
}

StarScatter star_scatter(std::span<const double> rel_flux, double flux_adu, double other_variance_adu2) {
  std::vector<double> finite;
  for (const double v : rel_flux) {
    if (std::isfinite(v)) finite.push_back(v);
  }
  StarScatter s;
  s.flux_adu = flux_adu;
  s.other_variance_adu2 = other_variance_adu2;
  if (finite.size() < 3) return s;
  const auto stats = sigma_clipped_stats(finite, {5, 5, 5});
  const double relative = stats.stddev / std::abs(stats.median);
  s.variance_adu2 = relative * relative * flux_adu * flux_adu;
  s.points = static_cast<int>(stats.kept);
  return s;
}

namespace {

// One weighted least-squares pass of var - B = F / g + b + c F^2 over the kept stars; each
// variance weighted by its own uncertainty at the current model (var^2 2 / (n - 1)).
struct StarFit {
  Eigen::Vector3d beta = Eigen::Vector3d::Zero();
  Eigen::Matrix3d covariance = Eigen::Matrix3d::Zero();
  double reduced_chi2 = 0;
};

StarFit fit_star_model(std::span<const StarScatter> stars, const std::vector<bool>& keep,
                       const std::vector<double>& model) {
  Eigen::Matrix3d normal = Eigen::Matrix3d::Zero();
  Eigen::Vector3d rhs = Eigen::Vector3d::Zero();
  int n = 0;
  for (std::size_t i = 0; i < stars.size(); ++i) {
    if (!keep[i]) continue;
    const auto& s = stars[i];
    const double w = (s.points - 1) / (2 * model[i] * model[i]);
    const Eigen::Vector3d x(s.flux_adu, 1.0, s.flux_adu * s.flux_adu);
    normal.noalias() += w * x * x.transpose();
    rhs.noalias() += w * (s.variance_adu2 - s.other_variance_adu2) * x;
    ++n;
  }
  StarFit fit;
  fit.beta = normal.ldlt().solve(rhs);
  fit.covariance = normal.inverse();
  double chi2 = 0;
  for (std::size_t i = 0; i < stars.size(); ++i) {
    if (!keep[i]) continue;
    const auto& s = stars[i];
    const double m = s.other_variance_adu2 + fit.beta(0) * s.flux_adu + fit.beta(1) + fit.beta(2) * s.flux_adu * s.flux_adu;
    chi2 += (s.points - 1) / (2 * model[i] * model[i]) * std::pow(s.variance_adu2 - m, 2);
  }
  fit.reduced_chi2 = chi2 / std::max(1, n - 3);
  return fit;
}

}  // namespace

GainEstimate gain_from_constant_stars(std::span<const StarScatter> stars, const ConstantStarGainOptions& o) {
  std::vector<bool> keep(stars.size());
  std::vector<double> model(stars.size());
  for (std::size_t i = 0; i < stars.size(); ++i) {
    const auto& s = stars[i];
    keep[i] = s.flux_adu > 0 && s.variance_adu2 > 0 && s.points >= 3 && std::isfinite(s.variance_adu2);
    model[i] = s.variance_adu2;
  }
  StarFit fit;
  int kept = 0;
  for (int pass = 0; pass < std::max(1, o.iterations); ++pass) {
    kept = static_cast<int>(std::count(keep.begin(), keep.end(), true));
    if (kept < std::max(o.min_stars, 4)) {
      throw GainError(format("gain from constant stars: %d usable stars (at least %d needed)", kept, std::max(o.min_stars, 4)));
    }
    fit = fit_star_model(stars, keep, model);
    bool changed = false;
    for (std::size_t i = 0; i < stars.size(); ++i) {
      const auto& s = stars[i];
      if (!(s.flux_adu > 0 && s.points >= 3 && std::isfinite(s.variance_adu2))) continue;
      const double m = s.other_variance_adu2 + fit.beta(0) * s.flux_adu + fit.beta(1) + fit.beta(2) * s.flux_adu * s.flux_adu;
      model[i] = std::max(m, 1e-12 * s.variance_adu2);
      const double z = (s.variance_adu2 - model[i]) / (model[i] * std::sqrt(2.0 / (s.points - 1)));
      const bool k = s.variance_adu2 > 0 && std::abs(z) <= o.clip_sigma;
      changed |= k != keep[i];
      keep[i] = k;
    }
    if (!changed && pass > 0) break;
  }
  if (!(fit.beta(0) > 0)) {
    throw GainError("gain from constant stars: the scatter does not fall with flux as photon noise does (photon term <= 0)");
  }
  GainEstimate e;
  e.source = GainSource::constant_star_scatter;
  e.gain_e_per_adu = 1.0 / fit.beta(0);
  e.gain_err = std::sqrt(fit.covariance(0, 0) * std::max(1.0, fit.reduced_chi2)) / (fit.beta(0) * fit.beta(0));
  e.read_noise_e = kNaN;
  e.samples = kept;
  e.extra_variance_adu2 = fit.beta(1);
  e.relative_floor = std::sqrt(std::max(fit.beta(2), 0.0));
  e.detail = format("scatter of %d constant stars against flux: var = F/g + B + %.3g + (%.3g F)^2 ADU^2, reduced chi2 %.2f",
                    kept, fit.beta(1), std::sqrt(std::max(fit.beta(2), 0.0)), fit.reduced_chi2);
  return e;
}

}  // namespace tianyu::pipeline
