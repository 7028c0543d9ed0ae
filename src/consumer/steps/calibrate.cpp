// calibrate: one science frame through the masters, with its mask and its SEP catalogue (the
// alignment's input), written under the site root.
#include <cmath>

#include <spdlog/fmt/fmt.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/calibration/calibrate.h"
#include "pipeline/detection/extract.h"
#include "pipeline/fits_io.h"

namespace tianyu::consumer::steps {
namespace {

std::optional<double> number_card(const nlohmann::json& header, const char* key) {
  if (!header.contains(key)) return std::nullopt;
  try {
    return std::stod(header[key].get<std::string>());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void calibrate_frame(StepContext& ctx) {
  const auto obs = observation_of(ctx);
  const auto frame = raw_frame(ctx, uint_param(ctx, "frame_id"));
  as_step(fmt::format("calibrate frame {} ({})", frame.frame_id, frame.path), [&] {
    const auto [width, height] = observation_frame_size(ctx, obs);
    const auto raw = pipeline::read_fits(absolute(ctx, frame.path));
    if (raw.image.width != width || raw.image.height != height) {
      throw InputError(fmt::format("the frame is {}x{}, the observation's frames are {}x{}", raw.image.width,
                                   raw.image.height, width, height));
    }
    std::vector<pipeline::Image> masters;
    masters.reserve(3);
    pipeline::Masters use;
    for (const char* kind : {"master_bias", "master_dark", "master_flat"}) {
      if (const auto p = latest_product(ctx, obs, kind)) {
        masters.push_back(pipeline::read_fits(absolute(ctx, p->path)).image);
        const pipeline::Image* m = &masters.back();
        if (std::string(kind) == "master_bias") use.bias = m;
        if (std::string(kind) == "master_dark") use.dark_rate = m;
        if (std::string(kind) == "master_flat") use.flat = m;
      }
    }
    pipeline::CalibrationOptions options;
    const auto& c = ctx.params.contains("calibration") ? ctx.params["calibration"] : nlohmann::json::object();
    if (c.contains("saturation_adu")) {
      options.saturation_adu = c["saturation_adu"].get<double>();
    } else if (const auto s = number_card(frame.header, "SATURATE")) {
      options.saturation_adu = *s;
    }
    const auto calibrated = pipeline::calibrate(raw.image, frame.exptime_s, use, options);
    if (calibrated.masked == calibrated.image.pixels.size()) throw InputError("every pixel is masked");
    const auto sources = pipeline::extract_sources(calibrated.image, &calibrated.mask, calibrated.background_rms);

    const std::string stem = fmt::format("calibrated/{}", frame.frame_id);
    ImageProduct p;
    p.path = product_path(ctx, obs, stem + ".fits");
    p.mask_path = product_path(ctx, obs, stem + ".mask.fits");
    p.catalog_path = product_path(ctx, obs, stem + ".sources.csv");
    p.background_rms = calibrated.background_rms;
    pipeline::write_fits(absolute(ctx, p.path), calibrated.image,
                         {{"BKG", calibrated.background, "[ADU] SEP global background subtracted"},
                          {"BKGRMS", calibrated.background_rms, "[ADU] SEP global background RMS"},
                          {"RAWFILE", frame.path, "raw frame, relative to the site root"}});
    write_mask(absolute(ctx, p.mask_path), calibrated.mask, calibrated.image.width, calibrated.image.height);
    write_catalog(absolute(ctx, p.catalog_path), sources);
    record_product(ctx, obs, frame.frame_id, "calibrated", p, calibrated.background,
                   static_cast<std::uint64_t>(calibrated.masked));
  });
}

}  // namespace

void register_calibrate_step(StepRegistry& registry) { registry.add("calibrate", calibrate_frame); }

}  // namespace tianyu::consumer::steps
