// The alert outbox against the live MariaDB and RabbitMQ: an alert row written (as a step's
// success transaction writes it) is published by the relay as its VOEvent and its JSON twin on
// tianyu.alerts, marked published only then, and not published again; the same ivorn inserted
// twice is one row; an operations event goes to tianyu.operations and never to the science
// exchange; `tianyu-publish alerts --follow` prints an alert published while it runs.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/alerts.h"
#include "common/broker.h"
#include "common/migrations.h"
#include "support/daemon.h"
#include "support/live_services.h"

namespace tianyu {
namespace {

using std::chrono::milliseconds;

alerts::Alert single_transit(const std::string& ivorn) {
  alerts::Alert a;
  a.kind = "single_transit";
  a.role = "test";
  a.ivorn = ivorn;
  a.observation_id = 7;
  a.source_id = 45;
  a.ra_deg = 31.0428;
  a.dec_deg = 46.6878;
  a.event_bjd_tdb = 2461056.1;
  a.event_utc = "2026-01-15T14:18:00.000Z";
  a.duration_d = 0.13;
  a.depth = 0.0295;
  a.depth_err = 0.0008;
  a.ln_bayes_factor = 52.8;
  a.summary = "test";
  return a;
}

class AlertRelay : public ::testing::Test {
 protected:
  void SetUp() override {
    TIANYU_REQUIRE_LIVE_SERVICES();
    db_ = std::make_unique<test::ScratchDatabase>(test::live_config()->db);
    db::migrate(db_->settings());
    c_ = std::make_unique<db::Connection>(db_->settings());
    b_ = std::make_unique<broker::Connection>(broker::settings_from(test::live_config()->broker), "alert-relay-test");
    alerts::declare_exchanges(*b_);
    for (auto* q : {&science_, &operations_}) *q = test::unique_name("alert_relay_test");
    broker::QueueOptions q;
    q.durable = false;  // read from a second connection, so not exclusive; deleted in TearDown
    b_->declare_queue(science_, q);
    b_->declare_queue(operations_, q);
    b_->bind_queue(science_, alerts::kAlertExchange, "#");
    b_->bind_queue(operations_, alerts::kOperationsExchange, "#");
  }
  void TearDown() override {
    if (!b_) return;
    for (const auto& q : {science_, operations_}) b_->delete_queue(q);
  }
  // Every message of `queue` arriving within `ms` (the exchanges are shared: tests running
  // beside this one may publish on them too, so callers pick their own by id or content).
  std::vector<broker::Delivery> drain(const std::string& queue, int ms) {
    broker::Connection reader(broker::settings_from(test::live_config()->broker), "alert-relay-test-reader");
    reader.consume(queue, 32);
    std::vector<broker::Delivery> out;
    const auto until = std::chrono::steady_clock::now() + milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
      if (auto d = reader.next_delivery(milliseconds(100))) {
        reader.ack(d->delivery_tag);
        out.push_back(*d);
      }
    }
    return out;
  }
  std::unique_ptr<test::ScratchDatabase> db_;
  std::unique_ptr<db::Connection> c_;
  std::unique_ptr<broker::Connection> b_;
  std::string science_, operations_;
};

TEST_F(AlertRelay, ACommittedRowIsPublishedOnceAsVoEventAndJson) {
  const auto ivorn = std::string(alerts::kIvornBase) + "#single-o7-s45-" + test::unique_name("once");
  EXPECT_TRUE(alerts::insert_alert(*c_, single_transit(ivorn)));
  EXPECT_FALSE(alerts::insert_alert(*c_, single_transit(ivorn)));  // a re-run raises no second alert
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM alert WHERE published_at IS NULL").i64(0), 1);

  broker::Connection relay(broker::settings_from(test::live_config()->broker), "alert-relay-test-relay");
  relay.enable_confirms();
  EXPECT_EQ(alerts::relay_unpublished(*c_, relay), 1);
  EXPECT_EQ(alerts::relay_unpublished(*c_, relay), 0);  // marked: not again
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM alert WHERE published_at IS NOT NULL").i64(0), 1);

  std::vector<broker::Delivery> got;
  for (auto& d : drain(science_, 1500)) {
    if (d.body.find(ivorn) != std::string::npos) got.push_back(std::move(d));
  }
  ASSERT_EQ(got.size(), 2u);
  const auto row = c_->query_one("SELECT voevent, json FROM alert WHERE ivorn = ?", {ivorn});
  EXPECT_EQ(got[0].routing_key, "test.single_transit.voevent");
  EXPECT_EQ(got[0].message_id, ivorn);
  EXPECT_EQ(got[0].body, row.str(0));
  EXPECT_EQ(got[1].routing_key, "test.single_transit.json");
  EXPECT_EQ(nlohmann::json::parse(got[1].body), nlohmann::json::parse(row.str(1)));
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(got[1].body).at("ln_bayes_factor").get<double>(), 52.8);
  for (const auto& d : drain(operations_, 300)) EXPECT_EQ(d.body.find(ivorn), std::string::npos) << d.body;
}

TEST_F(AlertRelay, AnOperationsEventStaysOffTheScienceExchange) {
  const auto marker = test::unique_name("ops");
  alerts::publish_operations(*b_, "failed.photometry",
                             {{"event", "process_failed"}, {"process_id", 12}, {"test_marker", marker}});
  std::vector<broker::Delivery> ops;
  for (auto& d : drain(operations_, 1000)) {
    if (d.body.find(marker) != std::string::npos) ops.push_back(std::move(d));
  }
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].routing_key, "failed.photometry");
  EXPECT_EQ(nlohmann::json::parse(ops[0].body).at("process_id"), 12);
  for (const auto& d : drain(science_, 300)) EXPECT_EQ(d.body.find(marker), std::string::npos) << d.body;
}

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), {}};
}

// `tianyu-publish alerts --follow` as an observer runs it, bounded (--count 1, --timeout 60):
// once it says it is following, an alert row is relayed; the JSON twin is what it prints, and
// it exits 0 after that one message.
TEST_F(AlertRelay, FollowPrintsAnAlertPublishedWhileItRuns) {
  const auto log = std::filesystem::temp_directory_path() / (test::unique_name("alerts_follow") + ".log");
  test::Daemon follow("tianyu-publish", {"alerts", "--follow", "--count", "1", "--timeout", "60"},
                      {{"TIANYU_DB_NAME", db_->name()}}, log);
  const auto started = std::chrono::steady_clock::now();
  while (read_all(log).find("following tianyu.alerts") == std::string::npos &&
         std::chrono::steady_clock::now() - started < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_NE(read_all(log).find("following tianyu.alerts"), std::string::npos) << follow.log_tail(20);
  const auto ivorn = std::string(alerts::kIvornBase) + "#single-o8-s46-" + test::unique_name("follow");
  ASSERT_TRUE(alerts::insert_alert(*c_, single_transit(ivorn)));
  broker::Connection relay(broker::settings_from(test::live_config()->broker), "alert-relay-test-relay");
  relay.enable_confirms();
  ASSERT_EQ(alerts::relay_unpublished(*c_, relay), 1);
  std::string printed;
  while (std::chrono::steady_clock::now() - started < std::chrono::seconds(60)) {
    printed = read_all(log);
    if (printed.find(ivorn) != std::string::npos) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  const auto at = printed.find("{\"");
  ASSERT_NE(at, std::string::npos) << printed;
  const auto line = printed.substr(at, printed.find('\n', at) - at);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j.at("ivorn"), ivorn);
  EXPECT_EQ(j.at("kind"), "single_transit");
  EXPECT_DOUBLE_EQ(j.at("ln_bayes_factor").get<double>(), 52.8);
  EXPECT_EQ(follow.wait_for_exit(30), 0) << "after its one message --count 1 ends it cleanly; " << follow.log_tail(20);
  std::filesystem::remove(log);
}

}  // namespace
}  // namespace tianyu
