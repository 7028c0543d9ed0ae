// tianyu-sim: writes one simulated observing night with its ground truth (raw/, calib/, truth/).
#include <fstream>
#include <iostream>

#include <spdlog/spdlog.h>

#include "common/cli.h"
#include "common/errors.h"
#include "common/version.h"
#include "pipeline/sim/night.h"

namespace sim = tianyu::pipeline::sim;

namespace {

sim::SimConfig load(const std::string& preset, const std::string& file,
                    const std::optional<std::uint64_t>& seed) {
  try {
    auto config = sim::preset(preset);
    if (!file.empty()) {
      std::ifstream in(file);
      if (!in) throw tianyu::ConfigError("--config", "cannot read simulator config '" + file + "'");
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(in);
      } catch (const nlohmann::json::parse_error& e) {
        throw tianyu::ConfigError("--config", file + " is not valid JSON: " + e.what());
      }
      if (j.is_object() && j.contains("preset") && j["preset"].is_string() && preset == "default") {
        config = sim::preset(j["preset"].get<std::string>());
      }
      config = sim::apply_json(config, j);
    }
    if (seed) config.seed = *seed;
    sim::validate(config);
    return config;
  } catch (const sim::SimConfigError& e) {
    throw tianyu::ConfigError(e.field(), std::string("simulator config") +
                                             (file.empty() ? "" : " " + file) + ": " + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Writes one simulated observing night (science and calibration frames as FITS) "
               "with its ground truth.",
               "tianyu-sim"};
  app.set_version_flag("--version", std::string("tianyu-sim ") + tianyu::kVersion);
  std::string out, file, preset = "default";
  std::optional<std::uint64_t> seed;
  int threads = 0;
  app.add_option("--out", out, "Output directory (raw/, calib/, truth/ are created in it)")->required();
  app.add_option("--config", file, "Simulator config (JSON object of SimConfig fields)");
  app.add_option("--preset", preset, "default (512x512, 120 frames), paper (2048x2048, 999), tianyu (8120x8120)");
  app.add_option("--seed", seed, "Random seed (same seed, same bytes)");
  app.add_option("--threads", threads, "Worker threads (0: all cores)");
  return tianyu::cli::run(app, argc, argv, [&] {
    const auto config = load(preset, file, seed);
    spdlog::info("simulating {} frames of {}x{} px, {} stars, seed {} into {}", config.frames,
                 config.width, config.height, config.stars, config.seed, out);
    int last_decile = -1;
    const auto summary = sim::simulate_night(config, out, threads, [&](int done, int total) {
      const int decile = done * 10 / total;
      if (decile != last_decile) {
        last_decile = decile;
        spdlog::info("{}/{} frames written", done, total);
      }
    });
    std::cout << nlohmann::json{{"out", out},
                                {"science_frames", summary.science_frames},
                                {"calibration_frames", summary.calibration_frames},
                                {"bad_frames", summary.bad_frames},
                                {"seconds", summary.seconds}}
                     .dump()
              << "\n";
    return static_cast<int>(tianyu::cli::kOk);
  });
}
