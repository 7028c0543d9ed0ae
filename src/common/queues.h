#pragma once
// The broker topology and the message that carries a process to a consumer. The database is
// the source of truth; a message only says "process P, attempt A, is yours to try": it carries
// (process_id, attempt) and nothing else, and the consumer runs what the claimed ROW says.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/broker.h"

namespace tianyu::queues {

inline constexpr const char* kDeadLetterExchange = "tianyu.dlx";
// The dead letters, for operators to inspect. Capped, so poison can never fill the broker's
// disk: at most kDeadLetterMaxMessages, each kept at most kDeadLetterTtlMs. What the cap drops
// (the oldest first, or the expired) is dead-lettered again to kOverflowExchange, whose queue
// the manager drains and counts into the database table dead_letter_overflow (per work queue,
// by the message's routing key), so a drop is never silent.
inline constexpr const char* kDeadLetterQueue = "tianyu.dead-letters";
inline constexpr std::int64_t kDeadLetterMaxMessages = 10000;
inline constexpr std::int64_t kDeadLetterTtlMs = 7LL * 24 * 3600 * 1000;  // 7 days
inline constexpr const char* kOverflowExchange = "tianyu.dead-letters.overflow";
inline constexpr const char* kOverflowQueue = "tianyu.dead-letters.overflow";
// The overflow queue is capped too (the manager normally keeps it empty); beyond this, with no
// manager running, the oldest overflow notices are dropped uncounted.
inline constexpr std::int64_t kOverflowMaxMessages = 100000;
// The uncapped dead-letter queue of earlier versions. RabbitMQ refuses to redeclare a queue
// with other arguments (PRECONDITION_FAILED), so the capped queue has a new name; the old one,
// still bound to the exchange, is deleted once it is empty (every dead letter since the new
// queue was bound is in both, so deleting it then loses nothing).
inline constexpr const char* kUncappedDeadLetterQueue = "tianyu.dead";
inline constexpr const char* kKickExchange = "tianyu.kick";
// A message that crashed consumers this many times before any of them could claim it is
// dead-lettered by the broker (poison bound below the database's attempt counter).
inline constexpr int kDeliveryLimit = 10;

// The durable work queue of a (site, group). InputError when either is not a valid name
// (tianyu::is_valid_name): a '.' would let two (site, group) pairs share one queue.
std::string work_queue(std::string_view site, std::string_view group);

// Declares the dead-letter exchange, the capped dead-letter queue with its overflow, and the
// work queue of (site, group). Idempotent.
void declare_work_queue(broker::Connection& c, std::string_view site, std::string_view group);
// Declares the capped dead-letter queue and its overflow exchange and queue, as quorum queues
// when the connection's settings say so (broker.dead_letter_queue_type). Idempotent.
void declare_dead_letters(broker::Connection& c);
// Deletes the uncapped dead-letter queue of earlier versions when it is empty, and warns (naming
// it and its count) when it is not. A missing queue costs a channel re-open: call this once per
// connection, before consuming.
void retire_uncapped_dead_letters(broker::Connection& c);
// The queue options of the capped dead-letter queue (for tests asserting the declared caps);
// `quorum` as broker.dead_letter_queue_type says.
broker::QueueOptions dead_letter_options(bool quorum = false);

struct ProcessMessage {
  std::uint64_t process_id = 0;
  std::uint32_t attempt = 0;
};

std::string encode(const ProcessMessage& m);
// Strict: throws InputError naming a missing, malformed or unknown field.
ProcessMessage decode(std::string_view body);
// (process_id, attempt) of a message that does not decode strictly (extra fields, an old
// format) when both can still be read; the consumer then claims by them, fenced, and runs what
// the row says, never what the message says.
std::optional<ProcessMessage> peek(std::string_view body);

// message_id of a dispatch: "<process_id>.<attempt>".
std::string message_id(std::uint64_t process_id, std::uint32_t attempt);

}  // namespace tianyu::queues
