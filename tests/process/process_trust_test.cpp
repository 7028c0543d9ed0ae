// Trust and fencing: a consumer runs what the process ROW says, only for its own site and
// group, whatever a broker message claims; a worker that lost its lease stops; a database
// refusal of a step's results fails the attempt with the database's own words.
#include <fstream>
#include <sstream>

#include "common/process_store.h"
#include "process/flow_fixture.h"
#include "support/process_fixture_helpers.h"

namespace tianyu {
namespace {

class ProcessTrust : public ProcessFlow {
 protected:
  void queue_without_messages(const std::vector<std::uint64_t>& ids) { test::queue_without_messages(*c_, ids); }
  void forge(const std::string& group, const std::string& body) {
    test::forge_work_message(config_, site_, group, body, "process_trust_test forger");
  }
  bool wait_for(const std::string& where, std::int64_t n, std::chrono::seconds timeout) {
    return test::wait_until([&] { return count(where) == n; }, timeout);
  }
  std::string file_bytes(std::uint64_t id) {
    std::ifstream in(root_ / "touch" / std::to_string(id), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::int64_t effects_of(std::uint64_t id) {
    return c_->query_one("SELECT COUNT(*) FROM touch_effect WHERE process_id = ?", {id}).i64(0);
  }
};

TEST_F(ProcessTrust, ForgedCommandsAndParamsRunWhatTheRowSays) {
  auto fail_onto_noop = spec("fail_onto_noop", "noop");
  auto touch_onto_noop = spec("touch_onto_noop", "noop");
  auto fail_onto_touch = spec("fail_onto_touch", "touch");
  auto slow_params_onto_touch = spec("slow_params_onto_touch", "touch");
  auto wrong_attempt = spec("wrong_attempt", "touch");
  const auto id = publisher::publish(
      *c_, {fail_onto_noop, touch_onto_noop, fail_onto_touch, slow_params_onto_touch, wrong_attempt},
      ids_);
  std::vector<std::uint64_t> all;
  for (const auto& [key, pid] : id) all.push_back(pid);
  queue_without_messages(all);
  const auto forged = [&](const char* key, std::uint32_t attempt, const std::string& command,
                          const nlohmann::json& params) {
    return nlohmann::json{{"process_id", id.at(key)}, {"attempt", attempt}, {"command", command},
                          {"params", params}, {"site", site_}, {"group", "general"}}.dump();
  };
  forge("general", forged("fail_onto_noop", 1, "fail", {{"message", "forged"}}));
  forge("general", forged("touch_onto_noop", 1, "touch", nlohmann::json::object()));
  forge("general", forged("fail_onto_touch", 1, "fail", {{"message", "forged"}}));
  forge("general", forged("slow_params_onto_touch", 1, "touch", {{"sleep_ms", 600000}}));
  forge("general", nlohmann::json{{"process_id", id.at("wrong_attempt")}, {"attempt", 2}}.dump());
  start("tianyu-consumer");
  ASSERT_TRUE(wait_for("state = 'success'", 4, 30s)) << stuck_report();
  std::this_thread::sleep_for(1s);  // time for the wrong-attempt message to be (not) run
  EXPECT_EQ(count("state = 'success' AND error IS NULL AND attempt = 1"), 4) << "no forged fail ran";
  EXPECT_EQ(effects_of(id.at("touch_onto_noop")), 0) << "a forged touch ran on a noop";
  EXPECT_EQ(effects_of(id.at("fail_onto_touch")), 1) << "the row's touch ran";
  EXPECT_EQ(effects_of(id.at("slow_params_onto_touch")), 1) << "the row's params (no sleep) ran";
  EXPECT_EQ(state_of(id.at("wrong_attempt")), "queued") << "a message of another attempt ran";
  EXPECT_EQ(effects_of(id.at("wrong_attempt")), 0);
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM touch_effect").i64(0), 2);
}

TEST_F(ProcessTrust, AMessageForAnotherGroupsProcessRunsOnlyOnItsOwnGroup) {
  const auto id = publisher::publish(*c_, {spec("bigram_only", "touch", {}, "bigram")}, ids_)
                      .at("bigram_only");
  start("tianyu-manager");
  ASSERT_TRUE(wait_for("state = 'queued' AND published_at IS NOT NULL", 1, 20s)) << stuck_report();
  // The same (process, attempt) forged into the general queue: the general consumer's claim
  // is fenced by the row's group and takes nothing.
  forge("general", nlohmann::json{{"process_id", id}, {"attempt", 1}}.dump());
  start("tianyu-consumer", "general");
  broker::Connection b(broker::settings_from(config_.broker), "process_trust_test");
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (b.message_count(queues::work_queue(site_, "general")) > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(b.message_count(queues::work_queue(site_, "general")), 0u);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(state_of(id), "queued") << "the general consumer claimed a bigram process";
  EXPECT_EQ(effects_of(id), 0);
  auto& bigram = start("tianyu-consumer", "bigram");
  ASSERT_TRUE(settle(30s)) << stuck_report();
  EXPECT_EQ(state_of(id), "success");
  EXPECT_EQ(attempt_of(id), 1);
  const auto owner = c_->query_one("SELECT consumer_id FROM touch_effect WHERE process_id = ?", {id}).str(0);
  EXPECT_NE(owner.find(fmt::format("-{}-", bigram.pid())), std::string::npos) << owner;
}

TEST_F(ProcessTrust, ADatabaseRefusalOfTheResultsFailsWithTheRealError) {
  const auto id = publisher::publish(*c_, {spec("refused", "touch"), spec("child", "noop", {"refused"})},
                                     ids_);
  // The step's own row is refused by the database: a constraint no retry can satisfy.
  c_->execute(fmt::format("ALTER TABLE touch_effect ADD CONSTRAINT refuse_this_one "
                          "CHECK (process_id <> {})", id.at("refused")));
  start("tianyu-manager");
  start("tianyu-consumer");
  ASSERT_TRUE(settle(30s)) << stuck_report();
  EXPECT_EQ(state_of(id.at("refused")), "failed");
  EXPECT_EQ(attempt_of(id.at("refused")), 1) << "a refusal is not retried";
  EXPECT_EQ(state_of(id.at("child")), "cancelled");
  const auto status = publisher::status(*c_);
  ASSERT_EQ(status["failed"].size(), 1u);
  const auto error = status["failed"][0]["error"].get<std::string>();
  EXPECT_NE(error.find("the database refused the step's results"), std::string::npos) << error;
  EXPECT_NE(error.find("refuse_this_one"), std::string::npos) << error;
  EXPECT_EQ(error.find("lease"), std::string::npos) << error;
}

// A consumer stalled (SIGSTOP) past its lease mid-step while a second consumer runs and
// commits the next attempt; resumed (SIGCONT), the stalled worker must stop: the committed
// row and the product's bytes stay those of the committed attempt.
TEST_F(ProcessTrust, AWorkerThatLostItsLeaseChangesNothingCommitted) {
  auto p = spec("stalled", "touch");
  p.params = {{"sleep_ms", 1500}};
  p.max_attempts = 5;
  const auto id = publisher::publish(*c_, {p}, ids_).at("stalled");
  start("tianyu-manager");
  // One worker, so prefetch 1: the next attempt's message cannot be pushed to the stalled one.
  extra_env_["TIANYU_CONSUMER_WORKERS"] = "1";
  auto& stalled = start("tianyu-consumer");
  ASSERT_TRUE(wait_for(fmt::format("state = 'running' AND lease_owner LIKE '%-{}-%'", stalled.pid()), 1, 20s))
      << stuck_report();
  stalled.pause();
  auto& healthy = start("tianyu-consumer");
  ASSERT_TRUE(wait_for("state = 'success'", 1, 30s)) << stuck_report();
  const auto committed = c_->query_one(
      "SELECT attempt, consumer_id, writes FROM touch_effect WHERE process_id = ?", {id});
  const std::string bytes = file_bytes(id);
  EXPECT_EQ(committed.i64(0), 2);
  EXPECT_NE(committed.str(1).find(fmt::format("-{}-", healthy.pid())), std::string::npos);
  stalled.resume();
  std::this_thread::sleep_for(3s);  // the stalled step's sleep is long over: it ends now
  EXPECT_EQ(state_of(id), "success");
  EXPECT_EQ(attempt_of(id), 2);
  const auto after = c_->query_one(
      "SELECT attempt, consumer_id, writes FROM touch_effect WHERE process_id = ?", {id});
  EXPECT_EQ(after.i64(0), 2);
  EXPECT_EQ(after.str(1), committed.str(1));
  EXPECT_EQ(after.i64(2), 1) << "the stalled attempt committed its effect too";
  EXPECT_EQ(file_bytes(id), bytes) << "the stalled attempt replaced the committed product";
  EXPECT_EQ(stalled.stop(20), 0) << "the resumed consumer stops cleanly";
  expect_touched_exactly_once(1);
}

}  // namespace
}  // namespace tianyu
