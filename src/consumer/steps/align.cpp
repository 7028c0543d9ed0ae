// align: a frame's catalogue matched onto the reference frame's (pipeline/alignment), and the
// frame's quality numbers, recorded for the selection over the whole observation.
#include <spdlog/fmt/fmt.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/alignment/align.h"
#include "pipeline/selection/quality.h"

namespace tianyu::consumer::steps {
namespace {

void align_frame(StepContext& ctx) {
  const auto obs = observation_of(ctx);
  const auto frame_id = uint_param(ctx, "frame_id");
  as_step(fmt::format("align frame {}", frame_id), [&] {
    const auto mine = latest_product(ctx, obs, "calibrated", frame_id);
    if (!mine) throw InputError(fmt::format("frame {} has no calibrated image", frame_id));
    const auto reference_id = reference_frame_id(ctx, obs);
    const auto ref = latest_product(ctx, obs, "calibrated", reference_id);
    const auto sources = read_catalog(absolute(ctx, mine->catalog_path));
    const auto reference = read_catalog(absolute(ctx, ref->catalog_path));
    const auto a = pipeline::align_to_reference(reference, sources);
    const auto& t = a.transform;
    const double trail = pipeline::longest_trail(sources);
    const auto process_id = ctx.process_id;
    const double rms = mine->background_rms;
    ctx.on_commit([=](db::Connection& c) {
      c.execute(
          "REPLACE INTO frame_quality (frame_id, observation_id, process_id, star_count, background_rms_adu, aligned, "
          "align_failure, dx, dy, axx, axy, ayx, ayy, align_rms_px, matched_stars, transparency, trail_length_px, "
          "good, rejected_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
          {frame_id, obs, process_id, std::int64_t(sources.size()), rms, std::int64_t{a.aligned},
           a.aligned ? db::Param(nullptr) : db::Param(a.reason), t.dx, t.dy, t.axx, t.axy, t.ayx, t.ayy,
           a.aligned ? db::Param(a.rms_px) : db::Param(nullptr), std::int64_t{a.matched},
           a.aligned ? db::Param(a.transparency) : db::Param(nullptr), trail});
    });
  });
}

}  // namespace

void register_align_step(StepRegistry& registry) { registry.add("align", align_frame); }

}  // namespace tianyu::consumer::steps
