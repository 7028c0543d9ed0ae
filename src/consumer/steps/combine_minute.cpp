// combine_minute (short-exposure mode, issue 17): several consumers share a minute. Each
// coadd_minute part co-added some of the minute's frames on the grid of its first frame
// (grid_frame_id), so the parts add up pixel for pixel; this adds them, one part in memory at a
// time, and records the minute exactly as a single coadd_minute would have (kind minute_stack,
// with its catalogue and minute_time). The parts must hold exactly the minute's frames.
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/coadd_minute.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/fits_io.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

namespace streaming = pipeline::streaming;

double header_number(const pipeline::FitsImage& f, const std::string& path, const char* card) {
  const auto it = f.header.find(card);
  if (it == f.header.end()) throw InputError(fmt::format("{}: header card {} is missing", path, card));
  try {
    return std::stod(it->second);
  } catch (const std::exception&) {
    throw InputError(fmt::format("{}: header card {} is not a number: '{}'", path, card, it->second));
  }
}

streaming::MinuteStack read_part(StepContext& ctx, const ImageProduct& p) {
  auto sum = pipeline::read_fits(readable(ctx, p.path));
  streaming::MinuteStack part;
  part.frames = static_cast<int>(header_number(sum, p.path, "NCOMBINE"));
  part.exptime_s = header_number(sum, p.path, "SHORTEXP");
  part.pixels_left_out = static_cast<std::size_t>(header_number(sum, p.path, "LEFTOUT"));
  part.sum = std::move(sum.image);
  part.exposure_s = pipeline::read_fits(readable(ctx, p.weight_path)).image;
  return part;
}

void combine_minute(StepContext& ctx, const contract::CombineMinuteParams& params) {
  const auto obs = params.observation_id;
  const auto frames = requested_frames(raw_frames(ctx, obs, "science"), params.frame_ids, obs);
  if (frames.empty()) throw InputError("combine_minute: parameter 'frame_ids' names no frame");
  const std::string label = fmt::format("f{}", frames.front().frame_id);
  run_with_failure_context(fmt::format("combine_minute {} of observation {}", label, obs), [&] {
    const auto parts = dependency_products(ctx, "minute_part");
    if (parts.empty()) throw InputError("no minute_part product among this process's inputs");
    std::optional<streaming::MinuteStack> minute;
    for (const auto& p : parts) {
      ctx.check_lease();
      auto part = read_part(ctx, p);
      minute = minute ? streaming::sum_minute_parts({std::move(*minute), std::move(part)}) : std::move(part);
    }
    if (minute->frames != static_cast<int>(frames.size())) {
      throw InputError(fmt::format("the parts hold {} short frames, parameter 'frame_ids' names {}", minute->frames,
                                   frames.size()));
    }
    write_minute(ctx, obs, label, frames, *minute, static_cast<int>(params.threads));
    spdlog::info("process {}: minute {} of observation {}: {} parts, {} short frames", ctx.process_id, label, obs,
                 parts.size(), minute->frames);
  });
}

}  // namespace

void register_combine_minute_step(StepRegistry& registry) {
  registry.add<contract::CombineMinuteParams>("combine_minute", combine_minute);
}

}  // namespace tianyu::consumer::steps
