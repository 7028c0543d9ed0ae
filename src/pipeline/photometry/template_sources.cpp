#include "pipeline/photometry/template_sources.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

namespace tianyu::pipeline {
namespace {

// Sources binned on a square grid of `cell` pixels, for neighbour queries in O(1).
class Grid {
 public:
  Grid(double cell, const std::vector<std::pair<double, double>>& points) : cell_(cell) {
    for (std::size_t i = 0; i < points.size(); ++i) cells_[key(points[i].first, points[i].second)].push_back(i);
  }
  template <typename F>
  void near(double x, double y, F&& visit) const {
    const long long cx = static_cast<long long>(std::floor(x / cell_)), cy = static_cast<long long>(std::floor(y / cell_));
    for (long long dy = -1; dy <= 1; ++dy) {
      for (long long dx = -1; dx <= 1; ++dx) {
        const auto it = cells_.find(pack(cx + dx, cy + dy));
        if (it == cells_.end()) continue;
        for (const std::size_t i : it->second) visit(i);
      }
    }
  }

 private:
  static long long pack(long long cx, long long cy) { return (cx << 32) ^ (cy & 0xffffffffLL); }
  long long key(double x, double y) const {
    return pack(static_cast<long long>(std::floor(x / cell_)), static_cast<long long>(std::floor(y / cell_)));
  }
  double cell_;
  std::unordered_map<long long, std::vector<std::size_t>> cells_;
};

// The FWHM from the area above half the peak: the half-maximum isophote of a round star is a
// circle of diameter FWHM, whatever the profile's wings (second moments read a Moffat's wings
// as width: 4.7 px for a beta = 3 star of FWHM 3). Pixel counting quantises the area, so
// expect about +-10 % at FWHM 3.
double half_max_fwhm(const Image& image, double x, double y, double peak, double reach) {
  const int x0 = std::max(0, static_cast<int>(std::floor(x - reach)));
  const int x1 = std::min(image.width - 1, static_cast<int>(std::ceil(x + reach)));
  const int y0 = std::max(0, static_cast<int>(std::floor(y - reach)));
  const int y1 = std::min(image.height - 1, static_cast<int>(std::ceil(y + reach)));
  int area = 0;
  for (int py = y0; py <= y1; ++py) {
    for (int px = x0; px <= x1; ++px) {
      if (image.at(px, py) >= 0.5 * peak && std::hypot(px - x, py - y) <= reach) ++area;
    }
  }
  return 2.0 * std::sqrt(area / 3.14159265358979323846);
}

}  // namespace

std::vector<TemplateSource> detect_template_sources(const Image& template_image,
                                                    const std::vector<std::uint8_t>* mask,
                                                    double background_rms, double isolation_radius_px,
                                                    double neighbour_flux_ratio, const ExtractOptions& options) {
  if (!(isolation_radius_px > 0)) throw std::invalid_argument("isolation radius must be positive");
  const auto sources = extract_sources(template_image, mask, background_rms, options);
  std::vector<TemplateSource> out;
  std::vector<std::pair<double, double>> points;
  for (const auto& s : sources) {
    TemplateSource t;
    t.x = s.x;
    t.y = s.y;
    t.flux = s.flux;
    t.a = s.a;
    t.b = s.b;
    t.theta = s.theta;
    t.fwhm = half_max_fwhm(template_image, s.x, s.y, s.peak, std::max(3.0, 3.0 * s.a));
    t.sep_flag = s.flag;
    out.push_back(t);
    points.emplace_back(s.x, s.y);
  }
  const Grid grid(isolation_radius_px, points);
  for (std::size_t i = 0; i < out.size(); ++i) {
    grid.near(out[i].x, out[i].y, [&](std::size_t j) {
      if (j == i) return;
      if (std::hypot(out[j].x - out[i].x, out[j].y - out[i].y) <= isolation_radius_px &&
          out[j].flux > neighbour_flux_ratio * out[i].flux) {
        out[i].isolated = false;
      }
    });
  }
  return out;
}

IdAssignment assign_source_ids(const std::vector<KnownSource>& known, std::vector<TemplateSource>& found,
                               double match_radius_px, std::int64_t next_id) {
  if (!(match_radius_px > 0)) throw std::invalid_argument("match radius must be positive");
  std::vector<std::pair<double, double>> points;
  for (const auto& k : known) points.emplace_back(k.x, k.y);
  const Grid grid(match_radius_px, points);
  std::vector<std::tuple<double, std::size_t, std::size_t>> pairs;  // distance, found, known
  for (std::size_t i = 0; i < found.size(); ++i) {
    grid.near(found[i].x, found[i].y, [&](std::size_t j) {
      const double d = std::hypot(known[j].x - found[i].x, known[j].y - found[i].y);
      if (d <= match_radius_px) pairs.emplace_back(d, i, j);
    });
  }
  std::sort(pairs.begin(), pairs.end());
  IdAssignment result;
  std::vector<char> found_done(found.size(), 0), known_used(known.size(), 0);
  for (auto& f : found) f.id = -1;
  for (const auto& [d, i, j] : pairs) {
    if (found_done[i] || known_used[j]) continue;
    found[i].id = known[j].id;
    found_done[i] = known_used[j] = 1;
    ++result.matched;
  }
  for (auto& f : found) {
    if (f.id >= 0) continue;
    f.id = next_id++;
    ++result.created;
  }
  result.next_id = next_id;
  return result;
}

}  // namespace tianyu::pipeline
