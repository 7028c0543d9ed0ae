// photometry: every template source measured in one good frame at every aperture radius, the
// rows bulk-inserted (a re-run replaces the frame's rows). A rejected frame gets no rows.
#include <cmath>
#include <future>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/fits_io.h"
#include "pipeline/photometry/aperture.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

TemplateSources template_sources(StepContext& ctx, std::uint64_t obs) {
  auto t = ctx.observation_store().template_sources(obs);
  if (t.ids.empty() || t.radii_px.empty()) throw InputError("the observation has no sources or apertures");
  return t;
}

// Every (source, radius) of the frame; a value that is not finite is stored as none.
std::vector<RawFlux> flux_rows(std::uint64_t frame_id, const TemplateSources& t, const pipeline::FramePhotometry& p) {
  std::vector<RawFlux> rows;
  rows.reserve(static_cast<std::size_t>(p.stars) * p.radii);
  for (int s = 0; s < p.stars; ++s) {
    for (int r = 0; r < p.radii; ++r) {
      const std::size_t k = static_cast<std::size_t>(s) * p.radii + r;
      const bool finite = std::isfinite(p.flux[k]) && std::isfinite(p.flux_err[k]);
      RawFlux& row = rows.emplace_back();
      row.frame_id = frame_id;
      row.source_id = t.ids[static_cast<std::size_t>(s)];
      row.aperture_index = r;
      if (finite) {
        row.flux = p.flux[k];
        row.flux_err = p.flux_err[k];
      }
      row.flags = p.flags[k];
    }
  }
  return rows;
}

void measure_frame(StepContext& ctx, const contract::FrameParams& params) {
  const auto frame_id = params.frame_id;
  run_with_failure_context(fmt::format("photometry of frame {}", frame_id), [&] {
    const auto alignment = ctx.observation_store().frame_alignment(frame_id);
    if (!alignment) throw InputError("the frame has no alignment");
    if (!alignment->good.value_or(false)) {
      spdlog::info("process {}: frame {} rejected ({}): no photometry", ctx.process_id, frame_id,
                   alignment->rejected_reason);
      ctx.observation_store().stage_raw_fluxes(params.observation_id, frame_id, {});  // an earlier run's rows go
      return;
    }
    const auto product = frame_product(ctx, frame_id);
    // The mask read while the image is (when CFITSIO allows two files at once).
    const auto [width, height] = observation_frame_size(ctx, params.observation_id);
    auto mask_read = std::async(pipeline::fits_io_concurrent() ? std::launch::async : std::launch::deferred,
                                [&, w = width, h = height] { return frame_mask(ctx, product, w, h); });
    const auto image = pipeline::read_fits(readable(ctx, product.path)).image;
    if (image.width != width || image.height != height) {
      throw InputError(fmt::format("{} is {}x{}, the observation's frames are {}x{}", product.path, image.width,
                                   image.height, width, height));
    }
    const auto mask = mask_read.get();
    const auto sources = template_sources(ctx, params.observation_id);
    pipeline::ApertureOptions options;
    options.radii_px = sources.radii_px;
    if (const auto gain = frame_calibration(ctx, frame_id).gain_e_per_adu) options.gain_e_per_adu = *gain;
    const auto p = pipeline::measure_apertures(image, &mask, product.background_rms, sources.x, sources.y,
                                               alignment->transform, options);
    ctx.observation_store().stage_raw_fluxes(params.observation_id, frame_id, flux_rows(frame_id, sources, p));
  });
}

}  // namespace

void register_photometry_step(StepRegistry& registry) {
  registry.add<contract::FrameParams>("photometry", measure_frame);
}

}  // namespace tianyu::consumer::steps
