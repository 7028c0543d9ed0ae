#include "common/cli.h"

#include <iostream>
#include <random>

#include <spdlog/fmt/fmt.h>

#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/log.h"
#include "common/platform.h"
#include "common/version.h"

namespace tianyu::cli {

void add_common_options(CLI::App& app, CommonOptions& options) {
  app.set_version_flag("--version", std::string(app.get_name()) + " " + kVersion);
  app.add_option("-c,--config", options.config_path,
                 "JSON configuration file (default: $TIANYU_CONFIG, else built-in defaults; "
                 "every field can be overridden by TIANYU_<SECTION>_<FIELD>)");
  app.add_option("--log-level", options.log_level,
                 "trace, debug, info, warn, error, critical or off (overrides log.level)");
}

Config load_and_log(const CommonOptions& options, const std::string& program) {
  std::optional<std::filesystem::path> file;
  if (options.config_path) {
    file = *options.config_path;
  } else if (const char* env = std::getenv("TIANYU_CONFIG"); env && *env) {
    file = env;
  }
  const EnvLookup env = process_environment();
  const EnvLookup with_cli = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "TIANYU_LOG_LEVEL" && options.log_level) return options.log_level;
    return env(name);
  };
  Config config = load_config(file, with_cli);
  setup_logging(config.log, program, config.site, config.group);
  return config;
}

std::string instance_id() {
  return fmt::format("{}-{}-{:04x}", platform::host_name(), platform::process_id(),
                     std::random_device{}() & 0xFFFF);
}

int run(CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  // Two libraries write to sockets; a peer that vanished must be an error code, not a signal.
  platform::ignore_broken_pipes();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return body();
  } catch (const ConfigError& e) {
    std::cerr << app.get_name() << ": configuration error: " << e.what() << "\n";
    return kUsage;
  } catch (const std::exception& e) {
    // Once logging is set up (the default logger is named after the program) the error goes
    // to the log stream in its configured format; before that, plainly to stderr.
    if (!spdlog::default_logger()->name().empty()) {
      spdlog::critical("{}", e.what());
    } else {
      std::cerr << app.get_name() << ": error: " << e.what() << "\n";
    }
    return kFailure;
  }
}

}  // namespace tianyu::cli
