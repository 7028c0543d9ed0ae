// calibrate: one science frame through the masters of its dependencies, with its mask and its
// SEP catalogue (the alignment's input).
#include <spdlog/fmt/fmt.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/calibration/calibrate.h"
#include "pipeline/detection/extract.h"
#include "pipeline/fits_io.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {


void write_products(StepContext& ctx, std::uint64_t obs, const RawFrame& frame, const pipeline::CalibratedFrame& calibrated,
                    const std::vector<pipeline::Source>& sources) {
  ProductFiles out(ctx, obs);
  const std::string stem = fmt::format("calibrated/{}", frame.frame_id);
  ImageProduct p;
  p.frame_id = frame.frame_id;
  p.path = out.name(stem, ".fits");
  p.mask_path = out.name(stem, ".mask.fits");
  p.catalog_path = out.name(stem, ".sources.csv");
  p.background_rms = calibrated.background_rms;
  // The image stays uncompressed: lossless GZIP_2 saves only ~18 % of a 2048^2 frame's bytes (its
  // noise bits do not compress) for ~9 times the write + read time (bench/run-reduction.sh,
  // "products"). The mask, almost all zeros, is written RICE-compressed by write_mask.
  pipeline::write_fits(out.absolute(p.path), calibrated.image,
                       {{"BKG", calibrated.background, "[ADU] SEP global background subtracted"},
                        {"BKGRMS", calibrated.background_rms, "[ADU] SEP global background RMS"},
                        {"RAWFILE", frame.path, "raw frame, relative to the site root"}});
  write_mask(out.absolute(p.mask_path), calibrated.mask, calibrated.image.width, calibrated.image.height);
  write_catalog(out.absolute(p.catalog_path), sources);
  record_product(ctx, obs, "calibrated", p, calibrated.background, static_cast<std::uint64_t>(calibrated.masked));
}

void calibrate_frame(StepContext& ctx, const contract::FrameParams& params) {
  const auto frame = raw_frame(ctx, params.frame_id);
  run_with_failure_context(fmt::format("calibrate frame {} ({})", frame.frame_id, frame.path), [&] {
    const auto [width, height] = observation_frame_size(ctx, params.observation_id);
    if (frame.width != width || frame.height != height) {
      throw InputError(fmt::format("the frame is {}x{}, the observation's frames are {}x{}", frame.width,
                                   frame.height, width, height));
    }
    const auto raw = pipeline::read_fits(readable(ctx, frame.path));
    if (raw.image.width != width || raw.image.height != height) {
      throw InputError(fmt::format("the file is {}x{}, its raw_frame row says {}x{}", raw.image.width,
                                   raw.image.height, width, height));
    }
    const auto masters = load_dependency_masters(ctx);
    const auto values = frame_calibration(ctx, frame.frame_id);
    pipeline::CalibrationOptions options;
    if (values.saturation_adu) options.saturation_adu = *values.saturation_adu;
    const auto calibrated = pipeline::calibrate(raw.image, values.exptime_s, masters.use, options);
    if (calibrated.masked == calibrated.image.pixels.size()) throw InputError("every pixel is masked");
    // Extraction before any write: a frame SEP cannot extract is bad input, and its failure must
    // leave the site root as it was (not even a products directory). Writing the image while SEP
    // extracted (tried in issue 17) made the directories first, and BadStepInput caught it.
    const auto sources = pipeline::extract_sources(calibrated.image, &calibrated.mask, calibrated.background_rms);
    write_products(ctx, params.observation_id, frame, calibrated, sources);
  });
}

}  // namespace

void register_calibrate_step(StepRegistry& registry) {
  registry.add<contract::FrameParams>("calibrate", calibrate_frame);
}

}  // namespace tianyu::consumer::steps
