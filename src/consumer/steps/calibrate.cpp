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


// The image and mask are written on a second thread while SEP extracts the catalogue from the
// same (read-only) image: a frame's writes (~70 ms at 2048^2) and its extraction (~90 ms) no
// longer add up. The files are named here, on the step's thread (ProductFiles records them).
class ProductWriter {
 public:
  ProductWriter(StepContext& ctx, std::uint64_t obs, const RawFrame& frame, const pipeline::CalibratedFrame& calibrated)
      : out_(ctx, obs) {
    const std::string stem = fmt::format("calibrated/{}", frame.frame_id);
    product_.frame_id = frame.frame_id;
    product_.path = out_.name(stem, ".fits");
    product_.mask_path = out_.name(stem, ".mask.fits");
    product_.catalog_path = out_.name(stem, ".sources.csv");
    product_.background_rms = calibrated.background_rms;
    images_ = std::async(std::launch::async, [this, &frame, &calibrated, image = out_.absolute(product_.path),
                                              mask = out_.absolute(product_.mask_path)] {
      // The image stays uncompressed: lossless GZIP_2 saves only ~18 % of a 2048^2 frame's bytes
      // (its noise bits do not compress) for ~9 times the write + read time
      // (bench/run-reduction.sh, "products"). The mask, almost all zeros, is RICE-compressed.
      pipeline::write_fits(image, calibrated.image,
                           {{"BKG", calibrated.background, "[ADU] SEP global background subtracted"},
                            {"BKGRMS", calibrated.background_rms, "[ADU] SEP global background RMS"},
                            {"RAWFILE", frame.path, "raw frame, relative to the site root"}});
      write_mask(mask, calibrated.mask, calibrated.image.width, calibrated.image.height);
    });
  }
  // Waits for the image and mask (their errors surface here), writes the catalogue, records all.
  void finish(StepContext& ctx, std::uint64_t obs, const pipeline::CalibratedFrame& calibrated,
              const std::vector<pipeline::Source>& sources) {
    images_.get();
    write_catalog(out_.absolute(product_.catalog_path), sources);
    record_product(ctx, obs, "calibrated", product_, calibrated.background,
                   static_cast<std::uint64_t>(calibrated.masked));
  }
  // A step that fails while the writes run still waits for them before its inputs go away.
  ~ProductWriter() {
    if (images_.valid()) images_.wait();
  }

 private:
  ProductFiles out_;
  ImageProduct product_;
  std::future<void> images_;
};

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
    ctx.check_lease();
    ProductWriter writer(ctx, params.observation_id, frame, calibrated);
    const auto sources = pipeline::extract_sources(calibrated.image, &calibrated.mask, calibrated.background_rms);
    writer.finish(ctx, params.observation_id, calibrated, sources);
  });
}

}  // namespace

void register_calibrate_step(StepRegistry& registry) {
  registry.add<contract::FrameParams>("calibrate", calibrate_frame);
}

}  // namespace tianyu::consumer::steps
