// TAN-SIP arithmetic: pixel <-> sky, a frame's WCS through its alignment transform, the
// summary numbers. The header cards are read and written in wcs_header.cpp.
#include "pipeline/astrometry/wcs.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace tianyu::pipeline::astrometry {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;

using Matrix = std::array<std::array<double, 2>, 2>;

Matrix inverse(const Matrix& m) {
  const double det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
  if (det == 0 || !std::isfinite(det)) throw WcsError("the WCS matrix is singular (det CD = 0)");
  return {{{m[1][1] / det, -m[0][1] / det}, {-m[1][0] / det, m[0][0] / det}}};
}

// Gnomonic projection about `centre`: standard coordinates (xi, eta) in degrees, the FITS
// TAN projection with LONPOLE = 180 (the default for a zenithal projection).
std::optional<std::pair<double, double>> project(const std::array<double, 2>& centre, double ra, double dec) {
  const double a0 = centre[0] * kDeg, d0 = centre[1] * kDeg, a = ra * kDeg, d = dec * kDeg;
  const double cos_c = std::sin(d0) * std::sin(d) + std::cos(d0) * std::cos(d) * std::cos(a - a0);
  if (cos_c <= 0) return std::nullopt;  // 90 degrees or more from the centre
  const double xi = std::cos(d) * std::sin(a - a0) / cos_c;
  const double eta = (std::cos(d0) * std::sin(d) - std::sin(d0) * std::cos(d) * std::cos(a - a0)) / cos_c;
  return std::pair<double, double>{xi / kDeg, eta / kDeg};
}

SkyPosition deproject(const std::array<double, 2>& centre, double xi_deg, double eta_deg) {
  const double a0 = centre[0] * kDeg, d0 = centre[1] * kDeg, xi = xi_deg * kDeg, eta = eta_deg * kDeg;
  const double denominator = std::cos(d0) - eta * std::sin(d0);
  double ra = (a0 + std::atan2(xi, denominator)) / kDeg;
  const double dec = std::atan2(std::sin(d0) + eta * std::cos(d0), std::hypot(xi, denominator)) / kDeg;
  ra = std::fmod(ra, 360.0);
  if (ra < 0) ra += 360.0;
  return {ra, dec};
}

double binomial(int n, int k) {
  double r = 1;
  for (int i = 1; i <= k; ++i) r = r * (n - k + i) / i;
  return r;
}

// poly(M (u', v')) as a polynomial in (u', v') of the same order.
SipPolynomial substitute(const SipPolynomial& poly, const Matrix& m) {
  SipPolynomial out{poly.order, std::vector<std::vector<double>>(poly.order + 1, std::vector<double>(poly.order + 1))};
  for (int p = 0; p <= poly.order; ++p) {
    for (int q = 0; p + q <= poly.order; ++q) {
      const double c = poly.coefficient[p][q];
      if (c == 0) continue;
      // (m00 u + m01 v)^p (m10 u + m11 v)^q
      for (int i = 0; i <= p; ++i) {
        const double ti = binomial(p, i) * std::pow(m[0][0], i) * std::pow(m[0][1], p - i);
        for (int j = 0; j <= q; ++j) {
          const double tj = binomial(q, j) * std::pow(m[1][0], j) * std::pow(m[1][1], q - j);
          out.coefficient[i + j][(p - i) + (q - j)] += c * ti * tj;
        }
      }
    }
  }
  return out;
}

// (f, g)'(u') = A (f, g)(A^-1 u'): a pair of SIP polynomials seen from the frame's pixels.
std::pair<SipPolynomial, SipPolynomial> transform_pair(const SipPolynomial& f, const SipPolynomial& g,
                                                       const Matrix& a, const Matrix& a_inverse) {
  if (f.empty() && g.empty()) return {f, g};
  const int order = std::max(f.order, g.order);
  auto widen = [order](SipPolynomial p) {
    p.coefficient.resize(order + 1);
    for (auto& row : p.coefficient) row.resize(order + 1, 0.0);
    p.order = order;
    return p;
  };
  const auto fs = substitute(widen(f), a_inverse), gs = substitute(widen(g), a_inverse);
  SipPolynomial nf = fs, ng = gs;
  for (int p = 0; p <= order; ++p) {
    for (int q = 0; q <= order; ++q) {
      nf.coefficient[p][q] = a[0][0] * fs.coefficient[p][q] + a[0][1] * gs.coefficient[p][q];
      ng.coefficient[p][q] = a[1][0] * fs.coefficient[p][q] + a[1][1] * gs.coefficient[p][q];
    }
  }
  return {nf, ng};
}

double position_angle_deg(const SkyPosition& from, const SkyPosition& to) {
  const double d1 = from.dec_deg * kDeg, d2 = to.dec_deg * kDeg, da = (to.ra_deg - from.ra_deg) * kDeg;
  double pa = std::atan2(std::sin(da) * std::cos(d2), std::cos(d1) * std::sin(d2) - std::sin(d1) * std::cos(d2) * std::cos(da)) / kDeg;
  if (pa < 0) pa += 360.0;
  return pa;
}

}  // namespace

double SipPolynomial::operator()(double u, double v) const {
  double sum = 0;
  double up = 1;
  for (int p = 0; p <= order; ++p) {
    double vq = 1;
    for (int q = 0; p + q <= order; ++q) {
      sum += coefficient[p][q] * up * vq;
      vq *= v;
    }
    up *= u;
  }
  return sum;
}

SkyPosition TanSipWcs::pixel_to_sky(double x, double y) const {
  const double u = x + 1 - crpix[0], v = y + 1 - crpix[1];  // FITS pixels are 1-based
  const double uu = u + (a.empty() ? 0.0 : a(u, v)), vv = v + (b.empty() ? 0.0 : b(u, v));
  return deproject(crval, cd[0][0] * uu + cd[0][1] * vv, cd[1][0] * uu + cd[1][1] * vv);
}

std::optional<std::pair<double, double>> TanSipWcs::sky_to_pixel(double ra_deg, double dec_deg) const {
  const auto standard = project(crval, ra_deg, dec_deg);
  if (!standard) return std::nullopt;
  const auto m = inverse(cd);
  const double U = m[0][0] * standard->first + m[0][1] * standard->second;
  const double V = m[1][0] * standard->first + m[1][1] * standard->second;
  double u = U + (ap.empty() ? 0.0 : ap(U, V)), v = V + (bp.empty() ? 0.0 : bp(U, V));
  // Refine through the forward polynomial: AP/BP is itself only a fit of A/B's inverse.
  for (int i = 0; i < 50 && !(a.empty() && b.empty()); ++i) {
    const double nu = U - (a.empty() ? 0.0 : a(u, v)), nv = V - (b.empty() ? 0.0 : b(u, v));
    const double change = std::hypot(nu - u, nv - v);
    u = nu;
    v = nv;
    if (change < 1e-10) break;
  }
  return std::pair<double, double>{u + crpix[0] - 1, v + crpix[1] - 1};
}

TanSipWcs frame_wcs(const TanSipWcs& t, const FrameTransform& transform) {
  const Matrix a{{{transform.axx, transform.axy}, {transform.ayx, transform.ayy}}};
  const Matrix a_inverse = inverse(a);
  TanSipWcs f = t;
  // 1-based reference pixel through the 0-based transform.
  const auto [x, y] = transform.apply(t.crpix[0] - 1, t.crpix[1] - 1);
  f.crpix = {x + 1, y + 1};
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) f.cd[i][j] = t.cd[i][0] * a_inverse[0][j] + t.cd[i][1] * a_inverse[1][j];
  }
  std::tie(f.a, f.b) = transform_pair(t.a, t.b, a, a_inverse);
  std::tie(f.ap, f.bp) = transform_pair(t.ap, t.bp, a, a_inverse);
  return f;
}

WcsSummary summarise(const TanSipWcs& wcs, int width, int height) {
  WcsSummary s;
  const double cx = (width - 1) / 2.0, cy = (height - 1) / 2.0;
  s.centre = wcs.pixel_to_sky(cx, cy);
  const double det = wcs.cd[0][0] * wcs.cd[1][1] - wcs.cd[0][1] * wcs.cd[1][0];
  s.pixel_scale_arcsec = std::sqrt(std::abs(det)) * 3600.0;
  s.rotation_deg = position_angle_deg(s.centre, wcs.pixel_to_sky(cx, cy + 1));
  s.flipped = det > 0;
  return s;
}

double separation_arcsec(const SkyPosition& p, const SkyPosition& q) {
  // Haversine: accurate at the sub-milliarcsecond separations the tests compare.
  const double d1 = p.dec_deg * kDeg, d2 = q.dec_deg * kDeg, da = (q.ra_deg - p.ra_deg) * kDeg;
  const double h = std::pow(std::sin((d2 - d1) / 2), 2) + std::cos(d1) * std::cos(d2) * std::pow(std::sin(da / 2), 2);
  return 2 * std::asin(std::min(1.0, std::sqrt(h))) / kDeg * 3600.0;
}

}  // namespace tianyu::pipeline::astrometry
