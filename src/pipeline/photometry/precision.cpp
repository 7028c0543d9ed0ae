#include "pipeline/photometry/precision.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>

#include <Eigen/Dense>

#include "pipeline/robust_stats.h"

namespace tianyu::pipeline {
namespace {

double population_std(const std::vector<double>& v) {
  if (v.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  double m = 0;
  for (const double x : v) m += x;
  m /= static_cast<double>(v.size());
  double ss = 0;
  for (const double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size()));
}

}  // namespace

double relative_rms(std::span<const double> flux) {
  const double m = median(flux);
  std::vector<double> v;
  for (const double f : flux) {
    if (std::isfinite(f)) v.push_back(f / m);
  }
  return population_std(v);
}

double binned_rms(std::span<const double> time_days, std::span<const double> flux, double bin_days, int min_points) {
  if (time_days.size() != flux.size()) throw std::invalid_argument("binned_rms: time and flux differ in length");
  if (!(bin_days > 0)) throw std::invalid_argument("binned_rms: bin width must be positive");
  const double m = median(flux);
  double t0 = std::numeric_limits<double>::infinity();
  for (const double t : time_days) t0 = std::min(t0, t);
  std::map<long long, std::pair<double, int>> bins;
  for (std::size_t i = 0; i < flux.size(); ++i) {
    if (!std::isfinite(flux[i]) || !std::isfinite(time_days[i])) continue;
    auto& b = bins[static_cast<long long>(std::floor((time_days[i] - t0) / bin_days))];
    b.first += flux[i] / m;
    b.second += 1;
  }
  std::vector<double> means;
  for (const auto& [_, b] : bins) {
    if (b.second >= min_points) means.push_back(b.first / b.second);
  }
  return population_std(means);
}

std::vector<double> savgol_filter(std::span<const double> values, int window, int polyorder) {
  const int n = static_cast<int>(values.size());
  if (window % 2 == 0 || window <= polyorder) {
    throw std::invalid_argument("savgol_filter: window must be odd and longer than polyorder (" +
                                std::to_string(window) + ", " + std::to_string(polyorder) + ")");
  }
  if (n < window) window = (n % 2) ? n : n - 1;  // short series: one window across it all
  std::vector<double> out(n);
  if (n == 0) return out;
  if (window <= polyorder) {
    std::copy(values.begin(), values.end(), out.begin());
    return out;
  }
  const int half = window / 2;
  // Fits a polynomial to values[start, start + window) and evaluates it at the given points.
  auto fit = [&](int start, int from, int to) {
    Eigen::MatrixXd A(window, polyorder + 1);
    Eigen::VectorXd b(window);
    for (int i = 0; i < window; ++i) {
      const double u = static_cast<double>(i - half) / std::max(half, 1);
      for (int p = 0; p <= polyorder; ++p) A(i, p) = std::pow(u, p);
      b(i) = values[start + i];
    }
    const Eigen::VectorXd c = A.colPivHouseholderQr().solve(b);
    for (int j = from; j < to; ++j) {
      const double u = static_cast<double>(j - start - half) / std::max(half, 1);
      double v = 0;
      for (int p = polyorder; p >= 0; --p) v = v * u + c(p);
      out[j] = v;
    }
  };
  // The interior: a fixed convolution (the centre value of each window's fit).
  {
    Eigen::MatrixXd A(window, polyorder + 1);
    for (int i = 0; i < window; ++i) {
      const double u = static_cast<double>(i - half) / std::max(half, 1);
      for (int p = 0; p <= polyorder; ++p) A(i, p) = std::pow(u, p);
    }
    // Row 0 of the pseudo-inverse gives the constant term, the fit's value at the centre.
    const Eigen::MatrixXd pinv = (A.transpose() * A).ldlt().solve(A.transpose());
    for (int j = half; j < n - half; ++j) {
      double v = 0;
      for (int i = 0; i < window; ++i) v += pinv(0, i) * values[j - half + i];
      out[j] = v;
    }
  }
  fit(0, 0, half);
  fit(n - window, n - half, n);
  return out;
}

double cdpp_ppm(std::span<const double> flux, int duration_cadences, int window_cadences, int polyorder, double sigma) {
  std::vector<double> f;
  for (const double v : flux) {
    if (std::isfinite(v)) f.push_back(v);
  }
  if (duration_cadences < 1 || static_cast<int>(f.size()) < duration_cadences + 2) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const auto trend = savgol_filter(f, window_cadences, polyorder);
  std::vector<double> flat(f.size());
  for (std::size_t i = 0; i < f.size(); ++i) flat[i] = f[i] / trend[i];
  const auto stats = sigma_clipped_stats(flat, {sigma, sigma, 10});
  std::vector<double> kept;
  for (const double v : flat) {
    if (v >= stats.lower_bound && v <= stats.upper_bound) kept.push_back(v);
  }
  // Running mean, "valid" part only (numpy.convolve(..., mode="valid") in lightkurve).
  std::vector<double> means;
  double window_sum = 0;
  for (std::size_t i = 0; i < kept.size(); ++i) {
    window_sum += kept[i];
    if (i >= static_cast<std::size_t>(duration_cadences)) window_sum -= kept[i - duration_cadences];
    if (i + 1 >= static_cast<std::size_t>(duration_cadences)) means.push_back(window_sum / duration_cadences);
  }
  return population_std(means) * 1e6;
}

double theoretical_noise(double flux_adu, const NoiseModel& m) {
  const double star_e = flux_adu * m.gain_e_per_adu;
  if (!(star_e > 0)) return std::numeric_limits<double>::infinity();
  const double per_pixel = m.sky_adu_per_px * m.gain_e_per_adu + m.dark_e_per_s * m.exptime_s +
                           m.read_noise_e * m.read_noise_e;
  const double ccd = std::sqrt(star_e + m.aperture_area_px * per_pixel) / star_e;
  return std::hypot(ccd, m.scintillation);
}

double young_scintillation(double diameter_m, double airmass, double altitude_m, double exptime_s) {
  return 0.09 * std::pow(diameter_m * 100.0, -2.0 / 3.0) * std::pow(airmass, 1.75) *
         std::exp(-altitude_m / 8000.0) / std::sqrt(2.0 * exptime_s);
}

}  // namespace tianyu::pipeline
