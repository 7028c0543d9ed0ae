#pragma once
#include <string_view>

#include "common/config.h"

namespace tianyu {

// Routes spdlog's default logger to stderr with UTC timestamps, named after the program.
void setup_logging(const LogConfig& config, std::string_view program);

}  // namespace tianyu
