#pragma once
// The broker topology and the message that carries a process to a consumer. The database is
// the source of truth; a message only says "process P, attempt A, is yours to try".
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/broker.h"

namespace tianyu::queues {

inline constexpr const char* kDeadLetterExchange = "tianyu.dlx";
inline constexpr const char* kDeadLetterQueue = "tianyu.dead";
inline constexpr const char* kKickExchange = "tianyu.kick";
// A message that crashed consumers this many times before any of them could claim it is
// dead-lettered by the broker (poison bound below the database's attempt counter).
inline constexpr int kDeliveryLimit = 10;

// The durable work queue of a (site, group).
std::string work_queue(std::string_view site, std::string_view group);

// Declares the dead-letter exchange and queue and the work queue of (site, group). Idempotent.
void declare_work_queue(broker::Connection& c, std::string_view site, std::string_view group);

struct ProcessMessage {
  std::uint64_t process_id = 0;
  std::uint32_t attempt = 0;
  std::string command;
  nlohmann::json params = nlohmann::json::object();
  std::string site;
  std::string group;
  std::uint32_t max_attempts = 1;   // the attempt budget, so the consumer need not read it
  std::uint32_t attempt_floor = 0;
};

std::string encode(const ProcessMessage& m);
// Throws InputError naming the missing or malformed field.
ProcessMessage decode(std::string_view body);
// The process id of a message too broken to decode, when it can still be read.
std::optional<std::uint64_t> peek_process_id(std::string_view body);

// message_id of a dispatch: "<process_id>.<attempt>".
std::string message_id(std::uint64_t process_id, std::uint32_t attempt);

}  // namespace tianyu::queues
