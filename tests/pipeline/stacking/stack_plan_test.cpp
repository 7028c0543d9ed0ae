// Stacking trees checked against trees worked out by hand.
#include "pipeline/stacking/stack_plan.h"

#include <stdexcept>

#include <gtest/gtest.h>

namespace tianyu::pipeline {
namespace {

StackItem frame(int i) { return {false, i}; }
StackItem node(int i) { return {true, i}; }

TEST(StackPlan, OneFrameIsItsOwnRoot) {
  const auto plan = plan_stack_tree(1, 5);
  EXPECT_TRUE(plan.nodes.empty());
  EXPECT_EQ(plan.root, frame(0));
}

TEST(StackPlan, UpToTheFanOutIsOneNode) {
  for (int n : {2, 4, 5}) {  // k - 1 and k for k = 5
    const auto plan = plan_stack_tree(n, 5);
    ASSERT_EQ(plan.nodes.size(), 1u) << n;
    EXPECT_EQ(plan.nodes[0].children.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(plan.nodes[0].last_frame, n - 1);
    EXPECT_EQ(plan.root, node(0));
  }
}

TEST(StackPlan, OneMoreThanTheFanOutPassesTheLeftoverUp) {
  // k + 1 = 6 with k = 5: node 0 = frames 0-4; frame 5 passes up; node 1 = {node 0, frame 5}.
  const auto plan = plan_stack_tree(6, 5);
  ASSERT_EQ(plan.nodes.size(), 2u);
  EXPECT_EQ(plan.nodes[0].children, (std::vector<StackItem>{frame(0), frame(1), frame(2), frame(3), frame(4)}));
  EXPECT_EQ(plan.nodes[1].children, (std::vector<StackItem>{node(0), frame(5)}));
  EXPECT_EQ(plan.nodes[1].level, 2);
  EXPECT_EQ(plan.root, node(1));
}

TEST(StackPlan, ThirteenFramesWithFanOutThree) {
  // Level 1: {0,1,2} {3,4,5} {6,7,8} {9,10,11}, frame 12 passes up.
  // Level 2: {n0,n1,n2} {n3,f12}. Level 3: {n4,n5}.
  const auto plan = plan_stack_tree(13, 3);
  ASSERT_EQ(plan.nodes.size(), 7u);
  EXPECT_EQ(plan.nodes[3].children, (std::vector<StackItem>{frame(9), frame(10), frame(11)}));
  EXPECT_EQ(plan.nodes[4].children, (std::vector<StackItem>{node(0), node(1), node(2)}));
  EXPECT_EQ(plan.nodes[5].children, (std::vector<StackItem>{node(3), frame(12)}));
  EXPECT_EQ(plan.nodes[5].first_frame, 9);
  EXPECT_EQ(plan.nodes[5].last_frame, 12);
  EXPECT_EQ(plan.nodes[6].children, (std::vector<StackItem>{node(4), node(5)}));
  EXPECT_EQ(plan.nodes[6].level, 3);
  EXPECT_EQ(plan.root, node(6));
}

TEST(StackPlan, NineHundredNinetyNineFramesCoverEveryFrameOnce) {
  // k = 5: 199 nodes of 5 + frames 995-998 as one node of 4 = 200; then 40; then 8; then 2
  // (5 and 3); then 1: 251 nodes in all.
  const auto plan = plan_stack_tree(999, 5);
  EXPECT_EQ(plan.nodes.size(), 200u + 40u + 8u + 2u + 1u);
  std::vector<int> seen(999, 0);
  for (const auto& n : plan.nodes) {
    for (const auto& c : n.children) {
      if (!c.is_node) ++seen[c.index];
    }
  }
  for (int i = 0; i < 999; ++i) ASSERT_EQ(seen[i], 1) << "frame " << i;
  EXPECT_EQ(plan.nodes[plan.root.index].first_frame, 0);
  EXPECT_EQ(plan.nodes[plan.root.index].last_frame, 998);
  for (std::size_t i = 0; i < plan.nodes.size(); ++i) {
    for (const auto& c : plan.nodes[i].children) {
      if (c.is_node) {
        ASSERT_LT(static_cast<std::size_t>(c.index), i) << "children come first";
      }
    }
  }
}

TEST(StackPlan, NonsenseIsRefused) {
  EXPECT_THROW(plan_stack_tree(0, 5), StackError);
  EXPECT_THROW(plan_stack_tree(10, 1), StackError);
  try {
    plan_stack_tree(10, 1);
  } catch (const StackError& e) {
    EXPECT_FALSE(e.retryable()) << "bad parameters never pass on a retry";
    EXPECT_STREQ(e.what(), "fan-out must be at least 2, got 1");
  }
}

}  // namespace
}  // namespace tianyu::pipeline
