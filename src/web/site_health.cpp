#include "web/site_health.h"

#include <map>

#include <spdlog/spdlog.h>

#include "common/daemon_heartbeat.h"
#include "common/queues.h"

namespace tianyu::web {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct BrokerProbe::Cached {
  std::map<std::string, std::pair<Clock::time_point, std::optional<std::uint32_t>>> ready;
};

BrokerProbe::BrokerProbe(BrokerConfig config, std::chrono::milliseconds cache_for)
    : config_(std::move(config)), cache_for_(cache_for), cache_(std::make_unique<Cached>()) {}
BrokerProbe::~BrokerProbe() = default;

std::optional<std::uint32_t> BrokerProbe::ready(const std::string& queue, std::string& error) {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  if (const auto it = cache_->ready.find(queue); it != cache_->ready.end() && now - it->second.first < cache_for_) {
    if (!it->second.second) error = "no such queue (or the broker was out of reach a moment ago)";
    return it->second.second;
  }
  std::optional<std::uint32_t> answer;
  try {
    if (!connection_) connection_ = std::make_unique<broker::Connection>(broker::settings_from(config_), "tianyu-web");
    answer = connection_->message_count(queue);
  } catch (const broker::BrokerError& e) {
    // A missing queue closes the channel; a lost broker the connection: start afresh next time.
    error = e.what();
    connection_.reset();
  } catch (const std::exception& e) {
    error = e.what();
    connection_.reset();
  }
  cache_->ready[queue] = {now, answer};
  return answer;
}

namespace {

// Processes per (site, group) and state, and the consumers alive per (site, group).
void add_database_counts(db::Connection& c, std::map<std::pair<std::string, std::string>, json>& rows) {
  for (const auto& r : c.query(
           "SELECT s.name, g.name, p.state, COUNT(*) FROM process p JOIN process_group g ON g.group_id = p.group_id "
           "JOIN site s ON s.site_id = g.site_id WHERE p.state IN ('queued', 'running', 'retry_wait', 'failed') "
           "GROUP BY s.name, g.name, p.state")) {
    rows[{r.str(0), r.str(1)}][r.str(2)] = r.i64(3);
  }
  for (const auto& r : c.query(
           "SELECT site, process_group, COUNT(*), SUM(workers) FROM daemon_heartbeat WHERE kind = 'consumer' "
           "AND doing <> ? AND last_heartbeat > NOW(6) - INTERVAL 3 * heartbeat_s SECOND GROUP BY site, process_group",
           {std::string(daemon_heartbeat::kStopped)})) {
    auto& row = rows[{r.str(0), r.str(1)}];
    row["consumers"] = r.i64(2);
    row["workers"] = r.i64(3);
  }
}

// Steps handed back for want of a resource (issue 17: a ResourceFailure returns a step to
// retry_wait without spending an attempt) per (site, group): how many, and the one handed back
// most times in a row (ties: the lowest id). Shown because such a step can wait forever with
// nothing failing, e.g. a step only some of the group's consumers can run. One query: the
// window functions count and rank within each group, so the page costs one round trip.
void add_resource_waits(db::Connection& c, std::map<std::pair<std::string, std::string>, json>& rows) {
  for (const auto& r : c.query(
           "SELECT s.name, g.name, w.waiting, w.process_id, w.command, w.resource_waits, w.error FROM "
           "(SELECT p.group_id, p.process_id, p.command, p.resource_waits, p.error, "
           "COUNT(*) OVER (PARTITION BY p.group_id) AS waiting, ROW_NUMBER() OVER "
           "(PARTITION BY p.group_id ORDER BY p.resource_waits DESC, p.process_id) AS rank_in_group "
           "FROM process p WHERE p.state = 'retry_wait' AND p.resource_waits > 0) w "
           "JOIN process_group g ON g.group_id = w.group_id JOIN site s ON s.site_id = g.site_id "
           "WHERE w.rank_in_group = 1")) {
    auto& row = rows[{r.str(0), r.str(1)}];
    row["resource_waiting"] = r.i64(2);
    row["longest_resource_wait"] = {{"process_id", r.u64(3)}, {"command", r.str(4)},
                                    {"resource_waits", r.i64(5)},
                                    {"error", r.is_null(6) ? json(nullptr) : json(r.str(6))}};
  }
}

}  // namespace

json queues(db::Connection& c, BrokerProbe& probe) {
  std::map<std::pair<std::string, std::string>, json> rows;
  for (const auto& r : c.query("SELECT s.name, g.name FROM process_group g JOIN site s ON s.site_id = g.site_id")) {
    rows[{r.str(0), r.str(1)}] = json::object();
  }
  add_database_counts(c, rows);
  add_resource_waits(c, rows);
  std::map<std::string, std::int64_t> dropped;
  for (const auto& r : c.query("SELECT source_queue, dropped FROM dead_letter_overflow")) dropped[r.str(0)] = r.i64(1);
  json list = json::array();
  for (auto& [key, row] : rows) {
    std::string queue, error;
    try {
      queue = queues::work_queue(key.first, key.second);
    } catch (const std::exception& e) {
      error = e.what();  // a name from before names were checked: shown, not queried
    }
    const auto ready = queue.empty() ? std::nullopt : probe.ready(queue, error);
    list.push_back({{"site", key.first}, {"group", key.second}, {"queue", queue},
                    {"ready", ready ? json(*ready) : json(nullptr)}, {"broker_error", error},
                    {"queued", row.value("queued", 0)}, {"running", row.value("running", 0)},
                    {"retry_wait", row.value("retry_wait", 0)}, {"failed", row.value("failed", 0)},
                    {"consumers", row.value("consumers", 0)}, {"workers", row.value("workers", 0)},
                    {"dead_letters_dropped", dropped.count(queue) ? dropped[queue] : 0},
                    {"resource_waiting", row.value("resource_waiting", 0)},
                    {"longest_resource_wait",
                     row.contains("longest_resource_wait") ? row["longest_resource_wait"] : json(nullptr)}});
  }
  std::string dl_error;
  const auto dl_ready = probe.ready(queues::kDeadLetterQueue, dl_error);
  return {{"queues", list},
          {"dead_letters", {{"queue", queues::kDeadLetterQueue},
                            {"ready", dl_ready ? json(*dl_ready) : json(nullptr)}, {"broker_error", dl_error}}}};
}

json daemons(db::Connection& c) {
  json list = json::array();
  for (const auto& r : c.query(
           "SELECT daemon_id, kind, host, site, process_group, workers, doing, "
           "DATE_FORMAT(started_at, '%Y-%m-%d %H:%i:%s'), DATE_FORMAT(last_heartbeat, '%Y-%m-%d %H:%i:%s'), "
           "TIMESTAMPDIFF(MICROSECOND, last_heartbeat, NOW(6)) / 1e6, heartbeat_s FROM daemon_heartbeat "
           "ORDER BY last_heartbeat DESC LIMIT 500")) {
    const double since = r.f64(9);
    list.push_back({{"daemon_id", r.str(0)}, {"kind", r.str(1)}, {"host", r.str(2)}, {"site", r.str(3)},
                    {"group", r.str(4)}, {"workers", r.i64(5)}, {"doing", r.str(6)},
                    {"started_at", r.str(7)}, {"last_heartbeat", r.str(8)}, {"seconds_since", since},
                    {"alive", r.str(6) != daemon_heartbeat::kStopped && since <= 3.0 * static_cast<double>(r.i64(10))}});
  }
  return {{"daemons", list}};
}

}  // namespace tianyu::web
