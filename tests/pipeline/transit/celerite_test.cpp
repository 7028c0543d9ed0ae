// The O(N) solver against a dense Cholesky of the same covariance matrix.
#include "pipeline/transit/celerite.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace tianyu::pipeline {
namespace {

struct Problem {
  std::vector<double> t, var, y;
  std::vector<ShoTerm> terms;
};

Problem make(int n, std::vector<ShoTerm> terms, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> gap(0.0005, 0.004);
  std::normal_distribution<double> n01;
  Problem p;
  double t = 2458354.1;  // BJD-like times: the solver must not lose digits to them
  for (int i = 0; i < n; ++i) {
    if (i == n / 2) t += 1.5;  // a gap, as between TESS orbits
    t += gap(rng);
    p.t.push_back(t);
    p.var.push_back(std::pow(0.001 * (1 + 0.3 * std::sin(i)), 2));
    p.y.push_back(0.002 * n01(rng) + 0.003 * std::sin(3 * t));
  }
  p.terms = std::move(terms);
  return p;
}

Eigen::MatrixXd dense(const Problem& p) {
  const auto k = celerite_terms(p.terms);
  const int n = static_cast<int>(p.t.size());
  Eigen::MatrixXd m(n, n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) m(i, j) = kernel_value(k, std::abs(p.t[i] - p.t[j])) + (i == j ? p.var[i] : 0.0);
  }
  return m;
}

void compare(const Problem& p) {
  const CeleriteSolver solver(p.t, p.var, p.terms);
  const Eigen::MatrixXd k = dense(p);
  const Eigen::LLT<Eigen::MatrixXd> llt(k);
  ASSERT_EQ(llt.info(), Eigen::Success);
  const Eigen::Map<const Eigen::VectorXd> y(p.y.data(), static_cast<Eigen::Index>(p.y.size()));
  const Eigen::VectorXd x = llt.solve(y);
  const double log_det = 2 * llt.matrixL().toDenseMatrix().diagonal().array().log().sum();
  const double ll = -0.5 * (y.dot(x) + log_det + p.y.size() * std::log(2 * 3.141592653589793));
  EXPECT_NEAR(solver.log_likelihood(p.y), ll, 1e-8 * std::abs(ll));
  EXPECT_NEAR(solver.log_determinant(), log_det, 1e-8 * std::abs(log_det));
  const auto ours = solver.solve(p.y);
  double worst = 0;
  for (std::size_t i = 0; i < ours.size(); ++i) worst = std::max(worst, std::abs(ours[i] - x[i]) / x.cwiseAbs().maxCoeff());
  EXPECT_LT(worst, 1e-8);
  // Whitening: y^T K^-1 y = |whiten(y)|^2.
  const auto z = solver.whiten(p.y);
  double zz = 0;
  for (const double v : z) zz += v * v;
  EXPECT_NEAR(zz, y.dot(x), 1e-8 * y.dot(x));
}

TEST(Celerite, MatchesADenseCholeskyForOneShoTerm) { compare(make(1500, {{1e-5, 2 * 3.14159 / 0.5, 0.7071}}, 1)); }

TEST(Celerite, MatchesADenseCholeskyForASumOfTermsIncludingAnOverdampedOne) {
  compare(make(2000, {{1e-5, 12.0, 0.7071}, {3e-6, 40.0, 3.0}, {2e-6, 5.0, 0.3}}, 2));
}

TEST(Celerite, TheKernelIsTheShoFormula) {
  const ShoTerm sho{2e-5, 9.0, 2.5};
  const auto k = celerite_terms({sho});
  for (const double tau : {0.0, 0.01, 0.1, 0.7}) {
    const double eta = std::sqrt(1 - 1 / (4 * sho.Q * sho.Q));
    const double expected = sho.S0 * sho.w0 * sho.Q * std::exp(-sho.w0 * tau / (2 * sho.Q)) *
                            (std::cos(eta * sho.w0 * tau) + std::sin(eta * sho.w0 * tau) / (2 * eta * sho.Q));
    EXPECT_NEAR(kernel_value(k, tau), expected, 1e-12 * sho.S0 * sho.w0 * sho.Q);
  }
}

TEST(Celerite, AWhitenedBoxEqualsTheFullWhiteningOfTheBox) {
  const auto p = make(1200, {{1e-5, 12.0, 0.7071}}, 3);
  const CeleriteSolver solver(p.t, p.var, p.terms);
  std::vector<double> box(p.t.size(), 0.0);
  for (int i = 400; i < 430; ++i) box[i] = 1.0;
  const auto full = solver.whiten(box);
  std::vector<double> part;
  int first = 0;
  solver.whiten_box(400, 430, part, first, 1e-12);
  ASSERT_EQ(first, 400);
  for (std::size_t i = 0; i < full.size(); ++i) {
    const double mine = i >= 400 && i < 400 + part.size() ? part[i - 400] : 0.0;
    EXPECT_NEAR(mine, full[i], 1e-9 * std::abs(full[410])) << i;
  }
  EXPECT_LT(part.size(), 1000u);  // it stopped once the kernel forgot the box
}

TEST(Celerite, ASampleWhitensBackToItsNormals) {
  const auto p = make(800, {{1e-5, 12.0, 0.7071}, {2e-6, 5.0, 0.3}}, 4);
  const CeleriteSolver solver(p.t, p.var, p.terms);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> n01;
  std::vector<double> z(p.t.size());
  for (auto& v : z) v = n01(rng);
  const auto back = solver.whiten(solver.sample(z));
  for (std::size_t i = 0; i < z.size(); ++i) EXPECT_NEAR(back[i], z[i], 1e-9);
}

TEST(Celerite, UnsortedTimesAreRefused) {
  std::vector<double> t{1, 3, 2}, v{1, 1, 1};
  EXPECT_THROW(CeleriteSolver(t, v, {{1e-5, 10, 0.7}}), GaussianProcessError);
}

}  // namespace
}  // namespace tianyu::pipeline
