// tianyu-sim: writes one simulated observing night with its ground truth (raw/, calib/, truth/).
#include <algorithm>
#include <fstream>
#include <optional>
#include <iostream>

#include <spdlog/spdlog.h>

#include "common/cli.h"
#include "common/errors.h"
#include "common/version.h"
#include "pipeline/sim/night.h"

namespace sim = tianyu::pipeline::sim;

namespace {

// The real-sky flags over the preset and config (they win over both).
struct SkyFlags {
  std::string sky, index_dir;
  std::optional<double> ra, dec;
};

sim::SimConfig load(const std::string& preset, const std::string& file,
                    const std::optional<std::uint64_t>& seed, const SkyFlags& flags) {
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
    if (!flags.sky.empty()) {
      config.sky.enabled = true;
      config.sky.catalogue = flags.sky;
    }
    if (!flags.index_dir.empty()) config.sky.index_dir = flags.index_dir;
    if (flags.ra) config.ra_deg = *flags.ra;
    if (flags.dec) config.dec_deg = *flags.dec;
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
  SkyFlags sky;
  int nights = 0;
  app.add_option("--sky", sky.sky, "Draw the night on the real sky: tycho2 (the installed astrometry.net "
                                   "Tycho-2 index files, plus fainter synthetic stars); frames carry no WCS")
      ->check(CLI::IsMember({"tycho2"}));
  app.add_option("--index-dir", sky.index_dir, "Directory of the index-tycho2-*.fits files (default /usr/share/astrometry)");
  app.add_option("--ra", sky.ra, "Field centre right ascension, degrees (ra_deg)");
  app.add_option("--dec", sky.dec, "Field centre declination, degrees (dec_deg)");
  app.add_option("--nights", nights, "N nights of one real-sky field in DIR/night-1 ... night-N, each with "
                                     "its own pointing offset and rotation")
      ->check(CLI::Range(1, 1000));
  return tianyu::cli::run(app, argc, argv, [&] {
    const auto config = load(preset, file, seed, sky);
    spdlog::info("simulating {} frames of {}x{} px, {}, seed {} into {}", config.frames, config.width,
                 config.height, config.sky.enabled ? "on the real sky (Tycho-2)" : std::to_string(config.stars) + " stars",
                 config.seed, out);
    int last_decile = -1;
    auto report = [&](int night, int done, int total) {
      const int decile = done * 10 / total;
      if (decile != last_decile || done == total) {
        last_decile = decile;
        spdlog::info("{}{}/{} frames written", night ? "night " + std::to_string(night) + ": " : "", done, total);
      }
    };
    sim::NightSummary summary;
    try {
      summary = nights > 0 ? sim::simulate_nights(config, out, nights, threads, report)
                           : sim::simulate_night(config, out, threads, [&](int d, int t) { report(0, d, t); });
    } catch (const sim::SimConfigError& e) {
      throw tianyu::ConfigError(e.field(), std::string("simulator config: ") + e.what());
    }
    std::cout << nlohmann::json{{"out", out},
                                {"nights", std::max(nights, 1)},
                                {"science_frames", summary.science_frames},
                                {"calibration_frames", summary.calibration_frames},
                                {"bad_frames", summary.bad_frames},
                                {"seconds", summary.seconds}}
                     .dump()
              << "\n";
    return static_cast<int>(tianyu::cli::kOk);
  });
}
