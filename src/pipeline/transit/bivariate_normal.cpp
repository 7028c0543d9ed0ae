#include "pipeline/transit/bivariate_normal.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <span>

namespace tianyu::pipeline {
namespace {

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::numbers::sqrt2); }

// ln Phi(x), accurate far into the lower tail. For erfc's argument <= -6 the true erfc is within
// 0.1 ulp of 2, so erfc returns exactly 2 (glibc: "two - tiny") and ln Phi is exactly ln 1 = 0:
// answered without either call (a third of the tail integral's nodes on a night's bumps).
double log_normal_cdf(double x) {
  if (x > -30) {
    const double y = -x / std::numbers::sqrt2;
    if (y <= -6) return 0.0;
    return std::log(0.5 * std::erfc(y));
  }
  return -0.5 * x * x - std::log(-x) - 0.5 * std::log(2 * std::numbers::pi);
}

// Half of a Gauss-Legendre rule on [-1, 1] (the nodes are +-x): 6, 12 and 20 points.
struct HalfRule {
  std::span<const double> weight, node;
};
constexpr std::array<double, 3> kW6{0.1713244923791705, 0.3607615730481384, 0.4679139345726904};
constexpr std::array<double, 3> kX6{0.9324695142031522, 0.6612093864662647, 0.2386191860831970};
constexpr std::array<double, 6> kW12{0.04717533638651177, 0.1069393259953183, 0.1600783285433464,
                                     0.2031674267230659,  0.2334925365383547, 0.2491470458134029};
constexpr std::array<double, 6> kX12{0.9815606342467191, 0.9041172563704750, 0.7699026741943050,
                                     0.5873179542866171, 0.3678314989981802, 0.1252334085114692};
constexpr std::array<double, 10> kW20{0.01761400713915212, 0.04060142980038694, 0.06267204833410906,
                                      0.08327674157670475, 0.1019301198172404,  0.1181945319615184,
                                      0.1316886384491766,  0.1420961093183821,  0.1491729864726037,
                                      0.1527533871307259};
constexpr std::array<double, 10> kX20{0.9931285991850949, 0.9639719272779138, 0.9122344282513259,
                                      0.8391169718222188, 0.7463319064601508, 0.6360536807265150,
                                      0.5108670019508271, 0.3737060887154196, 0.2277858511416451,
                                      0.07652652113349733};

HalfRule rule_for(double r) {
  if (std::abs(r) < 0.3) return {kW6, kX6};
  if (std::abs(r) < 0.75) return {kW12, kX12};
  return {kW20, kX20};
}

// P(Z1 > h, Z2 > k) for |r| < 0.925: Plackett's identity integrated over asin(r).
double upper_moderate(double h, double k, double r, const HalfRule& g) {
  const double hk = h * k, hs = 0.5 * (h * h + k * k), asr = 0.5 * std::asin(r);
  double sum = 0;
  for (std::size_t i = 0; i < g.node.size(); ++i) {
    for (const double x : {1 - g.node[i], 1 + g.node[i]}) {
      const double sn = std::sin(asr * x);
      sum += g.weight[i] * std::exp((sn * hk - hs) / (1 - sn * sn));
    }
  }
  return sum * asr / (2 * std::numbers::pi) + normal_cdf(-h) * normal_cdf(-k);
}

// P(Z1 > h, Z2 > k) for 0.925 <= |r| < 1: the expansion about |r| = 1 of Drezner & Wesolowsky.
double upper_strong(double h, double k, double r, const HalfRule& g) {
  const double two_pi = 2 * std::numbers::pi;
  if (r < 0) k = -k;
  const double hk = h * k;
  double bvn = 0;
  const double as = 1 - r * r, a = std::sqrt(as), bs = (h - k) * (h - k);
  const double c = (4 - hk) / 8, d = (12 - hk) / 80;
  const double asr = -(bs / as + hk) / 2;
  if (asr > -100) bvn = a * std::exp(asr) * (1 - c * (bs - as) * (1 - d * bs) / 3 + c * d * as * as);
  if (hk > -100) {
    const double b = std::sqrt(bs), sp = std::sqrt(two_pi) * normal_cdf(-b / a);
    bvn -= std::exp(-hk / 2) * sp * b * (1 - c * bs * (1 - d * bs) / 3);
  }
  const double half_a = a / 2;
  double sum = 0;
  for (std::size_t i = 0; i < g.node.size(); ++i) {
    for (const double x : {1 - g.node[i], 1 + g.node[i]}) {
      const double xs = (half_a * x) * (half_a * x);
      const double e = -(bs / xs + hk) / 2;
      if (e <= -100) continue;
      const double sp = 1 + c * xs * (1 + 5 * d * xs);
      const double rs = std::sqrt(1 - xs);
      const double ep = std::exp(-(hk / 2) * xs / ((1 + rs) * (1 + rs))) / rs;
      sum += g.weight[i] * std::exp(e) * (sp - ep);
    }
  }
  bvn = (half_a * sum - bvn) / two_pi;
  if (r > 0) return bvn + normal_cdf(-std::max(h, k));
  if (h >= k) return -bvn;
  const double between = h < 0 ? normal_cdf(k) - normal_cdf(h) : normal_cdf(-h) - normal_cdf(-k);
  return between - bvn;
}

}  // namespace

double log_bivariate_normal_cdf_tail(double a, double b, double rho) {
  constexpr int steps = 240;
  const double q = std::sqrt(1 - rho * rho);
  // The integrand lives within a dozen sigma below its upper end (or below 0).
  const double lo = std::min(a, 0.0) - 12, hi = a, h = (hi - lo) / steps;
  // The rule's weights are h / 2 at the ends and h between: two logarithms, not one a node.
  const double log_end_weight = std::log(0.5 * h), log_inner_weight = std::log(1.0 * h);
  std::array<double, steps + 1> terms;  // on the stack: this runs ~10^5 times a night
  for (int k = 0; k <= steps; ++k) {
    const double z = lo + k * h;
    const double log_w = (k == 0 || k == steps) ? log_end_weight : log_inner_weight;
    terms[k] = log_w - 0.5 * z * z - 0.5 * std::log(2 * std::numbers::pi) + log_normal_cdf((b - rho * z) / q);
  }
  const double m = *std::max_element(terms.begin(), terms.end());
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (const double t : terms) {
    // exp underflows to exactly +0 below -745.2 (its true value is under half the smallest
    // subnormal), and adding +0 leaves the sum as it is: the call is skipped, not the term.
    if (const double d = t - m; !(d < -746)) s += std::exp(d);
  }
  return m + std::log(s);
}

double bivariate_normal_cdf(double a, double b, double rho) {
  if (std::isinf(a) || std::isinf(b)) {
    if (a == -INFINITY || b == -INFINITY) return 0;
    return a == INFINITY ? normal_cdf(b) : normal_cdf(a);
  }
  // P(Z1 < a, Z2 < b) = P(-Z1 > -a, -Z2 > -b), and (-Z1, -Z2) has the same correlation.
  const double h = -a, k = -b;
  if (rho == 0) return normal_cdf(a) * normal_cdf(b);
  const auto rule = rule_for(rho);
  const double p = std::abs(rho) < 0.925 ? upper_moderate(h, k, rho, rule) : upper_strong(h, k, rho, rule);
  return std::clamp(p, 0.0, 1.0);
}

}  // namespace tianyu::pipeline
