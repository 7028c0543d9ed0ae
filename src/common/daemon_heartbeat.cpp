#include "common/daemon_heartbeat.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/platform.h"

namespace tianyu::daemon_heartbeat {

Recorder::Recorder(Identity identity, std::chrono::seconds period)
    : identity_(std::move(identity)), host_(platform::host_name()), period_(period) {}

void Recorder::beat(db::Connection& c, const std::string& doing) noexcept {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_) return;
  next_ = now + period_;
  try {
    // started_at keeps its first value: only the live fields are refreshed.
    c.execute(
        "INSERT INTO daemon_heartbeat (daemon_id, kind, host, site, process_group, workers, "
        "heartbeat_s, doing) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE "
        "workers = VALUES(workers), heartbeat_s = VALUES(heartbeat_s), doing = VALUES(doing), "
        "last_heartbeat = NOW(6)",
        {identity_.daemon_id, identity_.kind, host_, identity_.site, identity_.group,
         std::int64_t{identity_.workers}, static_cast<std::int64_t>(period_.count()),
         doing.substr(0, 1024)});
    warned_ = false;
  } catch (const std::exception& e) {
    // An older schema (no table yet) or a lost connection: the work goes on; warn once a streak.
    if (!warned_) spdlog::warn("daemon heartbeat not recorded (retried next beat): {}", e.what());
    warned_ = true;
  }
}

void Recorder::stopped(db::Connection& c) noexcept {
  try {
    c.execute("UPDATE daemon_heartbeat SET doing = ?, last_heartbeat = NOW(6) WHERE daemon_id = ?",
              {std::string(kStopped), identity_.daemon_id});
  } catch (const std::exception& e) {
    spdlog::warn("daemon heartbeat: could not record the stop: {}", e.what());
  }
}

std::string describe_running(const std::vector<std::pair<std::uint64_t, std::uint32_t>>& attempts) {
  if (attempts.empty()) return "idle";
  std::string out = fmt::format("running {}:", attempts.size());
  std::size_t shown = 0;
  for (const auto& [process_id, attempt] : attempts) {
    if (shown++ == 20) return out + " ...";
    out += fmt::format("{} process {} attempt {}", shown == 1 ? "" : ",", process_id, attempt);
  }
  return out;
}

}  // namespace tianyu::daemon_heartbeat
