// coadd_minute (short-exposure mode, issue 17): one minute of an observation's short raw frames,
// each read once through the site store, calibrated with the observation's masters (the
// products of this process's dependencies, as for calibrate), registered on a few bright stars
// and summed by pipeline::streaming::MinuteCoadd. The minute's stack, its exposure map and its
// SEP catalogue are ONE product (kind minute_stack), written under names unique to the attempt
// and recorded in the success transaction with the minute's time (minute_time): in a night's
// DAG the minute is then a frame for the alignment, stacking and photometry after it. Nothing
// is written per short frame, and a refused frame (truncated, not FITS, another size or
// exposure time, not finite) fails the minute before anything is.
#include "consumer/steps/coadd_minute.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/fits_io.h"
#include "pipeline/streaming/minute_coadd.h"
#include "pipeline/streaming/minute_frame.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {

namespace streaming = pipeline::streaming;

std::vector<std::uint64_t> frames_of_minute(std::vector<FrameTime> frames, std::uint64_t minute) {
  std::stable_sort(frames.begin(), frames.end(), [](const FrameTime& a, const FrameTime& b) {
    return a.jd_utc_mid < b.jd_utc_mid;
  });
  std::vector<double> times;
  for (const auto& f : frames) times.push_back(f.jd_utc_mid);
  const auto minutes = streaming::minute_indices(times);
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (minutes[i] == minute) out.push_back(frames[i].frame_id);
  }
  return out;
}

std::vector<RawFrame> requested_frames(const std::vector<RawFrame>& science, const std::vector<std::uint64_t>& ids,
                                       std::uint64_t observation_id) {
  std::set<std::uint64_t> wanted;
  for (const auto id : ids) {
    if (!wanted.insert(id).second) throw InputError(fmt::format("parameter 'frame_ids': frame {} is named twice", id));
  }
  std::vector<RawFrame> out;
  for (const auto& f : science) {
    if (wanted.erase(f.frame_id)) out.push_back(f);
  }
  if (!wanted.empty()) {
    throw InputError(fmt::format("parameter 'frame_ids': frame {} is not a science frame of observation {}",
                                 *wanted.begin(), observation_id));
  }
  return out;
}

namespace {

// The minute's frames by their index: raw_frame's mid-exposure times. Read with SQL because the
// observation store offers no frame times (see the report of issue 17's consumer step).
std::vector<std::uint64_t> minute_frame_ids(StepContext& ctx, std::uint64_t obs, std::uint64_t minute) {
  if (ctx.db == nullptr) throw Error("coadd_minute: resolving a minute index needs the database");
  std::vector<FrameTime> times;
  for (const auto& r : ctx.db->query("SELECT frame_id, jd_utc_mid FROM raw_frame WHERE observation_id = ? "
                                     "AND kind = 'science' AND jd_utc_mid IS NOT NULL",
                                     {obs})) {
    times.push_back({r.u64(0), r.f64(1)});
  }
  return frames_of_minute(std::move(times), minute);
}

// The minute's frames, in time order: exactly one of frame_ids and minute names them.
std::vector<RawFrame> minute_frames(StepContext& ctx, const contract::CoaddMinuteParams& params) {
  const auto obs = params.observation_id;
  if (params.frame_ids.empty() == !params.minute.has_value()) {
    throw InputError("coadd_minute: give exactly one of the parameters 'frame_ids' and 'minute'");
  }
  const auto ids = params.minute ? minute_frame_ids(ctx, obs, *params.minute) : params.frame_ids;
  if (ids.empty()) {
    throw InputError(fmt::format("coadd_minute: minute {} of observation {} has no science frames",
                                 params.minute.value_or(0), obs));
  }
  return requested_frames(raw_frames(ctx, obs, "science"), ids, obs);
}


// One short frame's pixels, read once. A file that is not a whole FITS image is bad input
// naming the file; a short disk or an I/O error stays retryable.
pipeline::Image read_short_frame(StepContext& ctx, const RawFrame& f, int width, int height) {
  if (f.width != width || f.height != height) {
    throw streaming::StreamingInputError(f.path, f.width != width ? "width" : "height",
                                         fmt::format("the raw_frame row says {} x {}, the observation's frames are "
                                                     "{} x {}", f.width, f.height, width, height));
  }
  try {
    return pipeline::read_fits(readable(ctx, f.path)).image;
  } catch (const pipeline::FitsError& e) {
    if (e.retryable()) throw;
    throw streaming::StreamingInputError(f.path, "FITS data", e.what());
  }
}

// Frames are added a few at a time (the co-add then reads and writes each stack row once for
// all of them), as many as fit in 256 MiB: 8 at 2048^2, 1 at Tianyu-I's 8120^2.
std::size_t batch_size(int width, int height) {
  const std::size_t frame_bytes = static_cast<std::size_t>(width) * height * sizeof(float);
  return std::clamp<std::size_t>((256u << 20) / std::max<std::size_t>(frame_bytes, 1), 1, 8);
}

streaming::ShortFrame short_frame(StepContext& ctx, const RawFrame& frame, const pipeline::Image& pixels) {
  streaming::ShortFrame v;
  v.name = frame.path;
  v.width = pixels.width;
  v.height = pixels.height;
  v.adu = pixels.pixels;
  v.exptime_s = frame_calibration(ctx, frame.frame_id).exptime_s;
  return v;
}

// The minute's frames co-added; `grid` (a part of a shared minute) is the minute's first frame,
// whose grid and reference stars the part takes without adding it.
streaming::MinuteStack coadd(StepContext& ctx, std::uint64_t obs, const std::vector<RawFrame>& frames,
                             std::uint64_t threads, const std::optional<RawFrame>& grid) {
  const auto [width, height] = observation_frame_size(ctx, obs);
  const auto first = frame_calibration(ctx, frames.front().frame_id);
  if (!(first.exptime_s > 0)) {
    throw streaming::StreamingInputError(frames.front().path, "exptime_s", "no exposure time (EXPTIME)");
  }
  streaming::StreamingOptions options;
  options.threads = static_cast<int>(threads);
  if (first.saturation_adu) options.saturation_adu = *first.saturation_adu;
  std::optional<streaming::MinuteCoadd> minute;
  {
    const auto masters = load_dependency_masters(ctx);  // folded into the plan, then freed
    minute.emplace(width, height, first.exptime_s, masters.use, options);
  }
  if (grid && grid->frame_id != frames.front().frame_id) {  // the first part is on its own grid
    const auto pixels = read_short_frame(ctx, *grid, width, height);
    minute->use_grid_of(short_frame(ctx, *grid, pixels));
  }
  const std::size_t batch = batch_size(width, height);
  for (std::size_t start = 0; start < frames.size(); start += batch) {
    ctx.check_lease();  // a worker that lost its lease stops reading
    const std::size_t end = std::min(frames.size(), start + batch);
    std::vector<pipeline::Image> pixels;
    std::vector<streaming::ShortFrame> views;
    pixels.reserve(end - start);
    for (std::size_t k = start; k < end; ++k) {
      pixels.push_back(read_short_frame(ctx, frames[k], width, height));
      views.push_back(short_frame(ctx, frames[k], pixels.back()));
    }
    minute->add(views);
  }
  return minute->finish();
}

// A part of a shared minute: its sum and exposure map only, for combine_minute.
void write_minute_part(StepContext& ctx, std::uint64_t obs, const std::string& label,
                       const std::vector<RawFrame>& frames, const streaming::MinuteStack& stack) {
  ProductFiles out(ctx, obs);
  ImageProduct p;
  p.frame_id = frames.front().frame_id;
  p.path = out.name("minutes/" + label, ".fits");
  p.weight_path = out.name("minutes/" + label, ".exposure.fits");
  p.frames = stack.frames;
  pipeline::write_fits(out.absolute(p.path), stack.sum,
                       {{"NCOMBINE", static_cast<long long>(stack.frames), "short frames summed in this part"},
                        {"SHORTEXP", stack.exptime_s, "[s] exposure of each short frame"},
                        {"LEFTOUT", static_cast<long long>(stack.pixels_left_out), "frame pixels left out"}});
  pipeline::write_fits(out.absolute(p.weight_path), stack.exposure_s,
                       {{"BUNIT", std::string("s"), "exposure behind each pixel of the part"}},
                       pipeline::PixelType::float32, pipeline::Compression::lossless);
  record_product(ctx, obs, "minute_part", p, std::nullopt, static_cast<std::uint64_t>(stack.pixels_left_out));
}

}  // namespace

void write_minute(StepContext& ctx, std::uint64_t obs, const std::string& label, const std::vector<RawFrame>& frames,
                  const streaming::MinuteStack& stack, int threads) {
  double max_shift = 0;
  for (const auto& s : stack.shifts) max_shift = std::max(max_shift, std::hypot(s.dx, s.dy));
  const auto described = streaming::describe_minute(stack, threads);
  ProductFiles out(ctx, obs);
  ImageProduct p;
  p.frame_id = frames.front().frame_id;  // the minute's place among the night's frames
  p.path = out.name("minutes/" + label, ".fits");
  p.weight_path = out.name("minutes/" + label, ".exposure.fits");
  p.catalog_path = out.name("minutes/" + label, ".sources.csv");
  p.frames = stack.frames;
  p.background_rms = described.background_rms;
  pipeline::write_fits(out.absolute(p.path), stack.sum,
                       {{"BUNIT", std::string("ADU"), "calibrated ADU summed over the minute's frames"},
                        {"NCOMBINE", static_cast<long long>(stack.frames), "short frames summed"},
                        {"SHORTEXP", stack.exptime_s, "[s] exposure of each short frame"},
                        {"EXPTIME", stack.exptime_s * stack.frames, "[s] summed exposure (per pixel: the map)"},
                        {"FRAME0", static_cast<long long>(frames.front().frame_id), "first short frame (grid)"},
                        {"FRAME1", static_cast<long long>(frames.back().frame_id), "last short frame"},
                        {"REFSTARS", static_cast<long long>(stack.reference.size()), "registration stars"},
                        {"MAXSHIFT", max_shift, "[px] largest shift against the first frame"},
                        {"LEFTOUT", static_cast<long long>(stack.pixels_left_out), "frame pixels left out"},
                        {"BKG", described.background, "[ADU] SEP global sky of the sum (kept in the image)"},
                        {"BKGRMS", described.background_rms, "[ADU] SEP global sky RMS of the sum"}});
  pipeline::write_fits(out.absolute(p.weight_path), stack.exposure_s,
                       {{"BUNIT", std::string("s"), "exposure behind each pixel of the minute stack"}},
                       pipeline::PixelType::float32, pipeline::Compression::lossless);  // a few distinct values
  write_catalog(out.absolute(p.catalog_path), described.sources);
  record_product(ctx, obs, "minute_stack", p, described.background, static_cast<std::uint64_t>(described.masked));
  MinuteRecord minute{p.frame_id.value(), obs, ctx.process_id, {}};
  for (const auto& f : frames) minute.frame_ids.push_back(f.frame_id);
  ctx.observation_store().stage_minute(minute);
}

namespace {

void coadd_minute(StepContext& ctx, const contract::CoaddMinuteParams& params) {
  const auto obs = params.observation_id;
  const auto frames = minute_frames(ctx, params);
  std::optional<RawFrame> grid;
  if (params.grid_frame_id) {
    grid = requested_frames(raw_frames(ctx, obs, "science"), {*params.grid_frame_id}, obs).front();
  }
  const std::string label = params.minute ? fmt::format("m{}", *params.minute)
                                          : fmt::format("f{}", frames.front().frame_id);
  run_with_failure_context(fmt::format("coadd_minute {} of observation {} ({} frames)", label, obs, frames.size()),
                           [&] {
                             const auto stack = coadd(ctx, obs, frames, params.threads, grid);
                             if (grid) {
                               write_minute_part(ctx, obs, label, frames, stack);
                             } else {
                               write_minute(ctx, obs, label, frames, stack, static_cast<int>(params.threads));
                             }
                             spdlog::info("process {}: minute {} of observation {}: {} short frames, {} px left out",
                                          ctx.process_id, label, obs, stack.frames, stack.pixels_left_out);
                           });
}

}  // namespace

void register_coadd_minute_step(StepRegistry& registry) {
  registry.add<contract::CoaddMinuteParams>("coadd_minute", coadd_minute);
}

}  // namespace tianyu::consumer::steps
