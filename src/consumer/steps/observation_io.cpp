#include "consumer/steps/observation_io.h"

#include <algorithm>
#include <fstream>
#include <iterator>

#include <spdlog/fmt/fmt.h>

#include "common/errors.h"
#include "consumer/steps/master_cache.h"
#include "pipeline/atomic_file.h"
#include "pipeline/fits_io.h"
#include "pipeline/parallel.h"
#include "pipeline/streaming/minute_frame.h"

namespace tianyu::consumer::steps {
namespace fs = std::filesystem;

RawFrame raw_frame(StepContext& ctx, std::uint64_t frame_id) {
  auto frame = ctx.observation_store().raw_frame(frame_id);
  if (!frame) throw InputError(fmt::format("{}: frame {} does not exist", ctx.command, frame_id));
  return *frame;
}

std::vector<RawFrame> raw_frames(StepContext& ctx, std::uint64_t observation_id, const std::string& kind) {
  return ctx.observation_store().raw_frames(observation_id, kind);
}

std::pair<int, int> observation_frame_size(StepContext& ctx, std::uint64_t observation_id) {
  const auto size = ctx.observation_store().frame_size(observation_id);
  if (!size) throw InputError(fmt::format("observation {} has no science frames", observation_id));
  return *size;
}

FrameCalibration frame_calibration(StepContext& ctx, std::uint64_t frame_id) {
  auto values = ctx.observation_store().frame_calibration(frame_id);
  if (!values) throw InputError(fmt::format("frame {} does not exist", frame_id));
  return *values;
}

std::vector<ImageProduct> dependency_products(StepContext& ctx, const std::string& kind) {
  return ctx.observation_store().dependency_products(ctx.process_id, kind);
}

LoadedMasters load_dependency_masters(StepContext& ctx) {
  // The rows first (one database connection, this thread), then the files, at once when
  // CFITSIO allows: three 16-MB reads of a 2048^2 night are a tenth of a calibration.
  std::vector<std::pair<std::string, std::string>> present;  // kind, path
  for (const std::string kind : {"master_bias", "master_dark", "master_flat"}) {
    const auto products = dependency_products(ctx, kind);
    if (!products.empty()) present.emplace_back(kind, products.front().path);
  }
  LoadedMasters m;
  m.images.resize(present.size());
  pipeline::parallel_for(present.size(), pipeline::fits_io_concurrent() ? 0 : 1, [&](std::size_t i) {
    m.images[i] = master_cache().image(readable(ctx, present[i].second));
  });
  for (std::size_t i = 0; i < present.size(); ++i) {
    const pipeline::Image* image = m.images[i].get();
    if (present[i].first == "master_bias") m.use.bias = image;
    if (present[i].first == "master_dark") m.use.dark_rate = image;
    if (present[i].first == "master_flat") m.use.flat = image;
  }
  return m;
}

ImageProduct dependency_product(StepContext& ctx, const std::string& kind, std::optional<std::uint64_t> frame_id) {
  for (auto& p : dependency_products(ctx, kind)) {
    if (!frame_id || p.frame_id == frame_id) return p;
  }
  throw InputError(frame_id ? fmt::format("no {} product of frame {} among this process's inputs", kind, *frame_id)
                            : fmt::format("no {} product among this process's inputs", kind));
}

std::vector<ImageProduct> frame_products(StepContext& ctx) {
  auto frames = dependency_products(ctx, "calibrated");
  for (auto& minute : dependency_products(ctx, "minute_stack")) frames.push_back(std::move(minute));
  return frames;
}

ImageProduct frame_product(StepContext& ctx, std::optional<std::uint64_t> frame_id) {
  for (auto& p : frame_products(ctx)) {
    if (!frame_id || p.frame_id == frame_id) return p;
  }
  throw InputError(frame_id ? fmt::format("no calibrated frame or minute stack of frame {} among this process's inputs",
                                          *frame_id)
                            : "no calibrated frame or minute stack among this process's inputs");
}

std::vector<std::uint8_t> frame_mask(StepContext& ctx, const ImageProduct& p, int width, int height) {
  if (!p.mask_path.empty()) return read_mask(readable(ctx, p.mask_path), width, height);
  if (p.weight_path.empty()) return std::vector<std::uint8_t>(static_cast<std::size_t>(width) * height, 0);
  const auto path = readable(ctx, p.weight_path);
  const auto exposure = pipeline::read_fits(path).image;
  if (exposure.width != width || exposure.height != height) {
    throw InputError(fmt::format("{}: exposure map is {}x{}, its image {}x{}", path.string(), exposure.width,
                                 exposure.height, width, height));
  }
  return pipeline::streaming::partial_exposure_mask(exposure);
}

std::string ProductFiles::name(const std::string& stem, const std::string& ext) {
  const std::string base = fmt::format("products/obs{}/{}.p{}a", observation_id_, stem, ctx_.process_id);
  for (std::uint32_t earlier = 1; earlier < ctx_.attempt; ++earlier) {
    ctx_.store->remove(fmt::format("{}{}{}", base, earlier, ext));  // an earlier attempt's orphan
  }
  const std::string relative = fmt::format("{}{}{}", base, ctx_.attempt, ext);
  for (auto& d : ctx_.store->missing_directories(relative)) ctx_.created_directories.push_back(std::move(d));
  ctx_.store->for_writing(relative);  // checked, parent made
  ctx_.written.push_back(relative);
  return relative;
}

fs::path ProductFiles::absolute(const std::string& relative) const {
  ctx_.check_lease();  // a worker that lost its lease writes nothing more
  return ctx_.store->for_writing(relative);
}

void record_product(StepContext& ctx, std::uint64_t observation_id, const std::string& kind, const ImageProduct& p,
                    std::optional<double> background, std::optional<std::uint64_t> masked) {
  ctx.observation_store().stage_image_product({ctx.process_id, observation_id, kind, p, background, masked});
}

fs::path readable(const StepContext& ctx, const std::string& relative) { return ctx.store->for_reading(relative); }

// Masks are almost all zeros: 8-bit flags, RICE-compressed per row (lossless), are a few
// percent of the uint16 image they used to be (2048^2: 8 MB). read_mask reads both.
void write_mask(const fs::path& path, const std::vector<std::uint8_t>& mask, int width, int height) {
  pipeline::write_fits(path, mask, width, height,
                       {{"EXTNAME", std::string("MASK"), "MaskBit flags: 1 sat 2 hot 4 bad flat 8 not finite"}},
                       pipeline::Compression::lossless);
}

std::vector<std::uint8_t> read_mask(const fs::path& path, int width, int height) {
  const auto info = pipeline::read_fits_info(path);
  if (info.width != width || info.height != height) {
    throw InputError(fmt::format("{}: mask is {}x{}, its image {}x{}", path.string(), info.width, info.height,
                                 width, height));
  }
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(width) * height);
  pipeline::read_fits_rows(path, 0, height, mask.data());
  return mask;
}

void write_catalog(const fs::path& path, const std::vector<pipeline::Source>& sources) {
  pipeline::write_file_atomically(path, pipeline::sources_csv(sources));
}

std::vector<pipeline::Source> read_catalog(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot open the source catalogue " + path.string());
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw ResourceFailure("cannot read the source catalogue " + path.string());
  try {
    return pipeline::parse_sources_csv(text);
  } catch (const std::invalid_argument& e) {
    throw InputError("malformed source catalogue " + path.string() + ": " + e.what());
  }
}

void run_with_failure_context(const std::string& what, const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& e) {
    throw StepFailure(what + ": " + e.what(), e);
  }
}

}  // namespace tianyu::consumer::steps
