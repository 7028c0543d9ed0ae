#pragma once
// What the observation steps' adapters share: loading their declared inputs and handing their
// outputs to the success transaction, all through ctx.observation_store() (observation_store.h).
//
// - Inputs are found ONE way: an image product is the product of a declared kind made by one
//   of the processes this process depends on (image_product rows carry the process id), never
//   "the newest row". Tables (frame_quality, source, raw_flux, ...) are read by observation.
// - A frame's exposure, gain, read noise and saturation come from the frame_calibration view
//   (the header read once at ingest, the observation's override applied), never the header.
// - Files exactly once: every product file is named for its process and attempt
//   (`<stem>.p<process>a<attempt><ext>`), written whole and flushed, and becomes the product
//   only through the image_product row of the success transaction; a later attempt of the same
//   process removes its earlier attempts' files, and the consumer removes an attempt's files
//   when it does not commit. A worker that lost its lease can never replace a committed product.
// - Every path goes through the site store.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "consumer/steps/observation_store.h"
#include "consumer/steps/registry.h"
#include "pipeline/calibration/calibrate.h"
#include "pipeline/detection/extract.h"
#include "pipeline/geometry.h"
#include "pipeline/image.h"

namespace tianyu::consumer::steps {

namespace contract = ::tianyu::steps;  // the typed params (src/steps)

// The observation store's reads (observation_store.h), failing as bad input (InputError,
// never retried) when a row the step needs is absent.
RawFrame raw_frame(StepContext& ctx, std::uint64_t frame_id);
std::vector<RawFrame> raw_frames(StepContext& ctx, std::uint64_t observation_id, const std::string& kind);
// The observation's frame size: the most common among its science frames (a foreign frame,
// even the first, is the one refused).
std::pair<int, int> observation_frame_size(StepContext& ctx, std::uint64_t observation_id);
FrameCalibration frame_calibration(StepContext& ctx, std::uint64_t frame_id);
// The products of `kind` made by this process's dependencies, in the time order of their
// frames (then by process id).
std::vector<ImageProduct> dependency_products(StepContext& ctx, const std::string& kind);
// The master frames among them (any absent: that correction is skipped), from the consumer's
// master cache (master_cache.h: read once a process); `use` points into `images`.
struct LoadedMasters {
  std::vector<std::shared_ptr<const pipeline::Image>> images;
  pipeline::Masters use;
};
LoadedMasters load_dependency_masters(StepContext& ctx);
// The one product of `kind` (for `frame_id`, when given) among them; InputError when absent.
ImageProduct dependency_product(StepContext& ctx, const std::string& kind, std::optional<std::uint64_t> frame_id = {});

// The frames of the night among this process's inputs: calibrated frames (long exposures) or
// minute stacks (short-exposure mode, coadd_minute), which stand for their minute under its
// first short frame's id. A night has one or the other; in time order.
std::vector<ImageProduct> frame_products(StepContext& ctx);
// The one of `frame_id` among them (any, when not given); InputError when absent.
ImageProduct frame_product(StepContext& ctx, std::optional<std::uint64_t> frame_id = {});
// A frame product's pixel mask: its mask file, or for a minute stack the pixels not every
// short frame covered (from its exposure map); InputError naming the file when it is not the
// image's size.
std::vector<std::uint8_t> frame_mask(StepContext& ctx, const ImageProduct& p, int width, int height);

// The files of one attempt: names unique to (process, attempt) under products/obs<O>/.
class ProductFiles {
 public:
  ProductFiles(StepContext& ctx, std::uint64_t observation_id) : ctx_(ctx), observation_id_(observation_id) {}
  // "calibrated/12" + ".fits" -> products/obs<O>/calibrated/12.p<process>a<attempt>.fits (relative),
  // its directory made, this process's earlier attempts' file of the same name removed, and the
  // path recorded as written by this attempt (removed by the consumer if it does not commit).
  std::string name(const std::string& stem, const std::string& ext);
  std::filesystem::path absolute(const std::string& relative) const;

 private:
  StepContext& ctx_;
  std::uint64_t observation_id_;
};
// The image_product row of this process, staged for the success transaction.
void record_product(StepContext& ctx, std::uint64_t observation_id, const std::string& kind, const ImageProduct& p,
                    std::optional<double> background = {}, std::optional<std::uint64_t> masked = {});

// A path (relative to the site root) to read.
std::filesystem::path readable(const StepContext& ctx, const std::string& relative);

// The mask as a 16-bit FITS image beside its frame.
void write_mask(const std::filesystem::path& path, const std::vector<std::uint8_t>& mask, int width, int height);
std::vector<std::uint8_t> read_mask(const std::filesystem::path& path, int width, int height);

// SEP catalogues as CSV (x, y, flux, peak, a, b, theta, npix, flag), written whole.
void write_catalog(const std::filesystem::path& path, const std::vector<pipeline::Source>& sources);
std::vector<pipeline::Source> read_catalog(const std::filesystem::path& path);

// Runs `body`; any failure is re-thrown as a StepFailure prefixed with `what` (e.g. "calibrate
// frame 12 (raw/f.fits)"), keeping whether a retry can help (retryable(), transient_resource()).
void run_with_failure_context(const std::string& what, const std::function<void()>& body);

// A step's failure with its context; retryable exactly when the failure it wraps was.
class StepFailure : public Failure {
 public:
  StepFailure(const std::string& message, const std::exception& cause)
      : Failure(message), retryable_(retry_can_help(cause)), transient_(!spends_attempt(cause)) {}
  bool retryable() const noexcept override { return retryable_; }
  bool transient_resource() const noexcept override { return transient_; }

 private:
  bool retryable_, transient_;
};

}  // namespace tianyu::consumer::steps
