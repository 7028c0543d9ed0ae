// stack: one node of the hierarchical stack. Frames come in with their alignment and the
// selection's verdict as weight (a rejected frame weighs 0); child nodes with their weight
// maps, so the root equals one weighted mean of every good frame whatever the fan-out.
#include <spdlog/fmt/fmt.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/fits_io.h"
#include "pipeline/stacking/stack_node.h"

namespace tianyu::consumer::steps {
namespace {

struct Child {
  pipeline::Image image, weight_map;
  std::vector<std::uint8_t> mask;
  pipeline::StackInput input;
};

void stack(StepContext& ctx) {
  const auto obs = observation_of(ctx);
  const auto node = uint_param(ctx, "node");
  const bool is_template = ctx.params.value("template", false);
  as_step(fmt::format("stack node {} of observation {}", node, obs), [&] {
    const auto [width, height] = observation_frame_size(ctx, obs);
    std::vector<Child> children;
    children.reserve(ctx.params.at("children").size());
    int frames = 0;
    for (const auto& c : ctx.params.at("children")) {
      if (!c.contains("frame_id")) continue;
      const auto frame_id = c["frame_id"].get<std::uint64_t>();
      const auto alignment = frame_alignment(ctx, frame_id);
      const auto product = latest_product(ctx, obs, "calibrated", frame_id);
      if (!alignment || !product || !alignment->good.value_or(false)) continue;  // failed or rejected
      Child& child = children.emplace_back();
      child.image = pipeline::read_fits(absolute(ctx, product->path)).image;
      child.mask = read_mask(absolute(ctx, product->mask_path), child.image.width, child.image.height);
      child.input = {nullptr, 1.0, alignment->transform, nullptr, nullptr};
      ++frames;
    }
    for (const auto& p : products_of_dependencies(ctx, "stack")) {
      Child& child = children.emplace_back();
      child.image = pipeline::read_fits(absolute(ctx, p.path)).image;
      child.weight_map = pipeline::read_fits(absolute(ctx, p.weight_path)).image;
      child.input = {nullptr, 1.0, {}, nullptr, nullptr};
      frames += p.frames;
    }
    std::vector<pipeline::StackInput> inputs;
    for (auto& c : children) {
      c.input.image = &c.image;
      if (!c.mask.empty()) c.input.mask = &c.mask;
      if (!c.weight_map.pixels.empty()) c.input.weight_map = &c.weight_map;
      inputs.push_back(c.input);
    }
    // A node whose frames were all rejected is empty (zero weight), not an error.
    const auto result = inputs.empty()
                            ? pipeline::Stack{pipeline::Image(width, height), pipeline::Image(width, height)}
                            : pipeline::stack_node(inputs, width, height, 0);
    ImageProduct p;
    const std::string stem = is_template ? "template" : fmt::format("stacks/node{}", node);
    p.path = product_path(ctx, obs, stem + ".fits");
    p.weight_path = product_path(ctx, obs, stem + ".weight.fits");
    p.frames = frames;
    pipeline::write_fits(absolute(ctx, p.path), result.image,
                         {{"NCOMBINE", static_cast<long long>(frames), "good frames in this stack"}});
    pipeline::write_fits(absolute(ctx, p.weight_path), result.weight_map, {});
    record_product(ctx, obs, std::nullopt, is_template ? "template" : "stack", p);
  });
}

}  // namespace

void register_stack_step(StepRegistry& registry) { registry.add("stack", stack); }

}  // namespace tianyu::consumer::steps
