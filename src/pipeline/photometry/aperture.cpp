#include "pipeline/photometry/aperture.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <utility>

#include "pipeline/calibration/calibrate.h"
#include "pipeline/photometry/clipped_sky.h"
#include "pipeline/parallel.h"
#include "pipeline/robust_stats.h"
#include "pipeline/sep_support.h"

namespace tianyu::pipeline {
namespace {

// Row py's pixels of the annulus inner^2 <= d2 <= outer^2 (d2 as the scan computes it), as up to
// two runs [first, last] in scan order. d2 grows with |px - x| (rounding keeps that order), so
// each bound is found from a square-root guess and then settled by the exact test: the same
// pixels, in the same order, as testing every pixel of the box, without the inner hole's.
struct AnnulusRow {
  int runs = 0;
  int first[2] = {0, 0}, last[2] = {-1, -1};
};

AnnulusRow annulus_row(int py, double x, double y, double inner, double outer, int x0, int x1) {
  const double dy2 = (py - y) * (py - y), i2 = inner * inner, o2 = outer * outer;
  auto d2 = [&](int px) { return (px - x) * (px - x) + dy2; };
  // [a, b]: d2 <= o2, a contiguous run around x (or none).
  const double reach = std::sqrt(std::max(0.0, o2 - dy2));
  int a = std::max(x0, static_cast<int>(std::floor(x - reach)));
  int b = std::min(x1, static_cast<int>(std::ceil(x + reach)));
  while (a > x0 && d2(a - 1) <= o2) --a;
  while (a <= b && d2(a) > o2) ++a;
  while (b < x1 && d2(b + 1) <= o2) ++b;
  while (b >= a && d2(b) > o2) --b;
  AnnulusRow row;
  if (a > b) return row;
  // [c, d]: d2 < i2, the hole, inside [a, b] (or none).
  const double hole = i2 > dy2 ? std::sqrt(i2 - dy2) : -1.0;
  int c = std::max(a, static_cast<int>(std::floor(x - hole)));
  int d = std::min(b, static_cast<int>(std::ceil(x + hole)));
  while (c > a && d2(c - 1) < i2) --c;
  while (c <= d && !(d2(c) < i2)) ++c;
  while (d < b && d2(d + 1) < i2) ++d;
  while (d >= c && !(d2(d) < i2)) --d;
  if (c > d) {  // no hole on this row
    row.runs = 1, row.first[0] = a, row.last[0] = b;
  } else {
    row.runs = 2, row.first[0] = a, row.last[0] = c - 1, row.first[1] = d + 1, row.last[1] = b;
  }
  return row;
}

// Whether any of n mask bytes is set (an OR the compiler vectorises): a row's run of the
// annulus or of the aperture box without a mask bit is taken whole, without a branch a pixel.
bool any_flag(const std::uint8_t* m, int n) {
  std::uint8_t any = 0;
  for (int i = 0; i < n; ++i) any |= m[i];
  return any != 0;
}

// The clipped median of the good annulus pixels (pipeline/photometry/clipped_sky.h); its error
// is the clipped scatter over sqrt(kept).
ClippedSky local_sky(const Image& image, const std::vector<std::uint8_t>* mask, double x, double y,
                     double inner, double outer) {
  thread_local SkyScratch scratch;
  auto& values = scratch.values;
  values.clear();
  const int x0 = std::max(0, static_cast<int>(std::floor(x - outer)));
  const int x1 = std::min(image.width - 1, static_cast<int>(std::ceil(x + outer)));
  const int y0 = std::max(0, static_cast<int>(std::floor(y - outer)));
  const int y1 = std::min(image.height - 1, static_cast<int>(std::ceil(y + outer)));
  for (int py = y0; py <= y1; ++py) {
    const auto row = annulus_row(py, x, y, inner, outer, x0, x1);
    const float* pixels = image.row(py);
    const std::uint8_t* flags = mask ? mask->data() + static_cast<std::size_t>(py) * image.width : nullptr;
    for (int run = 0; run < row.runs; ++run) {
      const int a = row.first[run], b = row.last[run];
      if (a > b) continue;
      if (!flags || !any_flag(flags + a, b - a + 1)) {
        values.insert(values.end(), pixels + a, pixels + b + 1);  // most runs: no mask bit, copied whole
        continue;
      }
      for (int px = a; px <= b; ++px) {
        if (!flags[px]) values.push_back(pixels[px]);
      }
    }
  }
  return clipped_sky(scratch);
}

// Mask bits over the pixels whose centres fall inside each of `radii`, as PhotometryFlags into
// flags[0..radii), in one pass over the largest disc (this runs for every star of every frame;
// a row of the box without a mask bit, nearly every row, is passed over in one vectorised OR).
void mask_flags(const Image& image, const std::vector<std::uint8_t>& mask, double x, double y,
                const std::vector<double>& radii, std::uint8_t* flags) {
  std::fill(flags, flags + radii.size(), std::uint8_t{0});
  const double r = *std::max_element(radii.begin(), radii.end());
  const int x0 = std::max(0, static_cast<int>(std::floor(x - r)));
  const int x1 = std::min(image.width - 1, static_cast<int>(std::ceil(x + r)));
  const int y0 = std::max(0, static_cast<int>(std::floor(y - r)));
  const int y1 = std::min(image.height - 1, static_cast<int>(std::ceil(y + r)));
  for (int py = y0; py <= y1; ++py) {
    if (x1 < x0 || !any_flag(mask.data() + static_cast<std::size_t>(py) * image.width + x0, x1 - x0 + 1)) continue;
    for (int px = x0; px <= x1; ++px) {
      const std::uint8_t m = mask[static_cast<std::size_t>(py) * image.width + px];
      if (!m) continue;
      const std::uint8_t bits = ((m & kSaturated) ? kApertureSaturated : 0) | ((m & ~kSaturated) ? kApertureMasked : 0);
      const double d2 = (px - x) * (px - x) + (py - y) * (py - y);
      for (std::size_t i = 0; i < radii.size(); ++i) {
        if (d2 <= radii[i] * radii[i]) flags[i] |= bits;
      }
    }
  }
}

// A copy of the pixels around (x, y) out to `reach`, with every masked pixel replaced by its
// mirror across the centre (the PSF is symmetric; SEP's own correction, the mean of the
// unmasked aperture pixels, loses several per cent when a hot pixel sits on the core), or by
// the local sky when the mirror is masked too. Saturated pixels keep their (clipped) values:
// their mirrors are saturated as well, and the flag already disqualifies the measurement.
struct Cutout {
  Image image;
  int x0 = 0, y0 = 0;
};
Cutout repaired_cutout(const Image& image, const std::vector<std::uint8_t>& mask, double x, double y,
                       double reach, double sky) {
  Cutout c;
  c.x0 = std::max(0, static_cast<int>(std::floor(x - reach)) - 1);
  c.y0 = std::max(0, static_cast<int>(std::floor(y - reach)) - 1);
  const int x1 = std::min(image.width - 1, static_cast<int>(std::ceil(x + reach)) + 1);
  const int y1 = std::min(image.height - 1, static_cast<int>(std::ceil(y + reach)) + 1);
  c.image = Image(x1 - c.x0 + 1, y1 - c.y0 + 1);
  auto masked = [&](int px, int py) {
    const std::uint8_t m = mask[static_cast<std::size_t>(py) * image.width + px];
    return m != 0 && m != kSaturated;
  };
  for (int py = c.y0; py <= y1; ++py) {
    for (int px = c.x0; px <= x1; ++px) {
      float v = image.at(px, py);
      if (masked(px, py)) {
        const int mx = static_cast<int>(std::lround(2 * x - px)), my = static_cast<int>(std::lround(2 * y - py));
        const bool mirror_ok = mx >= 0 && my >= 0 && mx < image.width && my < image.height && !masked(mx, my);
        v = mirror_ok ? image.at(mx, my) : static_cast<float>(sky);
      }
      c.image.at(px - c.x0, py - c.y0) = v;
    }
  }
  return c;
}

// The apertures' radii and the sky annulus around them (pixels).
struct Geometry {
  double largest = 0, inner = 0, outer = 0;
  std::vector<double> scan_radii;  // the radii and largest + 1 (which decides the repair)
};

// The inputs checked, and the annulus: 2 and 3 times the largest radius unless given.
Geometry checked_geometry(const Image& image, const std::vector<std::uint8_t>* mask, double background_rms,
                          const std::vector<double>& template_x, const std::vector<double>& template_y,
                          const ApertureOptions& options) {
  if (options.radii_px.empty()) throw PhotometryError("no aperture radius given");
  for (const double r : options.radii_px) {
    if (!(r > 0)) throw PhotometryError("aperture radius must be positive, got " + std::to_string(r));
  }
  if (template_x.size() != template_y.size()) throw PhotometryError("template x and y differ in length");
  if (mask && mask->size() != image.pixels.size()) throw PhotometryError("mask and image differ in size");
  if (!(background_rms >= 0)) throw PhotometryError("background RMS must be finite and non-negative");
  Geometry g;
  g.largest = *std::max_element(options.radii_px.begin(), options.radii_px.end());
  g.inner = options.annulus_inner_px > 0 ? options.annulus_inner_px : 2 * g.largest;
  g.outer = options.annulus_outer_px > 0 ? options.annulus_outer_px : 3 * g.largest;
  if (!(g.outer > g.inner && g.inner >= g.largest)) {
    throw PhotometryError("the sky annulus must lie outside the largest aperture (" +
                          std::to_string(g.inner) + " to " + std::to_string(g.outer) + " px)");
  }
  g.scan_radii = options.radii_px;
  g.scan_radii.push_back(g.largest + 1);
  return g;
}

// Star s at (x, y) of the frame, every radius, into out's row s.
void measure_star(const Image& image, const std::vector<std::uint8_t>* mask, const sep_image& in,
                  const Geometry& g, const ApertureOptions& options, int s, double x, double y,
                  FramePhotometry& out) {
  const auto sky = local_sky(image, mask, x, y, g.inner, g.outer);
  out.sky[s] = static_cast<float>(sky.level);
  // Masked pixels inside the apertures: measure on a repaired copy; the flags say so. The
  // last radius scanned (largest + 1) decides the repair: a pixel on the edge counts.
  thread_local std::vector<std::uint8_t> masked;
  masked.assign(g.scan_radii.size(), 0);
  if (mask) mask_flags(image, *mask, x, y, g.scan_radii, masked.data());
  const bool repair = (masked.back() & kApertureMasked) != 0;
  Cutout cutout;
  sep_image local = in;
  double cx = x, cy = y;
  if (repair) {
    cutout = repaired_cutout(image, *mask, x, y, g.largest + 1, sky.level);
    local.data = cutout.image.pixels.data();
    local.mask = nullptr;
    local.w = cutout.image.width;
    local.h = cutout.image.height;
    cx -= cutout.x0;
    cy -= cutout.y0;
  }
  for (int r = 0; r < out.radii; ++r) {
    const std::size_t k = static_cast<std::size_t>(s) * out.radii + r;
    double sum = 0, sum_err = 0, area = 0;
    short sep_flags = 0;
    const int status = sep_sum_circle(&local, cx, cy, options.radii_px[r], 0, options.subpixels, 0, &sum, &sum_err,
                                      &area, &sep_flags);
    if (status != 0) throw PhotometryError("SEP aperture sum: " + sep_support::message(status));
    std::uint8_t flags = masked[r];
    // A cutout is clipped only where the frame ends, so its truncation is the frame's edge.
    if (sep_flags & SEP_APER_TRUNC) flags |= kApertureEdge;
    if (!sky.ok) flags |= kApertureNoSky;
    out.flux[k] = sum - sky.level * area;
    out.flux_err[k] = std::sqrt(sum_err * sum_err + std::pow(area * sky.error, 2));
    out.flags[k] = flags;
  }
}

// The stars in bands of kBandRows rows, each band from left to right: a star's annulus then
// shares most of its rows' cache lines and pages with the star measured before it (on the
// "paper" frames the annulus gathering was bound by those misses). Only the order of the work
// changes: each star's values are computed from the same pixels as before.
constexpr int kBandRows = 32;
constexpr std::size_t kStarsPerBlock = 16;

std::vector<int> visiting_order(const std::vector<double>& x, const std::vector<double>& y) {
  // A cell of a coordinate that is never undefined (NaN and far-off stars go to the ends).
  const auto cell = [](double v) -> std::int64_t { return v >= 0 ? (v < 1e9 ? static_cast<std::int64_t>(v) : 1000000000) : -1; };
  std::vector<std::pair<std::int64_t, int>> keyed(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    keyed[i] = {(cell(y[i]) / kBandRows + 1) * 2000000000LL + cell(x[i]) + 1, static_cast<int>(i)};
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<int> order(x.size());
  for (std::size_t i = 0; i < keyed.size(); ++i) order[i] = keyed[i].second;
  return order;
}

}  // namespace

FramePhotometry measure_apertures(const Image& image, const std::vector<std::uint8_t>* mask,
                                  double background_rms, const std::vector<double>& template_x,
                                  const std::vector<double>& template_y, const FrameTransform& transform,
                                  const ApertureOptions& options) {
  const auto geometry = checked_geometry(image, mask, background_rms, template_x, template_y, options);
  sep_image in = sep_support::view(image, mask);
  in.noiseval = background_rms;
  in.noise_type = SEP_NOISE_STDDEV;
  in.gain = options.gain_e_per_adu;
  FramePhotometry out;
  out.stars = static_cast<int>(template_x.size());
  out.radii = static_cast<int>(options.radii_px.size());
  const std::size_t cells = static_cast<std::size_t>(out.stars) * out.radii;
  out.flux.assign(cells, 0);
  out.flux_err.assign(cells, 0);
  out.flags.assign(cells, 0);
  out.sky.assign(out.stars, 0);
  out.x.resize(out.stars);
  out.y.resize(out.stars);
  for (std::size_t i = 0; i < template_x.size(); ++i) std::tie(out.x[i], out.y[i]) = transform.apply(template_x[i], template_y[i]);
  // Each star writes only its own row, so the stars are shared out in blocks as they come, in
  // the frame's order rather than the catalogue's (by brightness: a cold annulus each star).
  const auto order = visiting_order(out.x, out.y);
  const std::size_t blocks = (order.size() + kStarsPerBlock - 1) / kStarsPerBlock;
  parallel_for(blocks, options.threads, [&](std::size_t b) {
    const std::size_t end = std::min(order.size(), (b + 1) * kStarsPerBlock);
    for (std::size_t k = b * kStarsPerBlock; k < end; ++k) {
      const int s = order[k];
      measure_star(image, mask, in, geometry, options, s, out.x[s], out.y[s], out);
    }
  });
  return out;
}

double median_fwhm(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> fwhm;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] > 0 && b[i] > 0) fwhm.push_back(2.3548 * std::sqrt(0.5 * (a[i] * a[i] + b[i] * b[i])));
  }
  return median(fwhm);
}

}  // namespace tianyu::pipeline
