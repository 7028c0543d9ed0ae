// simulate_night: the simulator as a process (the published system generates images as a
// process type too). The night is written beside its final place and renamed into it, so a
// reader never sees half a night and a re-run replaces its own output whole.
//
// What keeps data safe: every path goes through the site store (never the root, never the
// raw-frame area, never out of the root, never through a symlink), and the step deletes only
// what it created: its own staging directory, and an existing `out` only when that night
// carries this process's mark (an earlier attempt whose commit did not land). Any other
// existing `out` -- an operator's directory, another process's night -- is refused as bad
// input before anything is simulated: a step cannot tell whether it is still needed.
#include <fstream>
#include <optional>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/site_store.h"
#include "consumer/steps/registry.h"
#include "steps/step_params.h"
#include "pipeline/temp_name.h"
#include "pipeline/sim/night.h"

namespace tianyu::consumer {
namespace {

namespace fs = std::filesystem;
namespace sim = pipeline::sim;

// The file inside a night that says which process wrote it.
constexpr const char* kProducerMark = ".simulate_night";

// The consumer sets ctx.store; a step run without one (tools, older consumers) gets a store
// over ctx.site_root, so no path ever bypasses the checks.
const store::SiteStore& site_store(const StepContext& ctx, std::optional<store::SiteStore>& own) {
  if (ctx.store) return *ctx.store;
  return own.emplace(ctx.site_root);
}

// `out` as the store's canonical relative path (its parent created inside the root).
std::string output_dir(const std::string& out, const store::SiteStore& store) {
  try {
    return store.relative(store.for_writing(out));
  } catch (const store::PathError& e) {
    throw store::PathError(std::string("simulate_night: parameter 'out': ") + e.what());
  }
}

sim::SimConfig night_config(const ::tianyu::steps::SimulateNightParams& params) {
  try {
    auto config = sim::apply_json(sim::preset(params.preset), params.config);
    if (params.seed) config.seed = *params.seed;
    sim::validate(config);
    return config;
  } catch (const sim::SimConfigError& e) {
    throw InputError(std::string("simulate_night: ") + e.what());
  }
}

// True when `dir` holds a night this process wrote (the mark names its process id).
bool written_by(const fs::path& dir, std::uint64_t process_id) {
  std::ifstream in(dir / kProducerMark);
  std::uint64_t id = 0;
  return static_cast<bool>(in >> id) && id == process_id;
}

// Refuses an existing `out` this process did not write (see the file comment).
void require_ours_or_absent(const store::SiteStore& store, const std::string& out, std::uint64_t process_id) {
  const fs::path path = store.for_reading(out);
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) return;
  if (fs::is_directory(path) && written_by(path, process_id)) return;
  throw InputError(fmt::format("simulate_night: parameter 'out': path '{}' already exists and was not written by "
                               "process {}; a step never replaces data it did not create (choose another 'out')",
                               out, process_id));
}

// A sibling of `out` named by this attempt: created, and removed, only by this step.
std::string sibling(const std::string& out, const StepContext& ctx, const char* kind) {
  const fs::path o{out};
  const auto name =
      fmt::format(".{}.{}.{}.{}", o.filename().string(), ctx.attempt, pipeline::unique_temp_suffix(), kind);
  return (o.parent_path() / name).generic_string();
}

// Removes the staging directory on every way out unless it was renamed into place.
struct StagingGuard {
  const store::SiteStore& store;
  std::string relative;
  bool placed = false;
  ~StagingGuard() {
    if (placed) return;
    try {
      store.remove(relative);
    } catch (const std::exception& e) {
      spdlog::warn("simulate_night: could not remove the staging directory '{}': {}", relative, e.what());
    }
  }
};

// Moves the finished staging directory onto `out`. An earlier attempt's night is first moved
// aside (so `out` is never half a night) and then deleted.
void place(const store::SiteStore& store, StagingGuard& staging, const std::string& out, StepContext& ctx) {
  require_ours_or_absent(store, out, ctx.process_id);  // again: something may have appeared meanwhile
  ctx.check_lease();
  const fs::path target = store.for_writing(out);
  std::optional<std::string> old;
  if (fs::exists(target)) {
    old = sibling(out, ctx, "old");
    fs::rename(target, store.for_writing(*old));
  }
  fs::rename(store.for_writing(staging.relative), target);
  staging.placed = true;
  if (old) store.remove(*old);
}

void simulate_night(StepContext& ctx, const ::tianyu::steps::SimulateNightParams& params) {
  std::optional<store::SiteStore> own;
  const store::SiteStore& store = site_store(ctx, own);
  const std::string out = output_dir(params.out, store);
  require_ours_or_absent(store, out, ctx.process_id);
  const auto config = night_config(params);

  StagingGuard staging{store, sibling(out, ctx, "tmp")};
  const fs::path staging_dir = store.for_writing(staging.relative);
  const auto summary = sim::simulate_night(config, staging_dir, static_cast<int>(params.threads));
  {
    std::ofstream mark(staging_dir / kProducerMark);
    mark << ctx.process_id << "\n";
    mark.close();  // checked after close: a full disk shows at the flush
    if (!mark) {  // a full disk, typically: a later attempt may succeed
      throw ResourceFailure("simulate_night: cannot write " + (staging_dir / kProducerMark).string());
    }
  }
  place(store, staging, out, ctx);
  spdlog::info("process {}: simulated {} science and {} calibration frames into {} in {:.1f} s",
               ctx.process_id, summary.science_frames, summary.calibration_frames, out, summary.seconds);
}

}  // namespace

void register_simulation_steps(StepRegistry& registry) {
  registry.add<::tianyu::steps::SimulateNightParams>("simulate_night", simulate_night);
}

}  // namespace tianyu::consumer
