// align: a frame's catalogue matched onto the reference frame's (pipeline/alignment), and the
// frame's quality numbers, recorded for the selection over the whole observation. The reference
// is the earliest frame among this process's calibrated inputs: the DAG makes every align wait
// for the same first frames' calibration, so every frame picks the same one.
#include <spdlog/fmt/fmt.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/alignment/align.h"
#include "pipeline/selection/quality.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

void align_frame(StepContext& ctx, const contract::FrameParams& params) {
  run_with_failure_context(fmt::format("align frame {}", params.frame_id), [&] {
    const auto calibrated = frame_products(ctx);  // in time order
    const auto mine = frame_product(ctx, params.frame_id);
    if (calibrated.empty()) throw InputError("none of the reference candidates calibrated");
    const auto& reference = calibrated.front();
    const auto sources = read_catalog(readable(ctx, mine.catalog_path));
    const auto reference_sources = read_catalog(readable(ctx, reference.catalog_path));
    const auto a = pipeline::align_to_reference(reference_sources, sources);
    ctx.observation_store().stage_frame_quality({params.frame_id, params.observation_id, ctx.process_id,
                                                 sources.size(), mine.background_rms, a,
                                                 pipeline::longest_trail(sources)});
  });
}

}  // namespace

void register_align_step(StepRegistry& registry) { registry.add<contract::FrameParams>("align", align_frame); }

}  // namespace tianyu::consumer::steps
