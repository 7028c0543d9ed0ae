#include "common/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <variant>

#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "common/names.h"

namespace tianyu {
namespace {

using json = nlohmann::json;

struct IntRange {
  int min;
  int max;
};

// One configurable value: where it lives in the struct and what it may hold.
struct Field {
  std::string path;
  std::variant<std::string*, int*, std::vector<BrokerNode>*> target;
  IntRange range{0, 0};                   // for ints
  std::vector<std::string> choices = {};  // for strings; empty = any non-empty text
  bool may_be_empty = false;
};

std::vector<Field> fields_of(Config& c) {
  const std::vector<std::string> levels = {"trace", "debug", "info",    "warn",
                                           "error", "critical", "off"};
  return {
      {"db.host", &c.db.host},
      {"db.port", &c.db.port, {1, 65535}},
      {"db.user", &c.db.user},
      {"db.password", &c.db.password, {}, {}, true},
      {"db.name", &c.db.name},
      {"db.connect_timeout_s", &c.db.connect_timeout_s, {1, 3600}},
      {"db.read_timeout_s", &c.db.read_timeout_s, {1, 86400}},
      {"db.lock_wait_timeout_s", &c.db.lock_wait_timeout_s, {1, 3600}},
      {"db.tls.enabled", &c.db.tls.enabled, {0, 1}},
      {"db.tls.ca", &c.db.tls.ca, {}, {}, true},
      {"db.tls.cert", &c.db.tls.cert, {}, {}, true},
      {"db.tls.key", &c.db.tls.key, {}, {}, true},
      {"db.tls.verify", &c.db.tls.verify, {0, 1}},
      {"broker.host", &c.broker.host},
      {"broker.port", &c.broker.port, {1, 65535}},
      {"broker.user", &c.broker.user},
      {"broker.password", &c.broker.password, {}, {}, true},
      {"broker.vhost", &c.broker.vhost},
      {"broker.heartbeat_s", &c.broker.heartbeat_s, {0, 3600}},
      {"broker.rpc_timeout_ms", &c.broker.rpc_timeout_ms, {100, 600000}},
      {"broker.tls.enabled", &c.broker.tls.enabled, {0, 1}},
      {"broker.tls.ca", &c.broker.tls.ca, {}, {}, true},
      {"broker.tls.cert", &c.broker.tls.cert, {}, {}, true},
      {"broker.tls.key", &c.broker.tls.key, {}, {}, true},
      {"broker.tls.verify", &c.broker.tls.verify, {0, 1}},
      {"broker.nodes", &c.broker.nodes},
      {"broker.dead_letter_queue_type", &c.broker.dead_letter_queue_type, {}, {"classic", "quorum"}},
      {"manager.poll_interval_ms", &c.manager.poll_interval_ms, {1, 60000}},
      {"manager.claim_batch", &c.manager.claim_batch, {1, 10000}},
      {"manager.confirm_timeout_ms", &c.manager.confirm_timeout_ms, {100, 600000}},
      {"manager.sweep_interval_ms", &c.manager.sweep_interval_ms, {10, 600000}},
      {"manager.retry_base_ms", &c.manager.retry_base_ms, {0, 3600000}},
      {"manager.retry_max_ms", &c.manager.retry_max_ms, {0, 86400000}},
      {"manager.lost_dispatch_s", &c.manager.lost_dispatch_s, {1, 86400}},
      {"consumer.workers", &c.consumer.workers, {1, 256}},
      {"consumer.prefetch", &c.consumer.prefetch, {0, 65535}},
      {"consumer.lease_s", &c.consumer.lease_s, {1, 86400}},
      {"consumer.hand_off_children", &c.consumer.hand_off_children, {0, 1}},
      {"consumer.continue_chains", &c.consumer.continue_chains, {0, 1}},
      {"consumer.site_root", &c.consumer.site_root, {}, {}, true},
      {"site", &c.site},
      {"group", &c.group},
      {"log.level", &c.log.level, {}, levels},
      {"log.format", &c.log.format, {}, {"text", "json"}},
  };
}

std::string where(const std::optional<std::filesystem::path>& file) {
  return file ? file->string() : std::string("configuration");
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

void check_string(const Field& f, const std::string& value, const std::string& origin) {
  if (value.empty() && !f.may_be_empty) {
    throw ConfigError(f.path, origin + ": field '" + f.path + "' must not be empty");
  }
  if (!f.choices.empty() &&
      std::find(f.choices.begin(), f.choices.end(), value) == f.choices.end()) {
    throw ConfigError(f.path, origin + ": field '" + f.path + "' is '" + value +
                                  "', expected one of: " + join(f.choices));
  }
  // Site and group names become queue and directory names (common/names.h).
  if ((f.path == "site" || f.path == "group") && !is_valid_name(value)) {
    throw ConfigError(f.path, origin + ": field '" + f.path + "' is '" + value +
                                  "', expected 1-64 characters of [a-z0-9_-]");
  }
}

void check_int(const Field& f, long long value, const std::string& origin) {
  if (value < f.range.min || value > f.range.max) {
    throw ConfigError(f.path, origin + ": field '" + f.path + "' is " + std::to_string(value) +
                                  ", expected an integer in [" + std::to_string(f.range.min) +
                                  ", " + std::to_string(f.range.max) + "]");
  }
}

// A node list: at most kMaxBrokerNodes distinct "host:port" entries; none (an empty array or
// variable) means the single broker at host:port.
constexpr std::size_t kMaxBrokerNodes = 16;

std::vector<BrokerNode> node_list(const Field& f, const std::vector<std::string>& items,
                                  const std::string& origin) {
  if (items.size() > kMaxBrokerNodes) {
    throw ConfigError(f.path, origin + ": field '" + f.path + "' lists " + std::to_string(items.size()) +
                                  " nodes, expected at most " + std::to_string(kMaxBrokerNodes));
  }
  std::vector<BrokerNode> nodes;
  for (const auto& item : items) {
    auto node = parse_broker_node(item, f.path, origin);
    if (std::find(nodes.begin(), nodes.end(), node) != nodes.end()) {
      throw ConfigError(f.path, origin + ": field '" + f.path + "' lists '" + item + "' twice");
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const auto comma = text.find(',', start);
    items.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return items;
    start = comma + 1;
  }
}

void assign_nodes_from_json(const Field& f, const json& value, const std::string& origin) {
  if (!value.is_array()) {
    throw ConfigError(f.path, origin + ": field '" + f.path + "' must be an array of \"host:port\" "
                                  "strings, got " + value.type_name());
  }
  std::vector<std::string> items;
  for (const auto& item : value) {
    if (!item.is_string()) {
      throw ConfigError(f.path, origin + ": field '" + f.path + "' must hold \"host:port\" strings, got " +
                                    item.type_name());
    }
    items.push_back(item.get<std::string>());
  }
  *std::get<std::vector<BrokerNode>*>(f.target) = node_list(f, items, origin);
}

void assign_from_json(const Field& f, const json& value, const std::string& origin) {
  if (std::holds_alternative<std::vector<BrokerNode>*>(f.target)) {
    assign_nodes_from_json(f, value, origin);
  } else if (auto* s = std::get_if<std::string*>(&f.target)) {
    if (!value.is_string()) {
      throw ConfigError(f.path, origin + ": field '" + f.path + "' must be a string, got " +
                                    value.type_name());
    }
    check_string(f, value.get<std::string>(), origin);
    **s = value.get<std::string>();
  } else {
    if (!value.is_number_integer()) {
      throw ConfigError(f.path, origin + ": field '" + f.path + "' must be an integer, got " +
                                    value.type_name());
    }
    const auto v = value.get<long long>();
    check_int(f, v, origin);
    *std::get<int*>(f.target) = static_cast<int>(v);
  }
}

void assign_from_env(const Field& f, const std::string& var, const std::string& text) {
  const std::string origin = "environment variable " + var;
  if (auto* nodes = std::get_if<std::vector<BrokerNode>*>(&f.target)) {
    **nodes = text.empty() ? std::vector<BrokerNode>{} : node_list(f, split_commas(text), origin);
    return;
  }
  if (auto* s = std::get_if<std::string*>(&f.target)) {
    check_string(f, text, origin);
    **s = text;
    return;
  }
  long long v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end) {
    throw ConfigError(f.path, origin + " (field '" + f.path + "') is '" + text +
                                  "', expected an integer");
  }
  check_int(f, v, origin);
  *std::get<int*>(f.target) = static_cast<int>(v);
}

void apply_object(const json& object, const std::string& prefix, std::vector<Field>& fields,
                  const std::string& origin) {
  for (const auto& [key, value] : object.items()) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object()) {
      apply_object(value, path, fields, origin);
      continue;
    }
    auto it = std::find_if(fields.begin(), fields.end(),
                           [&](const Field& f) { return f.path == path; });
    if (it == fields.end()) {
      throw ConfigError(path, origin + ": unknown field '" + path + "'");
    }
    assign_from_json(*it, value, origin);
  }
}

json parse_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    throw ConfigError("", file.string() + ": cannot open configuration file");
  }
  std::stringstream text;
  text << in.rdbuf();
  try {
    return json::parse(text.str());
  } catch (const json::parse_error& e) {
    throw ConfigError("", file.string() + ": not valid JSON (" + e.what() + ")");
  }
}

// Checks that need more than one field, once the file and the environment are applied.
void check_combination(const Config& c, const std::string& origin) {
  // More unacked deliveries than workers would park messages behind busy workers, where
  // another consumer cannot take them and their delivery timeout keeps running.
  if (c.consumer.prefetch > c.consumer.workers) {
    throw ConfigError("consumer.prefetch",
                      origin + ": field 'consumer.prefetch' is " +
                          std::to_string(c.consumer.prefetch) + ", more than consumer.workers (" +
                          std::to_string(c.consumer.workers) + "); use at most workers, or 0");
  }
  if (c.broker.nodes.size() > 1 && c.broker.dead_letter_queue_type != "quorum") {
    throw ConfigError("broker.dead_letter_queue_type",
                      origin + ": field 'broker.nodes' lists " + std::to_string(c.broker.nodes.size()) +
                          " nodes but 'broker.dead_letter_queue_type' is '" +
                          c.broker.dead_letter_queue_type +
                          "'; a cluster needs 'quorum' (a classic dead-letter queue is unusable "
                          "while its node is down, and the daemons could not connect)");
  }
  for (const auto* side : {&c.db.tls, &c.broker.tls}) {
    const std::string section = side == &c.db.tls ? "db" : "broker";
    if (side->enabled && side->ca.empty()) {
      throw ConfigError(section + ".tls.ca",
                        origin + ": field '" + section + ".tls.ca' must name the CA file when " +
                            section + ".tls.enabled is 1 (the server cannot be verified without)");
    }
    if (side->cert.empty() != side->key.empty()) {
      throw ConfigError(section + (side->cert.empty() ? ".tls.cert" : ".tls.key"),
                        origin + ": fields '" + section + ".tls.cert' and '" + section +
                            ".tls.key' go together: set both or neither");
    }
  }
}

}  // namespace

BrokerNode parse_broker_node(const std::string& text, const std::string& path,
                             const std::string& origin) {
  auto bad = [&](const std::string& why) {
    return ConfigError(path, origin + ": field '" + path + "': node '" + text + "' " + why +
                                 " (expected host:port)");
  };
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) throw bad("has no host:port form");
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const bool plain = std::all_of(host.begin(), host.end(), [](unsigned char ch) {
    return std::isalnum(ch) || ch == '.' || ch == '-' || ch == '_' || ch == ':';
  });
  if (host.empty() || !plain) throw bad("has an invalid host");
  const std::string port_text = text.substr(colon + 1);
  int port = 0;
  const auto* end = port_text.data() + port_text.size();
  const auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
  if (port_text.empty() || ec != std::errc() || ptr != end || port < 1 || port > 65535) {
    throw bad("has no port in 1-65535");
  }
  return BrokerNode{host, port};
}

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
  };
}

std::string env_name_for(const std::string& field_path) {
  std::string name = "TIANYU_";
  for (char ch : field_path) {
    name += ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return name;
}

std::vector<std::string> config_field_paths() {
  Config scratch;
  std::vector<std::string> paths;
  for (const auto& f : fields_of(scratch)) paths.push_back(f.path);
  return paths;
}

Config load_config(const std::optional<std::filesystem::path>& file, const EnvLookup& env) {
  Config config;
  auto fields = fields_of(config);
  if (file) {
    const json root = parse_file(*file);
    if (!root.is_object()) {
      throw ConfigError("", where(file) + ": the top level must be a JSON object");
    }
    apply_object(root, "", fields, where(file));
  }
  for (const auto& f : fields) {
    const std::string var = env_name_for(f.path);
    if (auto value = env(var)) assign_from_env(f, var, *value);
  }
  check_combination(config, file ? where(file) + " and the environment" : "the environment");
  return config;
}

}  // namespace tianyu
