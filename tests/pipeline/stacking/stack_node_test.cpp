// Node stacking: exact integer shifts, coverage, noise falling as 1/sqrt(N), fluxes kept, and a
// tree equal to one flat weighted mean.
#include "pipeline/stacking/stack_node.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "pipeline/robust_stats.h"
#include "pipeline/sim/night.h"
#include "pipeline/stacking/stack_plan.h"

namespace tianyu::pipeline {
namespace {

// The scene as seen by a frame offset by (dx, dy): stars at reference (x, y) land at (x+dx, y+dy).
Image scene(int w, int h, double dx, double dy, double noise, std::mt19937_64& rng) {
  Image im(w, h);
  sim::add_moffat_star(im, 40 + dx, 30 + dy, 5e4, 3.0, 3.0);
  sim::add_moffat_star(im, 80 + dx, 70 + dy, 2e4, 3.0, 3.0);
  std::normal_distribution<double> n01;
  for (auto& v : im.pixels) v += static_cast<float>(noise * n01(rng));
  return im;
}

double aperture_sum(const Image& im, double cx, double cy, double r) {
  double s = 0;
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x)
      if (std::hypot(x - cx, y - cy) <= r) s += im.at(x, y);
  return s;
}

TEST(StackNode, IntegerShiftsAreExactAndUncoveredPixelsHaveNoWeight) {
  std::mt19937_64 rng(1);
  const Image ref = scene(120, 100, 0, 0, 0.0, rng);
  const Image moved = scene(120, 100, 5, -3, 0.0, rng);
  const auto s = stack_node({{&moved, 1.0, FrameTransform::translation(5, -3)}}, 120, 100);
  EXPECT_FLOAT_EQ(s.image.at(40, 30), ref.at(40, 30));
  EXPECT_FLOAT_EQ(s.image.at(80, 70), ref.at(80, 70));
  EXPECT_EQ(s.weight_map.at(119, 50), 0.0f) << "x + 5 falls off the frame";
  EXPECT_EQ(s.weight_map.at(50, 1), 0.0f) << "y - 3 falls off the frame";
  EXPECT_EQ(s.weight_map.at(50, 50), 1.0f);
}

TEST(StackNode, NoiseFallsAsOneOverRootNAndFluxesStay) {
  std::mt19937_64 rng(2);
  const int n = 16;
  std::vector<Image> frames;
  std::vector<StackInput> inputs;
  for (int i = 0; i < n; ++i) frames.push_back(scene(120, 100, i % 4, -(i / 4), 10.0, rng));
  for (int i = 0; i < n; ++i) inputs.push_back({&frames[i], 1.0, FrameTransform::translation(i % 4, -(i / 4))});
  const auto s = stack_node(inputs, 120, 100);
  std::vector<double> sky;
  for (int y = 5; y < 20; ++y)
    for (int x = 60; x < 115; ++x) sky.push_back(s.image.at(x, y));
  EXPECT_NEAR(sigma_clipped_stats(sky).stddev, 10.0 / 4.0, 0.1 * 10.0 / 4.0);
  // The same aperture on the noiseless scene is the answer.
  const Image truth = scene(120, 100, 0, 0, 0.0, rng);
  for (const auto& [x, y] : std::vector<std::pair<double, double>>{{40, 30}, {80, 70}}) {
    const double expected = aperture_sum(truth, x, y, 10);
    EXPECT_NEAR(aperture_sum(s.image, x, y, 10), expected, 0.01 * expected) << x << "," << y;
  }
}

TEST(StackNode, SubPixelOffsetsKeepFluxesAndSmoothNoiseOnlyALittle) {
  std::mt19937_64 rng(5);
  const int n = 16;
  std::vector<Image> frames;
  std::vector<StackInput> inputs;
  for (int i = 0; i < n; ++i) {
    const double dx = 0.37 * (i % 4), dy = -0.29 * (i / 4);
    frames.push_back(scene(120, 100, dx, dy, 10.0, rng));
  }
  for (int i = 0; i < n; ++i) inputs.push_back({&frames[i], 1.0, FrameTransform::translation(0.37 * (i % 4), -0.29 * (i / 4))});
  const auto s = stack_node(inputs, 120, 100);
  const Image truth = scene(120, 100, 0, 0, 0.0, rng);
  for (const auto& [x, y] : std::vector<std::pair<double, double>>{{40, 30}, {80, 70}}) {
    const double expected = aperture_sum(truth, x, y, 10);
    EXPECT_NEAR(aperture_sum(s.image, x, y, 10), expected, 0.01 * expected) << x << "," << y;
  }
  std::vector<double> sky;
  for (int y = 5; y < 20; ++y)
    for (int x = 60; x < 115; ++x) sky.push_back(s.image.at(x, y));
  const double noise = sigma_clipped_stats(sky).stddev;
  EXPECT_LT(noise, 10.0 / 4.0);
  EXPECT_GT(noise, 0.6 * 10.0 / 4.0) << "bilinear resampling smooths, but not by more than this";
}

// A field rotated by 0.5 degrees about a corner (and shifted): resampled through the transform,
// the stars come back to their reference positions with their fluxes.
TEST(StackNode, RotatedFramesComeBackThroughTheirTransform) {
  const double angle = 0.5 * 3.14159265358979323846 / 180;
  const FrameTransform t{3.2, -1.7, std::cos(angle), -std::sin(angle), std::sin(angle), std::cos(angle)};
  Image rotated(120, 100), truth(120, 100);
  for (const auto& [x, y] : std::vector<std::pair<double, double>>{{40, 30}, {80, 70}, {100, 20}}) {
    const auto [fx, fy] = t.apply(x, y);
    sim::add_moffat_star(rotated, fx, fy, 3e4, 3.0, 3.0);
    sim::add_moffat_star(truth, x, y, 3e4, 3.0, 3.0);
  }
  const auto s = stack_node({{&rotated, 1.0, t}}, 120, 100);
  for (const auto& [x, y] : std::vector<std::pair<double, double>>{{40, 30}, {80, 70}, {100, 20}}) {
    const double expected = aperture_sum(truth, x, y, 8);
    EXPECT_NEAR(aperture_sum(s.image, x, y, 8), expected, 0.01 * expected) << x << "," << y;
  }
}

TEST(StackNode, ThreadsDoNotChangeTheResult) {
  std::mt19937_64 rng(6);
  std::vector<Image> frames;
  std::vector<StackInput> inputs;
  for (int i = 0; i < 5; ++i) frames.push_back(scene(120, 100, 0.3 * i, -0.2 * i, 10.0, rng));
  for (int i = 0; i < 5; ++i) inputs.push_back({&frames[i], 1.0 + i, FrameTransform::translation(0.3 * i, -0.2 * i)});
  const auto one = stack_node(inputs, 120, 100, 1);
  for (int threads : {2, 3, 0}) {
    const auto many = stack_node(inputs, 120, 100, threads);
    EXPECT_EQ(many.image.pixels, one.image.pixels) << threads << " threads";
    EXPECT_EQ(many.weight_map.pixels, one.weight_map.pixels);
  }
}

TEST(StackNode, ZeroWeightChildrenAreSkipped) {
  std::mt19937_64 rng(3);
  const Image good = scene(60, 50, 0, 0, 0.0, rng);
  Image cloudy = good;
  for (auto& v : cloudy.pixels) v = v * 0.1f + 500;
  const auto s = stack_node({{&good, 1.0, {}}, {&cloudy, 0.0, {}}}, 60, 50);
  EXPECT_EQ(s.image.pixels, good.pixels);
}

TEST(StackNode, TheTreeEqualsOneWeightedMean) {
  std::mt19937_64 rng(4);
  const int n = 13;
  std::vector<Image> frames;
  std::vector<double> weights;
  for (int i = 0; i < n; ++i) {
    frames.push_back(scene(64, 48, 0, 0, 20.0, rng));
    weights.push_back(i == 6 ? 0.0 : 1.0);  // one rejected frame
  }
  std::vector<StackInput> flat_inputs;
  for (int i = 0; i < n; ++i) flat_inputs.push_back({&frames[i], weights[i], {}});
  const auto flat = stack_node(flat_inputs, 64, 48);

  const auto plan = plan_stack_tree(n, 3);
  std::vector<Stack> nodes;
  for (const auto& node : plan.nodes) {
    std::vector<StackInput> children;
    for (const auto& c : node.children) {
      if (c.is_node) {
        children.push_back({&nodes[c.index].image, 1.0, {}, nullptr, &nodes[c.index].weight_map});
      } else {
        children.push_back({&frames[c.index], weights[c.index], {}});
      }
    }
    nodes.push_back(stack_node(children, 64, 48));
  }
  const auto& root = nodes[plan.root.index];
  for (std::size_t p = 0; p < flat.image.pixels.size(); ++p) {
    ASSERT_NEAR(root.image.pixels[p], flat.image.pixels[p], 1e-3) << p;
    ASSERT_EQ(root.weight_map.pixels[p], 12.0f);
  }
}

}  // namespace
}  // namespace tianyu::pipeline
