#pragma once
// Deployment configuration: one JSON file per role (config/*.json), every field overridable by
// an environment variable named TIANYU_<SECTION>_<FIELD> (db.host -> TIANYU_DB_HOST).
// Unknown fields are errors, so a typo never silently falls back to a default.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tianyu {

struct DbConfig {
  std::string host = "127.0.0.1";
  int port = 33061;
  std::string user = "tianyu";
  std::string password;  // never committed: set TIANYU_DB_PASSWORD
  std::string name = "tianyu";
  int connect_timeout_s = 5;
  int read_timeout_s = 300;
  int lock_wait_timeout_s = 5;
};

struct BrokerConfig {
  std::string host = "127.0.0.1";
  int port = 56720;
  std::string user = "tianyu";
  std::string password;  // never committed: set TIANYU_BROKER_PASSWORD
  std::string vhost = "/";
  int heartbeat_s = 15;
  int rpc_timeout_ms = 10000;
};

struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string format = "text";
};

struct Config {
  DbConfig db;
  BrokerConfig broker;
  std::string site = "local";
  std::string group = "general";
  LogConfig log;
};

// Returns the value of an environment variable, or nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_environment();

// Defaults, then the file (when given), then the environment. Throws ConfigError naming the
// file and field (or the environment variable) that is wrong.
Config load_config(const std::optional<std::filesystem::path>& file,
                   const EnvLookup& env = process_environment());

// The environment variable that overrides a dotted field path ("db.host" -> "TIANYU_DB_HOST").
std::string env_name_for(const std::string& field_path);

// Every field path the loader understands, in a stable order (for docs and tests).
std::vector<std::string> config_field_paths();

}  // namespace tianyu
