#pragma once
// The dependents a step's success transaction queued (consumer.hand_off_children), published
// by the consumer's I/O thread right after the commit instead of waiting for a manager's
// claim: a chain link costs one broker hop instead of a kick, a claim transaction and a hop.
// The outbox rule is the manager's: a dispatch is marked published only once the broker has
// confirmed it, and the manager republishes any queued dispatch left unmarked (a consumer that
// died between commit and confirm, a lost connection), the consumer's fencing dropping a
// duplicate. Owned and called by the I/O thread only.
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/broker.h"
#include "common/config.h"
#include "common/db.h"
#include "common/process_store.h"

namespace tianyu::consumer {

class HandOffPublisher {
 public:
  explicit HandOffPublisher(const Config& config) : config_(config) {}

  // A new broker connection: confirms on, earlier sequence numbers void (their dispatches stay
  // unmarked and the manager republishes them).
  void connected(broker::Connection& broker);
  void publish(broker::Connection& broker, const std::vector<process::Dispatch>& dispatches);
  // Reads the confirms that have arrived (without waiting) and marks those dispatches published.
  void settle(broker::Connection& broker);

 private:
  void mark_published(const std::vector<process::AttemptKey>& confirmed);

  const Config& config_;
  std::map<std::uint64_t, process::AttemptKey> in_flight_;  // publish sequence -> dispatch
  std::set<std::string> declared_queues_;
  std::unique_ptr<db::Connection> db_;
};

}  // namespace tianyu::consumer
