#pragma once
// What the observation steps share: reading raw-frame rows and the products earlier steps
// committed (paths relative to the site root), writing files under the site root, and turning
// the pipeline's bad-input errors into InputError (the process fails for good, with the file
// and the reason, and is not retried).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "consumer/steps/registry.h"
#include "pipeline/detection/extract.h"
#include "pipeline/geometry.h"
#include "pipeline/image.h"

namespace tianyu::consumer::steps {

struct RawFrame {
  std::uint64_t frame_id = 0;
  std::string path;  // relative to the site root
  std::string kind;
  int width = 0, height = 0;
  double exptime_s = 0;
  double bjd_tdb = 0;
  nlohmann::json header;
};

std::uint64_t observation_of(const StepContext& ctx);
std::uint64_t uint_param(const StepContext& ctx, const char* name);

RawFrame raw_frame(const StepContext& ctx, std::uint64_t frame_id);
std::vector<RawFrame> raw_frames(const StepContext& ctx, std::uint64_t observation_id, const std::string& kind);
// The observation's reference frame, the grid of alignment, stacking and the template: the
// first of its first science frames (the DAG's `reference_candidates`) that calibrated. Every
// step after the alignment finds the same one; InputError when none calibrated.
std::uint64_t reference_frame_id(const StepContext& ctx, std::uint64_t observation_id);
// The observation's frame size: the most common among its science frames (a foreign frame,
// even the first, is the one refused).
std::pair<int, int> observation_frame_size(const StepContext& ctx, std::uint64_t observation_id);

struct ImageProduct {
  std::uint64_t process_id = 0;
  std::string path, mask_path, weight_path, catalog_path;  // relative; empty when none
  double background_rms = 0;
  int frames = 0;
};
// The newest product of `kind` for the observation (and frame, when given).
std::optional<ImageProduct> latest_product(const StepContext& ctx, std::uint64_t observation_id,
                                           const std::string& kind, std::optional<std::uint64_t> frame_id = {});
// The products of `kind` made by this process's dependencies.
std::vector<ImageProduct> products_of_dependencies(const StepContext& ctx, const std::string& kind);
// REPLACE INTO image_product for this process, in the success transaction.
void record_product(StepContext& ctx, std::uint64_t observation_id, std::optional<std::uint64_t> frame_id,
                    const std::string& kind, const ImageProduct& p, std::optional<double> background = {},
                    std::optional<std::uint64_t> masked = {});

// <site root>/products/obs<id>/<relative>, its directory created; `relative` is returned as
// the stored path (relative to the site root).
std::string product_path(const StepContext& ctx, std::uint64_t observation_id, const std::string& relative);
std::filesystem::path absolute(const StepContext& ctx, const std::string& relative);

// The mask as a 16-bit FITS image beside its frame.
void write_mask(const std::filesystem::path& path, const std::vector<std::uint8_t>& mask, int width, int height);
std::vector<std::uint8_t> read_mask(const std::filesystem::path& path, int width, int height);

// SEP catalogues as CSV (x, y, flux, peak, a, b, theta, npix, flag), written atomically.
void write_catalog(const std::filesystem::path& path, const std::vector<pipeline::Source>& sources);
std::vector<pipeline::Source> read_catalog(const std::filesystem::path& path);

// The alignment of a frame (from frame_quality), or nullopt when it has none.
struct FrameAlignment {
  pipeline::FrameTransform transform;
  std::optional<bool> good;
  std::string rejected_reason;
};
std::optional<FrameAlignment> frame_alignment(const StepContext& ctx, std::uint64_t frame_id);

// Runs `body`, rethrowing the pipeline's input errors (FITS, calibration, sizes) as InputError
// prefixed with `what` (e.g. "calibrate frame 12 (raw/f.fits)").
void as_step(const std::string& what, const std::function<void()>& body);

}  // namespace tianyu::consumer::steps
