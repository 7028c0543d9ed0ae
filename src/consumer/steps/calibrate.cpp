// calibrate: one science frame through the masters of its dependencies, with its mask and its
// SEP catalogue (the alignment's input).
#include <future>

#include <spdlog/fmt/fmt.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/calibration/calibrate.h"
#include "pipeline/detection/extract.h"
#include "pipeline/fits_io.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

// The product names: their directories made and recorded, so a failed attempt removes them.
ImageProduct name_products(ProductFiles& out, const RawFrame& frame) {
  const std::string stem = fmt::format("calibrated/{}", frame.frame_id);
  ImageProduct p;
  p.frame_id = frame.frame_id;
  p.path = out.name(stem, ".fits");
  p.mask_path = out.name(stem, ".mask.fits");
  p.catalog_path = out.name(stem, ".sources.csv");
  return p;
}

// The image stays uncompressed: lossless GZIP_2 saves only ~18 % of a 2048^2 frame's bytes (its
// noise bits do not compress) for ~9 times the write + read time (bench/run-reduction.sh,
// "products"). The mask, almost all zeros, is written RICE-compressed by write_mask.
void write_image(const ProductFiles& out, const ImageProduct& p, const RawFrame& frame,
                 const pipeline::CalibratedFrame& calibrated) {
  pipeline::write_fits(out.absolute(p.path), calibrated.image,
                       {{"BKG", calibrated.background, "[ADU] SEP global background subtracted"},
                        {"BKGRMS", calibrated.background_rms, "[ADU] SEP global background RMS"},
                        {"RAWFILE", frame.path, "raw frame, relative to the site root"}});
}

pipeline::Image read_raw(StepContext& ctx, const RawFrame& frame, int width, int height) {
  auto raw = pipeline::read_fits(readable(ctx, frame.path));
  if (raw.image.width != width || raw.image.height != height) {
    throw InputError(fmt::format("the file is {}x{}, its raw_frame row says {}x{}", raw.image.width,
                                 raw.image.height, width, height));
  }
  return std::move(raw.image);
}

// The stages overlapped on the machine's cores: the raw frame read while the masters are, the
// arithmetic and the background's subtraction by rows, the mask written while SEP models the
// background and the image while SEP extracts (when CFITSIO is reentrant; in turn otherwise).
// The extraction itself stays whole on one core (pipeline/detection/extract.cpp says why).
// A frame SEP cannot model or extract leaves the site root as it was: the consumer removes an
// attempt's files, and the directories it made, when it does not commit.
void calibrate_frame(StepContext& ctx, const contract::FrameParams& params) {
  const auto frame = raw_frame(ctx, params.frame_id);
  run_with_failure_context(fmt::format("calibrate frame {} ({})", frame.frame_id, frame.path), [&] {
    const auto [width, height] = observation_frame_size(ctx, params.observation_id);
    if (frame.width != width || frame.height != height) {
      throw InputError(fmt::format("the frame is {}x{}, the observation's frames are {}x{}", frame.width,
                                   frame.height, width, height));
    }
    const auto values = frame_calibration(ctx, frame.frame_id);
    const auto io = pipeline::fits_io_concurrent() ? std::launch::async : std::launch::deferred;
    auto raw_read = std::async(io, [&, w = width, h = height] { return read_raw(ctx, frame, w, h); });
    const auto masters = load_dependency_masters(ctx);
    const auto raw = raw_read.get();
    pipeline::CalibrationOptions options;
    options.threads = 0;
    if (values.saturation_adu) options.saturation_adu = *values.saturation_adu;
    auto calibrated = pipeline::calibrate_pixels(raw, values.exptime_s, masters.use, options);
    ProductFiles out(ctx, params.observation_id);
    ImageProduct p = name_products(out, frame);
    const auto& mask = calibrated.mask;  // final here: sharp pixels are not masked by this step
    auto mask_written = std::async(io, [&, w = width, h = height] { write_mask(out.absolute(p.mask_path), mask, w, h); });
    pipeline::model_sky(calibrated, options);
    auto image_written = std::async(io, [&] { write_image(out, p, frame, calibrated); });
    const auto sources = pipeline::extract_sources(calibrated.image, &mask, calibrated.background_rms);
    mask_written.get();
    image_written.get();
    write_catalog(out.absolute(p.catalog_path), sources);
    p.background_rms = calibrated.background_rms;
    record_product(ctx, params.observation_id, "calibrated", p, calibrated.background,
                   static_cast<std::uint64_t>(calibrated.masked));
  });
}

}  // namespace

void register_calibrate_step(StepRegistry& registry) {
  registry.add<contract::FrameParams>("calibrate", calibrate_frame);
}

}  // namespace tianyu::consumer::steps
