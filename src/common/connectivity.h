#pragma once
#include <string>

#include "common/config.h"

namespace tianyu {

// Opens a database session and a broker connection with the configured settings and reports
// what it found (schema version, broker reachable); throws with the failing endpoint named.
std::string check_connectivity(const Config& config, const std::string& program);

}  // namespace tianyu
