// The alert outbox against the live MariaDB and RabbitMQ: an alert row written (as a step's
// success transaction writes it) is published by the relay as its VOEvent and its JSON twin on
// tianyu.alerts, marked published only then, and not published again; the same ivorn inserted
// twice is one row; an operations event goes to tianyu.operations and never to the science
// exchange.
#include <chrono>
#include <optional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/alerts.h"
#include "common/broker.h"
#include "common/migrations.h"
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
  // Every message of `queue` arriving within `ms`.
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
  const auto ivorn = std::string(alerts::kIvornBase) + "#single-o7-s45";
  EXPECT_TRUE(alerts::insert_alert(*c_, single_transit(ivorn)));
  EXPECT_FALSE(alerts::insert_alert(*c_, single_transit(ivorn)));  // a re-run raises no second alert
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM alert WHERE published_at IS NULL").i64(0), 1);

  broker::Connection relay(broker::settings_from(test::live_config()->broker), "alert-relay-test-relay");
  relay.enable_confirms();
  EXPECT_EQ(alerts::relay_unpublished(*c_, relay), 1);
  EXPECT_EQ(alerts::relay_unpublished(*c_, relay), 0);  // marked: not again
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM alert WHERE published_at IS NOT NULL").i64(0), 1);

  const auto got = drain(science_, 1500);
  ASSERT_EQ(got.size(), 2u);
  const auto row = c_->query_one("SELECT voevent, json FROM alert WHERE ivorn = ?", {ivorn});
  EXPECT_EQ(got[0].routing_key, "test.single_transit.voevent");
  EXPECT_EQ(got[0].message_id, ivorn);
  EXPECT_EQ(got[0].body, row.str(0));
  EXPECT_EQ(got[1].routing_key, "test.single_transit.json");
  EXPECT_EQ(nlohmann::json::parse(got[1].body), nlohmann::json::parse(row.str(1)));
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(got[1].body).at("ln_bayes_factor").get<double>(), 52.8);
  EXPECT_TRUE(drain(operations_, 300).empty());
}

TEST_F(AlertRelay, AnOperationsEventStaysOffTheScienceExchange) {
  alerts::publish_operations(*b_, "failed.photometry", {{"event", "process_failed"}, {"process_id", 12}});
  const auto ops = drain(operations_, 1000);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].routing_key, "failed.photometry");
  EXPECT_EQ(nlohmann::json::parse(ops[0].body).at("process_id"), 12);
  EXPECT_TRUE(drain(science_, 300).empty());
}

}  // namespace
}  // namespace tianyu
