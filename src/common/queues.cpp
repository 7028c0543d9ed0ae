#include "common/queues.h"

#include <type_traits>

#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/names.h"

namespace tianyu::queues {
namespace {

void set_caps(broker::QueueOptions& options, std::int64_t max_length, std::optional<std::int64_t> ttl_ms) {
  options.max_length = max_length;
  options.message_ttl_ms = ttl_ms;
}

// Declares a queue; when the broker refuses because an earlier version declared it with other
// arguments (PRECONDITION_FAILED) and it is empty, deletes and redeclares it.
void declare_replacing_if_empty(broker::Connection& c, const std::string& name,
                                const broker::QueueOptions& options) {
  try {
    c.declare_queue(name, options);
  } catch (const broker::BrokerError& e) {
    if (e.connection_lost()) throw;
    const auto waiting = c.message_count(name);
    if (waiting > 0) {
      spdlog::error("queue '{}' was declared with other arguments and holds {} messages: it "
                    "keeps its old arguments until an operator drains it ({})",
                    name, waiting, e.what());
      return;
    }
    c.delete_queue(name);
    c.declare_queue(name, options);
  }
}

}  // namespace

std::string work_queue(std::string_view site, std::string_view group) {
  require_valid_name("site", site);
  require_valid_name("group", group);
  return fmt::format("tianyu.work.{}.{}", site, group);
}

broker::QueueOptions dead_letter_options(bool quorum) {
  broker::QueueOptions options;
  options.quorum = quorum;
  options.dead_letter_exchange = kOverflowExchange;
  set_caps(options, kDeadLetterMaxMessages, kDeadLetterTtlMs);
  return options;
}

// Quorum (broker.dead_letter_queue_type) on a cluster, so the dead letters outlive the node that
// held them; switching an existing broker redeclares the queues while they are empty.
void declare_dead_letters(broker::Connection& c) {
  c.declare_exchange(kOverflowExchange, "fanout");
  broker::QueueOptions overflow;
  overflow.quorum = c.quorum_dead_letters();
  set_caps(overflow, kOverflowMaxMessages, std::nullopt);
  declare_replacing_if_empty(c, kOverflowQueue, overflow);
  c.bind_queue(kOverflowQueue, kOverflowExchange, "");
  c.declare_exchange(kDeadLetterExchange, "fanout");
  declare_replacing_if_empty(c, kDeadLetterQueue, dead_letter_options(c.quorum_dead_letters()));
  c.bind_queue(kDeadLetterQueue, kDeadLetterExchange, "");
}

void retire_uncapped_dead_letters(broker::Connection& c) {
  std::uint32_t waiting = 0;
  try {
    waiting = c.message_count(kUncappedDeadLetterQueue);
  } catch (const broker::BrokerError& e) {
    if (e.connection_lost()) throw;
    return;  // NOT_FOUND: already retired (the channel was re-opened)
  }
  if (waiting == 0) {
    c.delete_queue(kUncappedDeadLetterQueue);
    spdlog::info("deleted the empty uncapped dead-letter queue '{}' (replaced by '{}')",
                 kUncappedDeadLetterQueue, kDeadLetterQueue);
    return;
  }
  spdlog::warn("the uncapped dead-letter queue '{}' holds {} messages; inspect and purge it "
               "(new dead letters also go to the capped '{}'), then it is deleted",
               kUncappedDeadLetterQueue, waiting, kDeadLetterQueue);
}

void declare_work_queue(broker::Connection& c, std::string_view site, std::string_view group) {
  const std::string queue = work_queue(site, group);  // validates the names first
  declare_dead_letters(c);
  broker::QueueOptions options;
  options.quorum = true;
  options.dead_letter_exchange = kDeadLetterExchange;
  options.delivery_limit = kDeliveryLimit;
  c.declare_queue(queue, options);
}

std::string encode(const ProcessMessage& m) {
  return nlohmann::json{{"process_id", m.process_id}, {"attempt", m.attempt}}.dump();
}

ProcessMessage decode(std::string_view body) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(fmt::format("message is not valid JSON: {}", e.what()));
  }
  if (!j.is_object()) throw InputError("message is not a JSON object");
  for (const auto& [field, value] : j.items()) {
    if (field != "process_id" && field != "attempt") {
      throw InputError(fmt::format("message has unknown field '{}' (a message carries only "
                                   "process_id and attempt)", field));
    }
  }
  auto require_uint = [&](const char* field, std::uint64_t max) {
    if (!j.contains(field)) throw InputError(fmt::format("message has no '{}' field", field));
    const auto& v = j.at(field);
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() > max) {
      throw InputError(fmt::format("message field '{}' must be an unsigned integer up to {}, got {}",
                                   field, max, v.dump()));
    }
    return v.get<std::uint64_t>();
  };
  ProcessMessage m;
  m.process_id = require_uint("process_id", UINT64_MAX);
  m.attempt = static_cast<std::uint32_t>(require_uint("attempt", UINT32_MAX));
  return m;
}

std::optional<ProcessMessage> peek(std::string_view body) {
  try {
    const auto j = nlohmann::json::parse(body);
    if (!j.is_object()) return std::nullopt;
    const auto id = j.find("process_id");
    const auto attempt = j.find("attempt");
    if (id == j.end() || attempt == j.end() || !id->is_number_unsigned() ||
        !attempt->is_number_unsigned() || attempt->get<std::uint64_t>() > UINT32_MAX) {
      return std::nullopt;
    }
    return ProcessMessage{id->get<std::uint64_t>(), attempt->get<std::uint32_t>()};
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::string message_id(std::uint64_t process_id, std::uint32_t attempt) {
  return fmt::format("{}.{}", process_id, attempt);
}

}  // namespace tianyu::queues
