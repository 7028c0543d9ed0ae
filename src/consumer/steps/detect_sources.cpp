// detect_sources: the template's sources (ids 1..N, brightest first) and the observation's
// aperture radii, by the recipe pipeline::recipes::detect_sources.
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/fits_io.h"
#include "pipeline/recipes/detect_sources.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

// The template from the root of the stacking tree, or (a single frame) that frame's calibration.
ImageProduct template_product(StepContext& ctx) {
  const auto stacked = dependency_products(ctx, "template");
  return stacked.empty() ? frame_product(ctx) : stacked.front();
}

void detect_sources(StepContext& ctx, const contract::DetectSourcesParams& params) {
  const auto obs = params.observation_id;
  run_with_failure_context(fmt::format("detect sources of observation {}", obs), [&] {
    const auto product = template_product(ctx);
    const auto stacked = pipeline::read_fits(readable(ctx, product.path)).image;
    std::optional<pipeline::Image> weight;
    if (!product.weight_path.empty()) weight = pipeline::read_fits(readable(ctx, product.weight_path)).image;
    pipeline::recipes::DetectSourcesOptions options;
    options.radii_fwhm = params.options.radii_fwhm;
    const auto catalogue = pipeline::recipes::detect_sources(stacked, weight ? &*weight : nullptr, options);
    spdlog::info("process {}: observation {}: {} sources on the template, median FWHM {:.2f} px", ctx.process_id,
                 obs, catalogue.sources.size(), catalogue.median_fwhm_px);
    ctx.observation_store().stage_template_catalogue(obs, catalogue);
  });
}

}  // namespace

void register_detect_sources_step(StepRegistry& registry) {
  registry.add<contract::DetectSourcesParams>("detect_sources", detect_sources);
}

}  // namespace tianyu::consumer::steps
