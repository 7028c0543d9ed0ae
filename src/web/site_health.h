#pragma once
// The live side of the site: queues per (site, group) and the daemons that serve them.
// Ready messages come from the broker (an AMQP passive queue declare: no management plugin, no
// second port or account to secure, and the same client library the daemons use); what is
// queued or running, the consumers alive and the dead letters counted come from the database.
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "common/broker.h"
#include "common/config.h"
#include "common/db.h"

namespace tianyu::web {

// Asks the broker how many messages wait in each queue. One connection shared by every request
// (a broker connection is not thread-safe, so calls are serialised) and answers kept for
// `cache_for`: a page burst costs the broker one question per queue, not one per page.
class BrokerProbe {
 public:
  BrokerProbe(BrokerConfig config, std::chrono::milliseconds cache_for);
  ~BrokerProbe();
  // Ready messages in `queue`; nullopt when the queue does not exist or the broker is out of
  // reach (then `error` says which).
  std::optional<std::uint32_t> ready(const std::string& queue, std::string& error);

 private:
  struct Cached;
  BrokerConfig config_;
  std::chrono::milliseconds cache_for_;
  std::mutex mutex_;
  std::unique_ptr<broker::Connection> connection_;
  std::unique_ptr<Cached> cache_;
};

// {"queues": [{site, group, queue, ready, broker_error, queued, running, retry_wait, failed,
//   consumers, workers, dead_letters_dropped, resource_waiting, longest_resource_wait}],
//  "dead_letters": {queue, ready, broker_error}}
// resource_waiting: processes in retry_wait handed back for want of a resource (resource_waits
// > 0: no attempt spent, so they never fail and can wait forever when no consumer of the group
// can run them); longest_resource_wait: null, or {process_id, command, resource_waits, error}
// of the one with the most hand-backs in a row (ties: the lowest process_id).
nlohmann::json queues(db::Connection& c, BrokerProbe& probe);

// {"daemons": [{daemon_id, kind, host, site, group, workers, doing, started_at, last_heartbeat,
//   seconds_since, alive}]}: alive when it beat within three of its heartbeat periods and
//   did not say it stopped.
nlohmann::json daemons(db::Connection& c);

}  // namespace tianyu::web
