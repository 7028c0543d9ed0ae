#pragma once
// Access to the real MariaDB and RabbitMQ that scripts/services.sh starts. Integration tests
// call TIANYU_REQUIRE_LIVE_SERVICES(): they skip with a message when TIANYU_DB_HOST is unset,
// and fail instead when TIANYU_REQUIRE_LIVE=1 (scripts/test.sh sets it, so CI never skips).
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "common/config.h"
#include "common/db.h"

namespace tianyu::test {

// The configuration of the live services, or nullopt when they are not configured.
std::optional<Config> live_config();
bool live_required();

// A name no other test (or concurrent test process) uses: prefix_<pid>_<counter>_<random>.
std::string unique_name(std::string_view prefix);

// A database of its own for one test, dropped afterwards.
class ScratchDatabase {
 public:
  explicit ScratchDatabase(const DbConfig& config);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;
  // Settings that select the scratch database.
  const db::Settings& settings() const { return settings_; }
  const std::string& name() const { return settings_.database; }

 private:
  db::Settings settings_;
};

}  // namespace tianyu::test

#define TIANYU_REQUIRE_LIVE_SERVICES()                                                      \
  do {                                                                                      \
    if (!::tianyu::test::live_config()) {                                                   \
      if (::tianyu::test::live_required()) {                                                \
        FAIL() << "TIANYU_REQUIRE_LIVE=1 but TIANYU_DB_HOST is unset: source run/env.sh";   \
      }                                                                                     \
      GTEST_SKIP() << "integration test: needs the live MariaDB and RabbitMQ "              \
                      "(scripts/services.sh start; source run/env.sh)";                     \
    }                                                                                       \
  } while (0)
