// The three daemons as separate processes against the live MariaDB and RabbitMQ: a large DAG,
// a consumer killed mid-step, two managers, retries, cancellation, dead letters.
#include "process/flow_fixture.h"

namespace tianyu {
namespace {

TEST_F(ProcessFlow, LargeDagRunsInDependencyOrderWithExactlyOnceEffects) {
  std::vector<ProcessSpec> dag;
  auto group_of = [](std::size_t i) { return i % 2 ? std::string("bigram") : std::string("general"); };
  for (int c = 0; c < 10; ++c) {  // 10 chains of 50
    for (int i = 0; i < 50; ++i) {
      const std::string key = "chain" + std::to_string(c) + "." + std::to_string(i);
      std::vector<publisher::Dependency> deps;
      if (i > 0) deps.emplace_back("chain" + std::to_string(c) + "." + std::to_string(i - 1));
      dag.push_back(spec(key, "touch", deps, group_of(c + i)));
    }
  }
  for (int d = 0; d < 100; ++d) {  // 100 diamonds
    const std::string k = "diamond" + std::to_string(d);
    dag.push_back(spec(k + ".top", "touch"));
    dag.push_back(spec(k + ".left", "touch", {k + ".top"}, "bigram"));
    dag.push_back(spec(k + ".right", "touch", {k + ".top"}));
    dag.push_back(spec(k + ".bottom", "touch", {k + ".left", k + ".right"}));
  }
  dag.push_back(spec("fan.root", "touch"));  // fan-out of 100 into a fan-in of 100
  std::vector<publisher::Dependency> fan_in;
  for (int i = 0; i < 100; ++i) {
    dag.push_back(spec("fan." + std::to_string(i), "touch", {"fan.root"}, group_of(i)));
    fan_in.emplace_back("fan." + std::to_string(i));
  }
  dag.push_back(spec("fan.sink", "touch", fan_in));
  for (int i = 0; i < 1000; ++i) dag.push_back(spec("free" + std::to_string(i), "touch", {}, group_of(i)));
  ASSERT_GE(dag.size(), 2000u);
  const auto ids = publisher::publish(*c_, dag, ids_);

  start("tianyu-manager");
  start("tianyu-consumer", "general");
  start("tianyu-consumer", "general");
  start("tianyu-consumer", "bigram");
  ASSERT_TRUE(settle(240s)) << stuck_report() << count("state = 'success'") << " of " << dag.size() << " done";

  EXPECT_EQ(count("state = 'success'"), static_cast<std::int64_t>(dag.size()));
  const auto early = c_->query_one(
      "SELECT COUNT(*) FROM process_dependency d JOIN process child ON child.process_id = d.process_id "
      "JOIN process parent ON parent.process_id = d.depends_on_id "
      "WHERE child.started_at < parent.finished_at");
  EXPECT_EQ(early.i64(0), 0) << "a process started before one of its dependencies finished";
  EXPECT_GT(c_->query_one("SELECT COUNT(*) FROM process_dependency").i64(0), 1000);
  expect_touched_exactly_once(static_cast<std::int64_t>(dag.size()));
  // Each group's consumers ran only their own group's processes.
  const auto wrong = c_->query_one(
      "SELECT COUNT(*) FROM touch_effect t JOIN process p ON p.process_id = t.process_id "
      "JOIN process_group g ON g.group_id = p.group_id WHERE g.name = 'bigram' AND "
      "t.consumer_id NOT IN (SELECT DISTINCT consumer_id FROM touch_effect t2 JOIN process p2 "
      "ON p2.process_id = t2.process_id JOIN process_group g2 ON g2.group_id = p2.group_id "
      "WHERE g2.name = 'bigram')");
  EXPECT_EQ(wrong.i64(0), 0);
  EXPECT_EQ(c_->query_one("SELECT COUNT(DISTINCT t.consumer_id) FROM touch_effect t JOIN process p "
                          "ON p.process_id = t.process_id JOIN process_group g ON "
                          "g.group_id = p.group_id WHERE g.name = 'bigram'").i64(0), 1)
      << "one consumer serves the bigram group";
  (void)ids;
}

// A chain within one group runs on in the worker whose commit made each link ready: the
// manager dispatches the first link only, every later one is queued and claimed by the success
// transaction of the link before it (consumer.continue_chains); the same chain with the hand-off
// off goes through the manager link by link. Either way each link runs once, in order.
TEST_F(ProcessFlow, AChainRunsOnInTheConsumerThatMadeEachLinkReady) {
  constexpr int kLinks = 40;
  for (const bool hand_off : {true, false}) {
    c_->execute("DELETE FROM touch_effect");
    fs::remove_all(root_ / "touch");
    c_->execute("DELETE FROM process_dependency");
    c_->execute("DELETE FROM process");
    std::vector<ProcessSpec> chain;
    for (int i = 0; i < kLinks; ++i) {
      std::vector<publisher::Dependency> deps;
      if (i > 0) deps.emplace_back("link" + std::to_string(i - 1));
      chain.push_back(spec("link" + std::to_string(i), "touch", deps));
    }
    publisher::publish(*c_, chain, ids_);
    extra_env_["TIANYU_CONSUMER_HAND_OFF_CHILDREN"] = hand_off ? "1" : "0";
    start("tianyu-manager");
    start("tianyu-consumer");
    ASSERT_TRUE(settle(120s)) << stuck_report();
    daemons_.clear();
    EXPECT_EQ(count("state = 'success' AND attempt = 1"), kLinks) << "hand-off " << hand_off;
    expect_touched_exactly_once(kLinks);
    const auto by_consumer = c_->query_one(
        "SELECT COUNT(*) FROM dispatch_log l JOIN process p ON p.process_id = l.process_id "
        "WHERE l.manager_id IN (SELECT consumer_id FROM touch_effect)").i64(0);
    EXPECT_EQ(by_consumer, hand_off ? kLinks - 1 : 0) << "links dispatched by the consumer, hand-off " << hand_off;
    EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM dispatch_log l JOIN process p ON p.process_id = l.process_id")
                  .i64(0), kLinks);
    const auto early = c_->query_one(
        "SELECT COUNT(*) FROM process_dependency d JOIN process child ON child.process_id = d.process_id "
        "JOIN process parent ON parent.process_id = d.depends_on_id WHERE child.started_at < parent.finished_at");
    EXPECT_EQ(early.i64(0), 0);
  }
  extra_env_.erase("TIANYU_CONSUMER_HAND_OFF_CHILDREN");
}

TEST_F(ProcessFlow, AConsumerKilledMidStepLosesNothingAndDoublesNothing) {
  std::vector<ProcessSpec> work;
  for (int i = 0; i < 40; ++i) {
    auto p = spec("slow" + std::to_string(i), "touch");
    p.params = {{"sleep_ms", 250}};
    work.push_back(p);
  }
  publisher::publish(*c_, work, ids_);
  start("tianyu-manager");
  auto& victim = start("tianyu-consumer");
  start("tianyu-consumer");
  // Kill once the victim holds a running lease (consumer ids carry the pid): it dies mid-step.
  const std::string victim_lease = fmt::format("lease_owner LIKE '%-{}-%' AND state = 'running'",
                                               victim.pid());
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while ((count("state = 'success'") < 4 || count(victim_lease) == 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_GT(count(victim_lease), 0) << "the victim never ran a step";
  victim.kill_hard();
  ASSERT_TRUE(settle(90s)) << stuck_report();
  EXPECT_EQ(count("state = 'success'"), 40);
  expect_touched_exactly_once(40);
  EXPECT_GE(count("attempt >= 2"), 1) << "the killed consumer's running steps ran again";
}

TEST_F(ProcessFlow, TwoManagersNeverDispatchTheSameAttemptTwice) {
  std::vector<ProcessSpec> work;
  for (int i = 0; i < 1000; ++i) work.push_back(spec(fmt::format("noop{}", i), "noop"));
  publisher::publish(*c_, work, ids_);
  start("tianyu-manager");
  start("tianyu-manager");
  start("tianyu-consumer");
  start("tianyu-consumer");
  ASSERT_TRUE(settle(120s)) << stuck_report();
  EXPECT_EQ(count("state = 'success'"), 1000);
  EXPECT_EQ(count("attempt = 1"), 1000) << "every process ran on its first dispatch";
  // dispatch_log's key is (process_id, attempt): one row per process means one dispatch each.
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM dispatch_log").i64(0), 1000);
}

TEST_F(ProcessFlow, APurgedQueueCostsAnAttemptNotAProcess) {
  extra_env_["TIANYU_MANAGER_LOST_DISPATCH_S"] = "1";
  std::vector<ProcessSpec> work;
  for (int i = 0; i < 6; ++i) work.push_back(spec(fmt::format("touch{}", i), "touch"));
  work.push_back(spec("after", "touch", {"touch0", "touch5"}));
  publisher::publish(*c_, work, ids_);
  start("tianyu-manager");
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (count("state = 'queued' AND published_at IS NOT NULL") < 6 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(count("state = 'queued' AND published_at IS NOT NULL"), 6);
  // Every message vanishes (an operator's purge; a dead-lettering looks the same to the rows).
  broker::Connection b(broker::settings_from(config_.broker), "process_flow_test purge");
  ASSERT_EQ(b.purge_queue(queues::work_queue(site_, "general")), 6u);
  start("tianyu-consumer");
  ASSERT_TRUE(settle(60s)) << stuck_report();
  EXPECT_EQ(count("state = 'success'"), 7);
  EXPECT_EQ(count("attempt = 2"), 6) << "each lost message cost exactly one attempt";
  EXPECT_EQ(count("error LIKE '%message of attempt 1 was lost%'"), 0) << "a success clears the error";
  expect_touched_exactly_once(7);
}

TEST_F(ProcessFlow, RetriesCancellationAndOperatorRetry) {
  auto recovers = spec("recovers", "flaky");
  recovers.params = {{"failures", 2}};
  recovers.max_attempts = 3;
  auto gives_up = spec("gives_up", "flaky");
  gives_up.params = {{"failures", 2}};
  gives_up.max_attempts = 2;
  auto broken = spec("broken", "fail");
  broken.params = {{"message", "bias frame 17 is truncated"}};
  broken.max_attempts = 2;
  const auto id = publisher::publish(
      *c_,
      {recovers, gives_up, spec("child", "noop", {"gives_up"}), spec("grandchild", "touch", {"child"}),
       broken, spec("after_broken", "noop", {"broken"})},
      ids_);
  start("tianyu-manager");
  start("tianyu-consumer");
  ASSERT_TRUE(settle(60s)) << stuck_report();
  EXPECT_EQ(state_of(id.at("recovers")), "success");
  EXPECT_EQ(attempt_of(id.at("recovers")), 3);
  EXPECT_EQ(state_of(id.at("gives_up")), "failed");
  EXPECT_EQ(attempt_of(id.at("gives_up")), 2);
  EXPECT_EQ(state_of(id.at("child")), "cancelled");
  EXPECT_EQ(state_of(id.at("grandchild")), "cancelled");
  EXPECT_EQ(state_of(id.at("broken")), "failed");
  EXPECT_EQ(c_->query_one("SELECT error FROM process WHERE process_id = ?", {id.at("broken")}).str(0),
            "bias frame 17 is truncated");
  EXPECT_EQ(state_of(id.at("after_broken")), "cancelled");
  const auto status = publisher::status(*c_);
  EXPECT_EQ(status["counts"]["failed"], 2);
  EXPECT_EQ(status["counts"]["cancelled"], 3);
  EXPECT_EQ(status["failed"].size(), 2u);

  // The operator retries: a fresh budget (flaky fails only its first two attempts), and the
  // dependents its failure cancelled come back; the other failure's dependent stays cancelled.
  EXPECT_EQ(publisher::retry(*c_, id.at("gives_up")), 2);
  ASSERT_TRUE(settle(60s)) << stuck_report();
  EXPECT_EQ(state_of(id.at("gives_up")), "success");
  EXPECT_EQ(attempt_of(id.at("gives_up")), 3);
  EXPECT_EQ(state_of(id.at("child")), "success");
  EXPECT_EQ(state_of(id.at("grandchild")), "success");
  EXPECT_EQ(state_of(id.at("after_broken")), "cancelled");
  EXPECT_THROW(publisher::retry(*c_, id.at("recovers")), InputError) << "only failed processes";
}

TEST_F(ProcessFlow, UnknownCommandsAndGarbageAreFailedAndDeadLettered) {
  // The publisher refuses an unknown command (src/steps); a row written by another tool, or
  // by a newer publisher than this consumer, can still name one.
  EXPECT_THROW(publisher::publish(*c_, {spec("mystery", "calibrate_with_magic")}, ids_), InputError);
  const auto id = publisher::publish(*c_, {spec("mystery", "noop")}, ids_);
  c_->execute("UPDATE process SET command = 'calibrate_with_magic' WHERE process_id = ?", {id.at("mystery")});
  broker::Connection b(broker::settings_from(config_.broker), "process_flow_test");
  queues::declare_work_queue(b, site_, "general");
  b.enable_confirms();
  const std::string garbage = "{ this is not a process message " + site_;
  b.publish("", queues::work_queue(site_, "general"), garbage, {});
  ASSERT_EQ(b.wait_for_confirms(5s).acked.size(), 1u);
  start("tianyu-manager");
  start("tianyu-consumer");
  ASSERT_TRUE(settle(30s)) << stuck_report();
  EXPECT_EQ(state_of(id.at("mystery")), "failed");
  const auto error =
      c_->query_one("SELECT error FROM process WHERE process_id = ?", {id.at("mystery")}).str(0);
  EXPECT_NE(error.find("unknown command 'calibrate_with_magic'"), std::string::npos) << error;
  EXPECT_EQ(attempt_of(id.at("mystery")), 1) << "an unknown command is not retried";

  // Both messages are in the dead-letter queue. Other tests' dead letters are held unacked and
  // go back when this connection closes: rejecting each at once would requeue it at the head,
  // and a backlog of more than one prefetch would hide ours behind them for ever.
  broker::Connection dead(broker::settings_from(config_.broker), "process_flow_test dead letters");
  dead.consume(queues::kDeadLetterQueue, 65535);
  bool saw_garbage = false, saw_mystery = false;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!(saw_garbage && saw_mystery) && std::chrono::steady_clock::now() < deadline) {
    auto d = dead.next_delivery(200ms);
    if (!d) continue;
    const bool ours = d->body == garbage || d->message_id == queues::message_id(id.at("mystery"), 1);
    saw_garbage = saw_garbage || d->body == garbage;
    saw_mystery = saw_mystery || d->message_id == queues::message_id(id.at("mystery"), 1);
    if (ours) dead.ack(d->delivery_tag);
  }
  EXPECT_TRUE(saw_garbage) << "the undecodable message was not dead-lettered";
  EXPECT_TRUE(saw_mystery) << "the unknown-command message was not dead-lettered";
}

}  // namespace
}  // namespace tianyu
