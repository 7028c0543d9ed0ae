#pragma once
// The "who is alive" record of a manager or consumer (table daemon_heartbeat, schema 0009): one
// row per daemon instance, written on the daemon's existing heartbeat timer so an operator's
// page (tianyu-web) can show host, site, group, workers, what it runs now and when it last beat.
// A heartbeat must never stop the work: a failed write is logged and tried again next time.
#include <chrono>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/db.h"

namespace tianyu::daemon_heartbeat {

struct Identity {
  std::string kind;       // "manager" or "consumer"
  std::string daemon_id;  // cli::instance_id()
  std::string site;
  std::string group;      // empty for a manager (it serves every group)
  int workers = 1;
};

// What `doing` says of a daemon that stopped gracefully.
inline constexpr const char* kStopped = "stopped";

class Recorder {
 public:
  // Writes at most once per `period` (the first call writes at once).
  Recorder(Identity identity, std::chrono::seconds period);
  // Upserts the row when due; `doing` says what runs now. Never throws.
  void beat(db::Connection& c, const std::string& doing) noexcept;
  // On a graceful stop: the row says kStopped, so the pages show it stopped at once rather
  // than "alive" until its heartbeats are overdue. Never throws.
  void stopped(db::Connection& c) noexcept;

 private:
  Identity identity_;
  std::string host_;
  std::chrono::seconds period_;
  std::chrono::steady_clock::time_point next_{};
  bool warned_ = false;
};

// "running 2: process 12 attempt 1, process 40 attempt 2" (at most the first 20), or "idle".
std::string describe_running(const std::vector<std::pair<std::uint64_t, std::uint32_t>>& attempts);

}  // namespace tianyu::daemon_heartbeat
