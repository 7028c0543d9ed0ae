// master_bias, master_dark, master_flat: the observation's calibration frames combined
// (pipeline/calibration/masters.h); the earlier masters come from this process's dependencies.
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/calibration/frame_set.h"
#include "pipeline/calibration/masters.h"
#include "pipeline/fits_io.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

std::optional<pipeline::Image> input_master(StepContext& ctx, const char* kind) {
  const auto products = dependency_products(ctx, kind);
  if (products.empty()) return std::nullopt;
  return pipeline::read_fits(readable(ctx, products.front().path)).image;
}

pipeline::Image combine(StepContext& ctx, const std::string& kind, const pipeline::FitsFrameSet& set) {
  pipeline::CombineOptions options;
  options.threads = 0;  // every core: the result does not depend on it
  if (kind == "master_bias") return pipeline::master_bias(set, options);
  const auto bias = input_master(ctx, "master_bias").value_or(pipeline::Image(set.width(), set.height()));
  if (kind == "master_dark") return pipeline::master_dark_rate(set, bias, options);
  const auto dark_rate = input_master(ctx, "master_dark");
  return pipeline::master_flat(set, bias, dark_rate ? &*dark_rate : nullptr,
                               pipeline::FlatCombine::clipped_pearson_mode, options);
}

// The frames' exposure times from frame_calibration (the header read once, at ingest). A dark or
// flat without one cannot be scaled: bad input, naming the frame.
std::vector<double> exposures(StepContext& ctx, const std::vector<RawFrame>& frames, bool needed) {
  std::vector<double> out;
  for (const auto& f : frames) {
    const double t = frame_calibration(ctx, f.frame_id).exptime_s;
    if (needed && !(t > 0)) {
      throw InputError(fmt::format("frame {} ({}) has no exposure time (EXPTIME)", f.frame_id, f.path));
    }
    out.push_back(t);
  }
  return out;
}

void make_master(StepContext& ctx, const std::string& kind, const contract::ObservationParams& params) {
  const auto obs = params.observation_id;
  const std::string frame_kind = kind.substr(std::string("master_").size());
  const auto frames = raw_frames(ctx, obs, frame_kind);
  if (frames.empty()) throw InputError(fmt::format("observation {} has no {} frames", obs, frame_kind));
  run_with_failure_context(fmt::format("{} of observation {} ({} frames)", kind, obs, frames.size()), [&] {
    std::vector<std::filesystem::path> files;
    for (const auto& f : frames) files.push_back(readable(ctx, f.path));
    const pipeline::FitsFrameSet set(files, exposures(ctx, frames, frame_kind != "bias"));
    const auto master = combine(ctx, kind, set);
    ProductFiles out(ctx, obs);
    ImageProduct p;
    p.path = out.name("masters/" + kind, ".fits");
    p.frames = static_cast<int>(frames.size());
    pipeline::write_fits(out.absolute(p.path), master,
                         {{"IMAGETYP", kind, "Tianyu master"},
                          {"NCOMBINE", static_cast<long long>(frames.size()), "frames combined"}});
    record_product(ctx, obs, kind, p);
    spdlog::info("process {}: {} of observation {} from {} frames", ctx.process_id, kind, obs, frames.size());
  });
}

}  // namespace

void register_master_steps(StepRegistry& registry) {
  for (const char* kind : {"master_bias", "master_dark", "master_flat"}) {
    registry.add<contract::ObservationParams>(
        kind, [kind = std::string(kind)](StepContext& ctx, const contract::ObservationParams& p) {
          make_master(ctx, kind, p);
        });
  }
}

}  // namespace tianyu::consumer::steps
