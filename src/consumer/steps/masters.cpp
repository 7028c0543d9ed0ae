// master_bias, master_dark, master_flat: the observation's calibration frames combined
// (pipeline/calibration/masters.h), each master a product the calibration reads.
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/calibration/frame_set.h"
#include "pipeline/calibration/masters.h"
#include "pipeline/fits_io.h"

namespace tianyu::consumer::steps {
namespace {

std::vector<std::filesystem::path> files_of(const StepContext& ctx, const std::vector<RawFrame>& frames) {
  std::vector<std::filesystem::path> out;
  for (const auto& f : frames) out.push_back(absolute(ctx, f.path));
  return out;
}

pipeline::Image master_or_zero(const StepContext& ctx, std::uint64_t obs, const char* kind, int width, int height) {
  if (const auto p = latest_product(ctx, obs, kind)) return pipeline::read_fits(absolute(ctx, p->path)).image;
  return pipeline::Image(width, height);
}

void make_master(StepContext& ctx, const std::string& kind) {
  const auto obs = observation_of(ctx);
  const std::string frame_kind = kind.substr(std::string("master_").size());
  const auto frames = raw_frames(ctx, obs, frame_kind);
  if (frames.empty()) throw InputError(fmt::format("observation {} has no {} frames", obs, frame_kind));
  as_step(fmt::format("{} of observation {} ({} frames)", kind, obs, frames.size()), [&] {
    const bool need_exptime = frame_kind != "bias";
    const pipeline::FitsFrameSet set(files_of(ctx, frames), need_exptime);
    pipeline::Image master;
    if (kind == "master_bias") {
      master = pipeline::master_bias(set);
    } else {
      const auto bias = master_or_zero(ctx, obs, "master_bias", set.width(), set.height());
      if (kind == "master_dark") {
        master = pipeline::master_dark_rate(set, bias);
      } else {
        const auto dark = latest_product(ctx, obs, "master_dark");
        const pipeline::Image dark_rate = dark ? pipeline::read_fits(absolute(ctx, dark->path)).image : pipeline::Image();
        master = pipeline::master_flat(set, bias, dark ? &dark_rate : nullptr);
      }
    }
    ImageProduct p;
    p.path = product_path(ctx, obs, "masters/" + kind + ".fits");
    p.frames = static_cast<int>(frames.size());
    pipeline::write_fits(absolute(ctx, p.path), master,
                         {{"IMAGETYP", kind, "Tianyu master"}, {"NCOMBINE", static_cast<long long>(frames.size()), "frames combined"}});
    record_product(ctx, obs, std::nullopt, kind, p);
    spdlog::info("process {}: {} of observation {} from {} frames", ctx.process_id, kind, obs, frames.size());
  });
}

}  // namespace

void register_master_steps(StepRegistry& registry) {
  for (const char* kind : {"master_bias", "master_dark", "master_flat"}) {
    registry.add(kind, [kind = std::string(kind)](StepContext& ctx) { make_master(ctx, kind); });
  }
}

}  // namespace tianyu::consumer::steps
