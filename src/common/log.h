#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "common/config.h"

namespace tianyu {

// Routes spdlog's default logger to stderr with UTC timestamps, named after the program. With
// log.format = "json" every line is one JSON object carrying the program, site and group, and
// the process_id and command of the step the logging thread is running (null outside a step),
// so a site can ship the lines to its log stack and search them by process.
void setup_logging(const LogConfig& config, std::string_view program, std::string_view site = "",
                   std::string_view group = "");

// While alive, log lines of this thread carry the step's process id and command.
class StepLogScope {
 public:
  StepLogScope(std::uint64_t process_id, std::string command);
  ~StepLogScope();
  StepLogScope(const StepLogScope&) = delete;
  StepLogScope& operator=(const StepLogScope&) = delete;
};

}  // namespace tianyu
