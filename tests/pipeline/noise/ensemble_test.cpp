#include "pipeline/noise/ensemble.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace tp = tianyu::pipeline;

namespace {

constexpr int kFrames = 5000;

// References of one flux with relative noise sigma[k], all dimmed alike by a transparency
// that varies 5 % from frame to frame (what the ensemble is there to divide out).
struct Night {
  tp::ReferenceFluxes refs;
  std::vector<double> target;  // a 0.5 %-noise target, dimmed alike
};

Night night(const std::vector<double>& sigma, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> unit(0, 1);
  Night n;
  n.refs.references = static_cast<int>(sigma.size());
  n.refs.frames = kFrames;
  n.refs.flux.resize(sigma.size() * kFrames);
  for (int f = 0; f < kFrames; ++f) {
    const double transparency = 1 + 0.05 * unit(rng);
    for (std::size_t k = 0; k < sigma.size(); ++k) {
      n.refs.flux[k * kFrames + f] = 1e5 * (k + 1) * transparency * (1 + sigma[k] * unit(rng));
    }
    n.target.push_back(3e4 * transparency * (1 + 0.005 * unit(rng)));
  }
  return n;
}

double target_scatter(const Night& n, const std::vector<double>& w, const std::vector<double>& level) {
  const auto c = tp::weighted_comparison(n.refs, w, level);
  std::vector<double> curve(kFrames);
  for (int f = 0; f < kFrames; ++f) curve[f] = n.target[f] / c[f];
  return tp::clipped_relative_scatter(curve);
}

}  // namespace

TEST(BroegWeights, ANoisyReferenceLosesItsWeightAndTheTargetScatterFalls) {
  // Five references of 1 % noise and one of 5 %. The weighted comparison's variance is the
  // weighted mean's, 1 / sum(1 / sigma^2) = 1 / (5 / 1e-4 + 1 / 2.5e-3) = 1.984e-5 (the
  // weights measured against the others come out 1 / 1.25e-4 and 1 / 2.52e-3, which gives
  // 1.985e-5); equal weights give sum(sigma^2) / 36 = 8.33e-5. With the target's own 0.5 %:
  // sqrt(2.5e-5 + 1.984e-5) = 0.670 % against sqrt(2.5e-5 + 8.33e-5) = 1.041 %.
  const auto n = night({0.01, 0.01, 0.01, 0.01, 0.01, 0.05}, 11);
  const auto w = tp::broeg_weights(n.refs);
  EXPECT_TRUE(w.converged);
  EXPECT_NEAR(w.weight[5] / w.weight[0], 1.25e-4 / 2.52e-3, 0.15 * 0.0496);
  EXPECT_NEAR(w.scatter[5], std::sqrt(2.52e-3), 0.03 * 0.0502);
  const std::vector<double> equal(6, 1.0);
  EXPECT_NEAR(target_scatter(n, w.weight, w.level), 0.00670, 0.05 * 0.00670);
  EXPECT_NEAR(target_scatter(n, equal, w.level), 0.01041, 0.05 * 0.01041);
  const auto choice = tp::choose_ensemble_weighting(n.refs);
  EXPECT_TRUE(choice.weighted) << choice.decision;
  EXPECT_LT(choice.scatter_weighted, 0.8 * choice.scatter_equal);
}

TEST(BroegWeights, PhotonLimitedReferencesKeepThePlainSum) {
  // Noise falling as 1 / sqrt(flux): the plain sum of fluxes is already the optimal weighting
  // and nothing is gained by switching. Each weight is 1 / (s_k^2 + var C_-k), the ensemble
  // without k adding 1 / sum_{j != k} (1 / s_j^2): for the faintest 1e-4 + 1 / 2e5, for the
  // brightest 1.667e-5 + 1 / 1.5e5, a ratio of 1.05e-4 / 2.333e-5 = 4.50 (not the flux ratio 6).
  std::vector<double> sigma;
  for (int k = 0; k < 6; ++k) sigma.push_back(0.01 / std::sqrt(k + 1.0));
  const auto n = night(sigma, 12);
  const auto w = tp::broeg_weights(n.refs);
  EXPECT_NEAR(w.weight[5] / w.weight[0], 4.50, 0.1 * 4.50);
  const auto choice = tp::choose_ensemble_weighting(n.refs);
  EXPECT_FALSE(choice.weighted) << choice.decision;
  EXPECT_NEAR(choice.scatter_weighted, choice.scatter_equal, 0.01 * choice.scatter_equal);
}

TEST(BroegWeights, RefusesASingleReference) {
  tp::ReferenceFluxes one{1, 3, {1, 2, 3}, {}};
  EXPECT_THROW(tp::broeg_weights(one), std::invalid_argument);
}
