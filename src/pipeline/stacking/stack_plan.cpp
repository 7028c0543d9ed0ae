#include "pipeline/stacking/stack_plan.h"

#include <string>

namespace tianyu::pipeline {

StackPlan plan_stack_tree(int frames, int fan_out) {
  if (frames < 1) throw StackError("a stack needs at least one frame, got " + std::to_string(frames));
  if (fan_out < 2) throw StackError("fan-out must be at least 2, got " + std::to_string(fan_out));
  StackPlan plan;
  struct Covered {
    StackItem item;
    int first, last;
  };
  std::vector<Covered> level;
  for (int i = 0; i < frames; ++i) level.push_back({{false, i}, i, i});
  for (int depth = 1; level.size() > 1; ++depth) {
    std::vector<Covered> next;
    for (std::size_t start = 0; start < level.size(); start += fan_out) {
      const std::size_t end = std::min(level.size(), start + static_cast<std::size_t>(fan_out));
      if (end - start == 1) {
        next.push_back(level[start]);
        continue;
      }
      StackNode node;
      node.level = depth;
      node.first_frame = level[start].first;
      node.last_frame = level[end - 1].last;
      for (std::size_t i = start; i < end; ++i) node.children.push_back(level[i].item);
      plan.nodes.push_back(node);
      next.push_back({{true, static_cast<int>(plan.nodes.size()) - 1}, node.first_frame, node.last_frame});
    }
    level = std::move(next);
  }
  plan.root = level.front().item;
  return plan;
}

}  // namespace tianyu::pipeline
