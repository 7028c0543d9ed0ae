#pragma once
// A scratch database, a site of its own (so its queues are its own), and the daemons as child
// processes: the fixture of the tests that run the whole process machinery.
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/fmt/fmt.h>

#include "common/broker.h"
#include "common/migrations.h"
#include "common/queues.h"
#include "publisher/publisher.h"
#include "support/daemon.h"
#include "support/live_services.h"

namespace tianyu {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using publisher::ProcessSpec;

class ProcessFlow : public ::testing::Test {
 protected:
  void SetUp() override {
    TIANYU_REQUIRE_LIVE_SERVICES();
    config_ = *test::live_config();
    scratch_ = std::make_unique<test::ScratchDatabase>(config_.db);
    db::migrate(scratch_->settings());
    c_ = std::make_unique<db::Connection>(scratch_->settings());
    site_ = test::unique_name("site");
    root_ = fs::temp_directory_path() / site_;
    fs::create_directories(root_);
    publisher::ensure_site(*c_, site_, root_.string());
    publisher::ensure_group(*c_, site_, "general");
    publisher::ensure_group(*c_, site_, "bigram");
  }
  void TearDown() override {
    daemons_.clear();
    if (!site_.empty() && test::live_config()) {
      try {
        broker::Connection b(broker::settings_from(config_.broker), "process_flow_test cleanup");
        for (const char* g : {"general", "bigram"}) b.delete_queue(queues::work_queue(site_, g));
      } catch (...) {
      }
    }
    if (!root_.empty() && !HasFailure()) fs::remove_all(root_);
  }

  std::map<std::string, std::string> env(const std::string& group) {
    return {{"TIANYU_DB_NAME", scratch_->name()},
            {"TIANYU_SITE", site_},
            {"TIANYU_GROUP", group},
            {"TIANYU_LOG_LEVEL", "warn"},
            {"TIANYU_CONSUMER_LEASE_S", "2"},
            {"TIANYU_CONSUMER_WORKERS", "2"},
            {"TIANYU_MANAGER_RETRY_BASE_MS", "100"},
            {"TIANYU_MANAGER_SWEEP_INTERVAL_MS", "200"}};
  }
  std::map<std::string, std::string> env_for(const std::string& group) {
    auto e = env(group);
    for (const auto& [k, v] : extra_env_) e[k] = v;
    return e;
  }
  test::Daemon& start(const std::string& exe, const std::string& group = "general") {
    const auto log = root_ / (exe + "." + std::to_string(daemons_.size()) + ".log");
    daemons_.push_back(std::make_unique<test::Daemon>(exe, std::vector<std::string>{}, env_for(group), log));
    return *daemons_.back();
  }
  ProcessSpec spec(std::string key, std::string command, std::vector<publisher::Dependency> deps = {},
                   std::string group = "general") {
    ProcessSpec p;
    p.key = std::move(key);
    p.command = std::move(command);
    p.site = site_;
    p.group = std::move(group);
    p.depends_on = std::move(deps);
    return p;
  }
  std::int64_t count(const std::string& where) {
    return c_->query_one("SELECT COUNT(*) FROM process WHERE " + where).i64(0);
  }
  // Waits until no process is in a non-final state; false on timeout.
  bool settle(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (count("state NOT IN ('success', 'failed', 'cancelled')") == 0) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  // What a failed settle leaves behind, for the failure message: the rows still in flight and
  // the tail of every daemon's log, so a CI log alone tells the story.
  std::string stuck_report() {
    std::string out;
    try {
      auto rows = c_->query(
          "SELECT process_id, state, attempt, COALESCE(CAST(published_at AS CHAR), '-'), "
          "COALESCE(lease_owner, '-'), COALESCE(CAST(lease_until AS CHAR), '-'), "
          "COALESCE(CAST(not_before AS CHAR), '-'), NOW(6) FROM process "
          "WHERE state NOT IN ('success', 'failed', 'cancelled') ORDER BY process_id LIMIT 10");
      for (const auto& r : rows) {
        out += fmt::format("\n  process {} state={} attempt={} published_at={} lease={} until {} "
                           "not_before={} now={}",
                           r.u64(0), r.str(1), r.i64(2), r.str(3), r.str(4), r.str(5), r.str(6), r.str(7));
      }
    } catch (const std::exception& e) {
      out += fmt::format("\n  (cannot list stuck processes: {})", e.what());
    }
    for (const auto& d : daemons_) {
      out += '\n';
      out += d->log_tail(40);
    }
    return out;
  }
  std::string state_of(std::uint64_t id) {
    return c_->query_one("SELECT state FROM process WHERE process_id = ?", {id}).str(0);
  }
  std::int64_t attempt_of(std::uint64_t id) {
    return c_->query_one("SELECT attempt FROM process WHERE process_id = ?", {id}).i64(0);
  }
  // Every touch process left exactly one row written once and one file.
  void expect_touched_exactly_once(std::int64_t expected) {
    const auto r = c_->query_one("SELECT COUNT(*), COALESCE(SUM(writes), 0), COALESCE(MAX(writes), 0) "
                                 "FROM touch_effect");
    EXPECT_EQ(r.i64(0), expected);
    EXPECT_EQ(r.i64(1), expected) << "a touch effect was committed twice";
    EXPECT_LE(r.i64(2), 1);
    std::int64_t files = 0;
    if (fs::exists(root_ / "touch")) {
      for (const auto& f : fs::directory_iterator(root_ / "touch")) {
        files += f.path().filename().string().front() != '.';
      }
    }
    EXPECT_EQ(files, expected);
  }

  Config config_;
  std::unique_ptr<test::ScratchDatabase> scratch_;
  std::unique_ptr<db::Connection> c_;
  std::string site_;
  fs::path root_;
  ProcessIdGenerator ids_;
  std::vector<std::unique_ptr<test::Daemon>> daemons_;
  std::map<std::string, std::string> extra_env_;
};

}  // namespace tianyu
