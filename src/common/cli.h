#pragma once
// What every tianyu executable shares: --config/--log-level, --version, and one place that
// turns exceptions into a logged message and an exit code.
#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "common/config.h"

namespace tianyu::cli {

enum ExitCode : int { kOk = 0, kFailure = 1, kUsage = 2 };

struct CommonOptions {
  std::optional<std::string> config_path;  // --config, else $TIANYU_CONFIG, else defaults
  std::optional<std::string> log_level;
};

// Adds --config, --log-level and --version to an application.
void add_common_options(CLI::App& app, CommonOptions& options);

// Loads the configuration named by the options and sets up logging for `program`.
Config load_and_log(const CommonOptions& options, const std::string& program);

// A name for this daemon instance, unique across hosts and restarts: "<host>-<pid>-<hex>".
// The pid in it lets an operator (or a test) find the process behind a lease or a dispatch.
std::string instance_id();

// Parses the command line and runs `body`; exceptions become a logged error and an exit code
// (kUsage for command-line and configuration errors, kFailure for everything else).
int run(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

}  // namespace tianyu::cli
