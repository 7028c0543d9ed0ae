// simulate_night: the simulator as a process (the published system generates images as a
// process type too). The night is written beside its final place and renamed into it, so a
// reader never sees half a night and a re-run replaces its own output whole.
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/registry.h"
#include "pipeline/temp_name.h"
#include "pipeline/sim/night.h"

namespace tianyu::consumer {
namespace {

namespace fs = std::filesystem;
namespace sim = pipeline::sim;

fs::path output_dir(const StepContext& ctx) {
  if (!ctx.params.contains("out") || !ctx.params["out"].is_string()) {
    throw InputError("simulate_night: parameter 'out' (a directory under the site root) is required");
  }
  const fs::path out = ctx.params["out"].get<std::string>();
  if (out.empty() || out.is_absolute() || out.lexically_normal().string().starts_with("..")) {
    throw InputError(fmt::format("simulate_night: parameter 'out' must be a relative path inside "
                                 "the site root, got '{}'", out.string()));
  }
  return ctx.site_root / out.lexically_normal();
}

sim::SimConfig night_config(const StepContext& ctx) {
  try {
    const std::string preset = ctx.params.value("preset", std::string("default"));
    auto config = sim::preset(preset);
    if (ctx.params.contains("config")) config = sim::apply_json(config, ctx.params["config"]);
    if (ctx.params.contains("seed")) {
      if (!ctx.params["seed"].is_number_unsigned()) {
        throw sim::SimConfigError("seed", "must be a non-negative integer");
      }
      config.seed = ctx.params["seed"].get<std::uint64_t>();
    }
    sim::validate(config);
    return config;
  } catch (const sim::SimConfigError& e) {
    throw InputError(std::string("simulate_night: ") + e.what());
  }
}

void simulate_night(StepContext& ctx) {
  const auto out = output_dir(ctx);
  const auto config = night_config(ctx);
  const auto staging = out.parent_path() /
                       fmt::format(".{}.{}.{}.tmp", out.filename().string(), ctx.attempt, pipeline::unique_temp_suffix());
  fs::remove_all(staging);
  fs::create_directories(out.parent_path());
  const auto summary = sim::simulate_night(config, staging, ctx.params.value("threads", 0));
  fs::remove_all(out);  // an earlier attempt's complete night, whose commit did not land
  fs::rename(staging, out);
  spdlog::info("process {}: simulated {} science and {} calibration frames into {} in {:.1f} s",
               ctx.process_id, summary.science_frames, summary.calibration_frames, out.string(),
               summary.seconds);
}

}  // namespace

void register_simulation_steps(StepRegistry& registry) {
  registry.add("simulate_night", simulate_night);
}

}  // namespace tianyu::consumer
