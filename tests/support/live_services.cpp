#include "support/live_services.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>

#include <spdlog/fmt/fmt.h>

namespace tianyu::test {

std::optional<Config> live_config() {
  const char* host = std::getenv("TIANYU_DB_HOST");
  if (!host || !*host) return std::nullopt;
  return load_config(std::nullopt);
}

bool live_required() {
  const char* v = std::getenv("TIANYU_REQUIRE_LIVE");
  return v && std::string_view(v) == "1";
}

std::string unique_name(std::string_view prefix) {
  static std::atomic<unsigned> counter{0};
  static const unsigned salt = std::random_device{}() % 1000000;
  return fmt::format("{}_{}_{}_{}", prefix, ::getpid(), counter++, salt);
}

ScratchDatabase::ScratchDatabase(const DbConfig& config) : settings_(db::settings_from(config)) {
  settings_.database = unique_name("tianyu_test");
  db::Settings server = settings_;
  server.database.clear();
  db::Connection c(server);
  c.execute("CREATE DATABASE `" + settings_.database + "` CHARACTER SET utf8mb4");
}

ScratchDatabase::~ScratchDatabase() {
  try {
    db::Settings server = settings_;
    server.database.clear();
    db::Connection c(server);
    c.execute("DROP DATABASE IF EXISTS `" + settings_.database + "`");
  } catch (...) {
    // A leftover tianyu_test_* database is harmless; never throw from a destructor.
  }
}

}  // namespace tianyu::test
