// stack: one node of the hierarchical stack. Frames come from this node's calibrated inputs
// with their alignment and the selection's verdict as weight (a rejected frame weighs 0); child
// nodes are the stack products of its dependencies, with their weight maps, so the root equals
// one weighted mean of every good frame whatever the fan-out.
#include <algorithm>

#include <spdlog/fmt/fmt.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/fits_io.h"
#include "pipeline/stacking/stack_node.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

struct Child {
  pipeline::Image image, weight_map;
  std::vector<std::uint8_t> mask;
  pipeline::StackInput input;
};

// The node's good frames (a frame that failed or was rejected is absent or weighs nothing).
int load_frames(StepContext& ctx, const contract::StackParams& params, std::vector<Child>& children) {
  int frames = 0;
  for (const auto& product : dependency_products(ctx, "calibrated")) {
    const auto frame_id = product.frame_id.value_or(0);
    if (std::find(params.frame_ids.begin(), params.frame_ids.end(), frame_id) == params.frame_ids.end()) continue;
    const auto alignment = ctx.observation_store().frame_alignment(frame_id);
    if (!alignment || !alignment->good.value_or(false)) continue;
    Child& child = children.emplace_back();
    child.image = pipeline::read_fits(readable(ctx, product.path)).image;
    child.mask = read_mask(readable(ctx, product.mask_path), child.image.width, child.image.height);
    child.input = {nullptr, 1.0, alignment->transform, nullptr, nullptr};
    ++frames;
  }
  return frames;
}

int load_child_nodes(StepContext& ctx, std::vector<Child>& children) {
  int frames = 0;
  for (const auto& p : dependency_products(ctx, "stack")) {
    Child& child = children.emplace_back();
    child.image = pipeline::read_fits(readable(ctx, p.path)).image;
    child.weight_map = pipeline::read_fits(readable(ctx, p.weight_path)).image;
    child.input = {nullptr, 1.0, {}, nullptr, nullptr};
    frames += p.frames;
  }
  return frames;
}

void stack(StepContext& ctx, const contract::StackParams& params) {
  const auto obs = params.observation_id;
  run_with_failure_context(fmt::format("stack node {} of observation {}", params.node, obs), [&] {
    const auto [width, height] = observation_frame_size(ctx, obs);
    std::vector<Child> children;
    const int frames = load_frames(ctx, params, children) + load_child_nodes(ctx, children);
    std::vector<pipeline::StackInput> inputs;
    for (auto& c : children) {
      c.input.image = &c.image;
      if (!c.mask.empty()) c.input.mask = &c.mask;
      if (!c.weight_map.pixels.empty()) c.input.weight_map = &c.weight_map;
      inputs.push_back(c.input);
    }
    // A node whose frames were all rejected is empty (zero weight), not an error.
    const auto result = inputs.empty() ? pipeline::Stack{pipeline::Image(width, height), pipeline::Image(width, height)}
                                       : pipeline::stack_node(inputs, width, height, 0);
    ProductFiles out(ctx, obs);
    ImageProduct p;
    const std::string stem = params.is_template ? "template" : fmt::format("stacks/node{}", params.node);
    p.path = out.name(stem, ".fits");
    p.weight_path = out.name(stem, ".weight.fits");
    p.frames = frames;
    pipeline::write_fits(out.absolute(p.path), result.image,
                         {{"NCOMBINE", static_cast<long long>(frames), "good frames in this stack"}});
    pipeline::write_fits(out.absolute(p.weight_path), result.weight_map, {});
    record_product(ctx, obs, params.is_template ? "template" : "stack", p);
  });
}

}  // namespace

void register_stack_step(StepRegistry& registry) { registry.add<contract::StackParams>("stack", stack); }

}  // namespace tianyu::consumer::steps
