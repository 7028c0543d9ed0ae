#pragma once
// The hierarchical stacking tree (DESIGN.md section 3, step 6): frames in consecutive chunks of
// `fan_out`; a chunk of two or more becomes a stack node, a single leftover is passed up as it is;
// repeat on the level's outputs until one remains. A pure function, so the publisher can lay
// out the DAG before any frame is read. Unlike the published planner it accepts a single frame
// (the root is that frame) and never drops a passed-up item.
#include <vector>

#include "pipeline/failure.h"

namespace tianyu::pipeline {

// A stack that cannot be planned or combined (no frames, a fan-out below 2, inputs of the wrong
// size): bad parameters or inputs, never retryable.
class StackError : public Failure {
 public:
  using Failure::Failure;
};

struct StackItem {
  bool is_node = false;  // false: frame `index`; true: node `index` of the plan
  int index = 0;
  bool operator==(const StackItem&) const = default;
};

struct StackNode {
  int level = 1;                   // 1: stacks frames; n: stacks items of level n - 1 and below
  std::vector<StackItem> children;
  int first_frame = 0, last_frame = 0;  // the frames it covers, inclusive
};

struct StackPlan {
  std::vector<StackNode> nodes;  // children always come before their parent
  StackItem root;
};

// Throws StackError for frames < 1 or fan_out < 2.
StackPlan plan_stack_tree(int frames, int fan_out);

}  // namespace tianyu::pipeline
