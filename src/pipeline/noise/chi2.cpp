#include "pipeline/noise/chi2.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace tianyu::pipeline {
namespace {

struct Chi2 {
  double value = 0, mean = 0;
  int points = 0;
};

Chi2 chi2_about_mean(std::span<const double> v, std::span<const double> e, const std::vector<bool>& keep) {
  double sw = 0, swv = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!keep[i]) continue;
    sw += 1 / (e[i] * e[i]);
    swv += v[i] / (e[i] * e[i]);
  }
  Chi2 c;
  c.mean = swv / sw;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!keep[i]) continue;
    c.value += std::pow((v[i] - c.mean) / e[i], 2);
    ++c.points;
  }
  return c;
}

std::vector<bool> usable(std::span<const double> v, std::span<const double> e) {
  if (v.size() != e.size()) throw std::invalid_argument("reduced chi2: values and errors differ in length");
  std::vector<bool> keep(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) keep[i] = std::isfinite(v[i]) && std::isfinite(e[i]) && e[i] > 0;
  return keep;
}

}  // namespace

double reduced_chi2_against_constant(std::span<const double> values, std::span<const double> errors) {
  const auto keep = usable(values, errors);
  const auto c = chi2_about_mean(values, errors, keep);
  return c.points >= 2 ? c.value / (c.points - 1) : std::numeric_limits<double>::quiet_NaN();
}

double clipped_reduced_chi2_against_constant(std::span<const double> values, std::span<const double> errors,
                                             double clip_sigma) {
  auto keep = usable(values, errors);
  Chi2 c;
  for (int pass = 0; pass < 10; ++pass) {
    c = chi2_about_mean(values, errors, keep);
    if (c.points < 2) return std::numeric_limits<double>::quiet_NaN();
    bool changed = false;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (keep[i] && std::abs(values[i] - c.mean) > clip_sigma * errors[i]) keep[i] = false, changed = true;
    }
    if (!changed) break;
  }
  c = chi2_about_mean(values, errors, keep);
  return c.points >= 2 ? c.value / (c.points - 1) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace tianyu::pipeline
