// Faults on purpose: the broker and the database restarted in the middle of a run, and a
// graceful stop. These restart the shared local servers, so ctest runs them serially.
#include <cstdlib>

#include "process/flow_fixture.h"

namespace tianyu {
namespace {

class ProcessFaults : public ProcessFlow {
 protected:
  std::vector<ProcessSpec> touches(int n, int sleep_ms) {
    std::vector<ProcessSpec> work;
    for (int i = 0; i < n; ++i) {
      auto p = spec(fmt::format("touch{}", i), "touch");
      p.params = {{"sleep_ms", sleep_ms}};
      p.max_attempts = 5;
      work.push_back(p);
    }
    return work;
  }
  void wait_for_successes(std::int64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (count("state = 'success'") < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_GE(count("state = 'success'"), n);
  }
  void restart(const std::string& server) {
    const std::string command = fmt::format("bash '{}/scripts/services.sh' restart {} > /dev/null",
                                            TIANYU_SOURCE_DIR, server);
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  // Once settled after `server` restarted: nothing lost, nothing doubled.
  void expect_complete(std::int64_t n) {
    // A fresh connection: the fixture's own session died with a database restart.
    c_ = std::make_unique<db::Connection>(scratch_->settings());
    ASSERT_TRUE(settle(60s)) << stuck_report() << count("state = 'success'") << " of " << n << " done";
    EXPECT_EQ(count("state = 'success'"), n);
    expect_touched_exactly_once(n);
  }
};

TEST_F(ProcessFaults, BrokerRestartMidRunLosesAndDoublesNothing) {
  publisher::publish(*c_, touches(400, 10), ids_);
  start("tianyu-manager");
  start("tianyu-consumer");
  start("tianyu-consumer");
  wait_for_successes(60);
  restart("rabbitmq");
  expect_complete(400);
}

TEST_F(ProcessFaults, DatabaseRestartMidRunLosesAndDoublesNothing) {
  publisher::publish(*c_, touches(400, 10), ids_);
  start("tianyu-manager");
  start("tianyu-consumer");
  start("tianyu-consumer");
  wait_for_successes(60);
  restart("mariadb");
  expect_complete(400);
}

TEST_F(ProcessFaults, GracefulStopFinishesTheStepsInProgress) {
  extra_env_["TIANYU_CONSUMER_LEASE_S"] = "30";  // a lease expiry would hide a lost step
  publisher::publish(*c_, touches(12, 400), ids_);
  start("tianyu-manager");
  auto& first = start("tianyu-consumer");
  wait_for_successes(2);
  EXPECT_EQ(first.stop(20), 0) << "SIGTERM must end the consumer cleanly";
  EXPECT_EQ(count("state = 'running'"), 0) << "steps in progress were finished, not abandoned";
  start("tianyu-consumer");
  ASSERT_TRUE(settle(60s)) << stuck_report();
  EXPECT_EQ(count("state = 'success'"), 12);
  EXPECT_EQ(count("attempt = 1"), 12) << "no step needed a second attempt";
  expect_touched_exactly_once(12);
}

}  // namespace
}  // namespace tianyu
