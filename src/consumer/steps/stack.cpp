// stack: one node of the hierarchical stack. Frames come from this node's calibrated inputs
// with their alignment and the selection's verdict as weight (a rejected frame weighs 0); child
// nodes are the stack products of its dependencies, with their weight maps, so the root equals
// one weighted mean of every good frame whatever the fan-out.
//
// In bands of rows (issue 17): a Tianyu-I node of 8 frames at 8120^2 would hold 8 x (264 MB
// image + 66 MB mask) whole; each band reads only the rows its output rows need from every
// child's files and is written out before the next, so the node holds about kBandBudget.
#include <algorithm>
#include <memory>

#include <spdlog/fmt/fmt.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/fits_rows.h"
#include "pipeline/stacking/banded_stack.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

// Inputs and output of one band: 256 MiB, ~685 rows of a Tianyu-I node of 8 masked frames.
constexpr std::size_t kBandBudget = std::size_t{256} << 20;

using pipeline::FitsRowReader;

// What the children's band readers point to; kept alive (and in place) for the whole stack.
struct Readers {
  std::vector<std::unique_ptr<FitsRowReader>> files;
  const FitsRowReader& open(const std::filesystem::path& path) {
    return *files.emplace_back(std::make_unique<FitsRowReader>(path));
  }
};

pipeline::FloatRows rows_of(const FitsRowReader& r) {
  return [&r](int y0, int rows, float* out) { r.read(y0, rows, out); };
}

void require_same_size(const FitsRowReader& mask, const FitsRowReader& image, const char* what) {
  if (mask.width() != image.width() || mask.height() != image.height()) {
    throw InputError(fmt::format("{}: {} is {}x{}, its image {}x{}", mask.path().string(), what, mask.width(),
                                 mask.height(), image.width(), image.height()));
  }
}

// frame_mask's choice, a band at a time: the mask file, or a minute stack's partial exposure.
pipeline::MaskRows mask_rows(StepContext& ctx, const ImageProduct& p, const FitsRowReader& image, Readers& readers) {
  if (!p.mask_path.empty()) {
    const auto& mask = readers.open(readable(ctx, p.mask_path));
    require_same_size(mask, image, "mask");
    return [&mask](int y0, int rows, std::uint8_t* out) { mask.read(y0, rows, out); };
  }
  if (p.weight_path.empty()) return {};
  const auto& exposure = readers.open(readable(ctx, p.weight_path));
  require_same_size(exposure, image, "exposure map");
  return pipeline::partial_exposure_rows(rows_of(exposure), exposure.width(), exposure.height());
}

// The node's good frames (a frame that failed or was rejected is absent or weighs nothing).
int add_frames(StepContext& ctx, const contract::StackParams& params, Readers& readers,
               std::vector<pipeline::BandedChild>& children) {
  int frames = 0;
  for (const auto& product : frame_products(ctx)) {
    const auto frame_id = product.frame_id.value_or(0);
    if (std::find(params.frame_ids.begin(), params.frame_ids.end(), frame_id) == params.frame_ids.end()) continue;
    const auto alignment = ctx.observation_store().frame_alignment(frame_id);
    if (!alignment || !alignment->good.value_or(false)) continue;
    const auto& image = readers.open(readable(ctx, product.path));
    children.push_back({image.width(), image.height(), 1.0, alignment->transform, rows_of(image),
                        mask_rows(ctx, product, image, readers), {}});
    ++frames;
  }
  return frames;
}

int add_child_nodes(StepContext& ctx, Readers& readers, std::vector<pipeline::BandedChild>& children) {
  int frames = 0;
  for (const auto& p : dependency_products(ctx, "stack")) {
    const auto& image = readers.open(readable(ctx, p.path));
    const auto& weight = readers.open(readable(ctx, p.weight_path));
    require_same_size(weight, image, "weight map");
    children.push_back({image.width(), image.height(), 1.0, {}, rows_of(image), {}, rows_of(weight)});
    frames += p.frames;
  }
  return frames;
}

void stack(StepContext& ctx, const contract::StackParams& params) {
  const auto obs = params.observation_id;
  run_with_failure_context(fmt::format("stack node {} of observation {}", params.node, obs), [&] {
    const auto [width, height] = observation_frame_size(ctx, obs);
    Readers readers;
    std::vector<pipeline::BandedChild> children;
    const int frames = add_frames(ctx, params, readers, children) + add_child_nodes(ctx, readers, children);
    ProductFiles out(ctx, obs);
    ImageProduct p;
    const std::string stem = params.is_template ? "template" : fmt::format("stacks/node{}", params.node);
    p.path = out.name(stem, ".fits");
    p.weight_path = out.name(stem, ".weight.fits");
    p.frames = frames;
    // A node whose frames were all rejected is empty (zero weight), not an error.
    pipeline::FitsRowWriter image(out.absolute(p.path), width, height,
                                  {{"NCOMBINE", static_cast<long long>(frames), "good frames in this stack"}});
    pipeline::FitsRowWriter weight_map(out.absolute(p.weight_path), width, height, {});
    const int band = pipeline::band_rows_for_budget(children, width, height, kBandBudget);
    pipeline::stack_in_bands(children, width, height, band, [&](int y0, const pipeline::Stack& s) {
      ctx.check_lease();  // a worker that lost its lease writes nothing more
      image.write(y0, s.image.height, s.image.pixels.data());
      weight_map.write(y0, s.weight_map.height, s.weight_map.pixels.data());
    }, 0);
    ctx.check_lease();
    image.commit();
    weight_map.commit();
    record_product(ctx, obs, params.is_template ? "template" : "stack", p);
  });
}

}  // namespace

void register_stack_step(StepRegistry& registry) { registry.add<contract::StackParams>("stack", stack); }

}  // namespace tianyu::consumer::steps
