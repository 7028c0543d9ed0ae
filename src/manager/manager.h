#pragma once
// The manager: claims ready processes (FOR UPDATE SKIP LOCKED, so several managers can run),
// publishes them persistently with publisher confirms to their (site, group) queue, marks them
// published once confirmed (the process row is its own outbox), republishes what was never
// confirmed, gives expired leases to another attempt and releases due retries. A dispatch whose
// message vanished (dead-lettered after consumers kept handing it back, or purged) is noticed
// when it stays queued while its queue holds nothing: that attempt counts as failed. Consumers kick
// it through a fanout exchange when they make dependents ready, so a DAG level costs a message
// round trip rather than a poll interval. Restarted servers cost progress, never correctness.
// The manager also drains the overflow of the capped dead-letter queue (queues.h) and counts
// each dropped dead letter in the table dead_letter_overflow.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/alerts.h"
#include "common/broker.h"
#include "common/config.h"
#include "common/daemon_heartbeat.h"
#include "common/db.h"
#include "common/process_store.h"

namespace tianyu::manager {

class Manager {
 public:
  Manager(Config config, std::string manager_id);
  // Runs until a stop is requested (the counter leaves 0).
  void run(const std::atomic<int>& stop_requests);

 private:
  void ensure_connected();
  bool cycle();  // one claim/publish/relay/sweep round; true when there may be more work
  void publish(const std::vector<process::Dispatch>& batch);
  void settle_confirms(std::chrono::milliseconds timeout);
  // Waits for a kick; also counts the dead letters the capped dead-letter queue dropped.
  void wait_for_kick(std::chrono::milliseconds timeout);
  void count_dropped_dead_letters(const std::map<std::string, std::uint64_t>& dropped);
  void expire_lost_dispatches();

  Config config_;
  std::string id_;
  std::unique_ptr<db::Connection> db_;
  std::unique_ptr<broker::Connection> broker_;
  std::set<std::string> declared_queues_;
  // Publishes awaiting their confirm: sequence number -> (process, attempt). The claim loop
  // never blocks on them; the outbox relay covers any that never come.
  std::map<std::uint64_t, std::pair<std::uint64_t, std::uint32_t>> in_flight_;
  std::set<std::uint64_t> in_flight_processes_;
  std::chrono::steady_clock::time_point last_relay_{};
  std::chrono::steady_clock::time_point last_sweep_{};
  daemon_heartbeat::Recorder heartbeat_;
  // The alert outbox (alerts.h): its own broker connection; published on the relay round.
  std::unique_ptr<alerts::Relay> alert_relay_;  // the operators' "alive" record, beaten on the sweep
};

}  // namespace tianyu::manager
