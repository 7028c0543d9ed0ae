#include "common/queues.h"

#include <spdlog/fmt/fmt.h>

#include "common/errors.h"

namespace tianyu::queues {

std::string work_queue(std::string_view site, std::string_view group) {
  return fmt::format("tianyu.work.{}.{}", site, group);
}

void declare_work_queue(broker::Connection& c, std::string_view site, std::string_view group) {
  c.declare_exchange(kDeadLetterExchange, "fanout");
  c.declare_queue(kDeadLetterQueue);
  c.bind_queue(kDeadLetterQueue, kDeadLetterExchange, "");
  broker::QueueOptions options;
  options.quorum = true;
  options.dead_letter_exchange = kDeadLetterExchange;
  options.delivery_limit = kDeliveryLimit;
  c.declare_queue(work_queue(site, group), options);
}

std::string encode(const ProcessMessage& m) {
  return nlohmann::json{{"process_id", m.process_id}, {"attempt", m.attempt},
                        {"command", m.command},       {"params", m.params},
                        {"site", m.site},             {"group", m.group},
                        {"max_attempts", m.max_attempts}, {"attempt_floor", m.attempt_floor}}
      .dump();
}

ProcessMessage decode(std::string_view body) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(fmt::format("message is not valid JSON: {}", e.what()));
  }
  if (!j.is_object()) throw InputError("message is not a JSON object");
  auto require = [&](const char* field, auto&& valid, const char* expected) -> const nlohmann::json& {
    if (!j.contains(field)) throw InputError(fmt::format("message has no '{}' field", field));
    const auto& v = j.at(field);
    if (!valid(v)) {
      throw InputError(fmt::format("message field '{}' must be {}, got {}", field, expected,
                                   v.dump()));
    }
    return v;
  };
  const auto is_uint = [](const nlohmann::json& v) { return v.is_number_unsigned(); };
  const auto is_string = [](const nlohmann::json& v) { return v.is_string(); };
  ProcessMessage m;
  m.process_id = require("process_id", is_uint, "an unsigned integer").get<std::uint64_t>();
  m.attempt = require("attempt", is_uint, "an unsigned integer").get<std::uint32_t>();
  m.command = require("command", is_string, "a string").get<std::string>();
  m.params = require("params", [](const nlohmann::json& v) { return v.is_object(); }, "an object");
  if (j.contains("site") && j["site"].is_string()) m.site = j["site"];
  if (j.contains("group") && j["group"].is_string()) m.group = j["group"];
  m.max_attempts = require("max_attempts", is_uint, "an unsigned integer").get<std::uint32_t>();
  m.attempt_floor = require("attempt_floor", is_uint, "an unsigned integer").get<std::uint32_t>();
  return m;
}

std::optional<std::uint64_t> peek_process_id(std::string_view body) {
  try {
    const auto j = nlohmann::json::parse(body);
    if (j.is_object() && j.contains("process_id") && j["process_id"].is_number_unsigned()) {
      return j["process_id"].get<std::uint64_t>();
    }
  } catch (...) {
  }
  return std::nullopt;
}

std::string message_id(std::uint64_t process_id, std::uint32_t attempt) {
  return fmt::format("{}.{}", process_id, attempt);
}

}  // namespace tianyu::queues
