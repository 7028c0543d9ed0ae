#include "pipeline/survey/night_variability.h"

#include <array>
#include <cmath>
#include <vector>

#include "pipeline/robust_stats.h"

namespace tianyu::pipeline::survey {
namespace {

constexpr int kColumns = 4;
using Row = std::array<double, kColumns>;

// Residual sum of squares of the least-squares fit of `y` on the rows' first `k` columns (normal
// equations, Gaussian elimination with partial pivoting; k <= 4 and well-conditioned columns).
double residual_sum(const std::vector<Row>& rows, const std::vector<double>& y, int k) {
  double a[kColumns][kColumns + 1] = {};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    for (int p = 0; p < k; ++p) {
      for (int q = 0; q < k; ++q) a[p][q] += rows[i][p] * rows[i][q];
      a[p][k] += rows[i][p] * y[i];
    }
  }
  for (int c = 0; c < k; ++c) {
    int pivot = c;
    for (int r = c + 1; r < k; ++r) {
      if (std::abs(a[r][c]) > std::abs(a[pivot][c])) pivot = r;
    }
    for (int q = 0; q <= k; ++q) std::swap(a[c][q], a[pivot][q]);
    if (std::abs(a[c][c]) < 1e-14) return INFINITY;  // a column empty or repeated: no fit
    for (int r = 0; r < k; ++r) {
      if (r == c) continue;
      const double f = a[r][c] / a[c][c];
      for (int q = c; q <= k; ++q) a[r][q] -= f * a[c][q];
    }
  }
  double rss = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    double model = 0;
    for (int p = 0; p < k; ++p) model += a[p][k] / a[p][p] * rows[i][p];
    rss += (y[i] - model) * (y[i] - model);
  }
  return rss;
}

// The best line + sinusoid over a logarithmic grid of periods: its RSS, period and amplitude.
double best_sinusoid(const LightCurveData& c, double t_mid, double min_period, double max_period, double& period,
                     double& amplitude) {
  double best = INFINITY;
  std::vector<Row> rows(c.time.size());
  const int grid = 80;
  for (int g = 0; g < grid; ++g) {
    const double p = min_period * std::pow(max_period / min_period, g / double(grid - 1));
    for (std::size_t i = 0; i < c.time.size(); ++i) {
      const double u = c.time[i] - t_mid, w = 2 * M_PI * u / p;
      rows[i] = {1.0, u, std::sin(w), std::cos(w)};
    }
    const double rss = residual_sum(rows, c.flux, 4);
    if (rss < best) best = rss, period = p;
  }
  // The amplitude at the best period, from the projections (a fair estimate for a night that
  // holds most of a cycle; reported in words, not used to decide).
  double s = 0, cs = 0, ss = 0, cc = 0, mean = 0;
  for (const double f : c.flux) mean += f / c.flux.size();
  for (std::size_t i = 0; i < c.time.size(); ++i) {
    const double w = 2 * M_PI * (c.time[i] - t_mid) / period;
    s += std::sin(w) * (c.flux[i] - mean), cs += std::cos(w) * (c.flux[i] - mean);
    ss += std::sin(w) * std::sin(w), cc += std::cos(w) * std::cos(w);
  }
  amplitude = std::hypot(ss > 0 ? s / ss : 0.0, cc > 0 ? cs / cc : 0.0) / std::abs(mean);
  return best;
}

}  // namespace

NightVariability measure_night_variability(const LightCurveData& c, double t0, double duration) {
  NightVariability v;
  const std::size_t n = c.time.size();
  v.points = static_cast<int>(n);
  if (n < 12 || duration <= 0) return v;
  const double t_mid = 0.5 * (c.time.front() + c.time.back()), half = duration / 2;
  // Line + box, and the line alone outside the box.
  std::vector<Row> rows(n), outside_rows;
  std::vector<double> outside_flux;
  for (std::size_t i = 0; i < n; ++i) {
    const double u = c.time[i] - t_mid;
    const bool in = std::abs(c.time[i] - t0) < half;
    rows[i] = {1.0, u, in ? 1.0 : 0.0, 0.0};
    if (!in) outside_rows.push_back(rows[i]), outside_flux.push_back(c.flux[i]);
  }
  const double box_rss = residual_sum(rows, c.flux, 3);
  double level = 0;
  for (const double f : c.flux) level += f / n;
  // Point-to-point noise: successive differences cancel anything slower than the cadence.
  std::vector<double> diffs, outside;
  for (std::size_t i = 1; i < n; ++i) diffs.push_back((c.flux[i] - c.flux[i - 1]) / level);
  v.point_to_point = mad_std(diffs) / std::sqrt(2.0);
  if (outside_flux.size() >= 8) {
    // The outside line's residuals: rss / n is their rms; robust against a stray point by
    // using the MAD of the residuals about the line instead.
    double sy = 0, su = 0, suu = 0, suy = 0;
    for (std::size_t i = 0; i < outside_flux.size(); ++i) {
      const double u = outside_rows[i][1];
      sy += outside_flux[i], su += u, suu += u * u, suy += u * outside_flux[i];
    }
    const double m = double(outside_flux.size()), det = m * suu - su * su;
    const double b = det > 0 ? (m * suy - su * sy) / det : 0.0, a = (sy - b * su) / m;
    for (std::size_t i = 0; i < outside_flux.size(); ++i) outside.push_back((outside_flux[i] - a - b * outside_rows[i][1]) / level);
    v.outside_rms = mad_std(outside);
    const double excess = v.outside_rms * v.outside_rms - v.point_to_point * v.point_to_point;
    v.excess_rms = excess > 0 ? std::sqrt(excess) : 0.0;
  }
  const double span = c.time.back() - c.time.front();
  const double sin_rss =
      best_sinusoid(c, t_mid, std::max(2 * duration, 0.02), std::max(2 * span, 4 * duration), v.sinusoid_period_d,
                    v.sinusoid_amplitude);
  // BIC = n ln(RSS / n) + k ln n; the same k (a line and two more columns, plus the box's
  // t0 and duration or the sinusoid's period) cancels.
  if (box_rss > 0 && sin_rss > 0 && std::isfinite(box_rss) && std::isfinite(sin_rss)) {
    v.delta_bic = double(n) * std::log(box_rss / sin_rss);
  }
  return v;
}

}  // namespace tianyu::pipeline::survey
