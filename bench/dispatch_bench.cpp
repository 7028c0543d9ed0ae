// Dispatch benchmark (not a test): how fast processes go from published to success through
// the real manager and consumers, and what one DAG level costs. Baselines measured in the same
// run on the same servers: the broker's floor (confirmed persistent publish + consume + ack)
// and the database's floor (one guarded single-row UPDATE transaction), so the figures read as
// ratios rather than as absolute numbers of a noisy machine.
//
//   bench/run-dispatch.sh            (starts the local services, builds, runs this)
#include <chrono>
#include <iostream>

#include <nlohmann/json.hpp>

#include "process/flow_fixture.h"

namespace tianyu {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

class DispatchBench : public ProcessFlow {
 public:
  void TestBody() override {}
  void Prepare() { SetUp(); }
  void Finish() { TearDown(); }

  double broker_floor(int n) {
    broker::Connection pub(broker::settings_from(config_.broker), "bench publisher");
    broker::Connection sub(broker::settings_from(config_.broker), "bench consumer");
    queues::declare_work_queue(pub, site_, "bench");
    pub.enable_confirms();
    sub.consume(queues::work_queue(site_, "bench"), 100);
    const auto t = Clock::now();
    int received = 0;
    for (int sent = 0; sent < n;) {
      const int batch = std::min(500, n - sent);
      for (int i = 0; i < batch; ++i) pub.publish("", queues::work_queue(site_, "bench"), "{}");
      pub.wait_for_confirms(10s);
      sent += batch;
      while (received < sent) {
        auto d = sub.next_delivery(5s);
        if (!d) break;
        sub.ack(d->delivery_tag);
        ++received;
      }
    }
    const double rate = received / seconds_since(t);
    pub.delete_queue(queues::work_queue(site_, "bench"));
    return rate;
  }

  // One message at a time through a quorum work queue, as a chain link sees it: published
  // (persistent), delivered, acked; milliseconds per round trip.
  double broker_round_trip_ms(int n) {
    broker::Connection pub(broker::settings_from(config_.broker), "bench publisher");
    broker::Connection sub(broker::settings_from(config_.broker), "bench consumer");
    queues::declare_work_queue(pub, site_, "bench-rtt");
    const auto queue = queues::work_queue(site_, "bench-rtt");
    sub.consume(queue, 1);
    const auto t = Clock::now();
    for (int i = 0; i < n; ++i) {
      pub.publish("", queue, "{}");
      auto d = sub.next_delivery(5s);
      if (!d) throw Error("broker round trip: no delivery within 5 s");
      sub.ack(d->delivery_tag);
    }
    const double ms = 1000.0 * seconds_since(t) / n;
    pub.delete_queue(queue);
    return ms;
  }

  double database_floor(int n) {
    c_->execute("CREATE TABLE bench_row (id INT PRIMARY KEY, state VARCHAR(16), n INT) ENGINE=InnoDB");
    c_->execute("INSERT INTO bench_row VALUES (1, 'a', 0)");
    const auto t = Clock::now();
    for (int i = 0; i < n; ++i) {
      db::Transaction tx(*c_);
      c_->execute("UPDATE bench_row SET n = n + 1, state = ? WHERE id = 1 AND state = ?",
                  {std::string(i % 2 ? "a" : "b"), std::string(i % 2 ? "b" : "a")});
      tx.commit();
    }
    return n / seconds_since(t);
  }

  // Publishes `batch`, starts a manager and `consumers` consumers with `workers` worker threads
  // each, returns seconds from publishing to the last success.
  double run(const std::vector<ProcessSpec>& batch, int consumers, int workers = 2) {
    extra_env_["TIANYU_CONSUMER_WORKERS"] = std::to_string(workers);
    c_->execute("DELETE FROM process_dependency");
    c_->execute("DELETE FROM process");
    const auto t = Clock::now();
    publisher::publish(*c_, batch, ids_);
    start("tianyu-manager");
    for (int i = 0; i < consumers; ++i) start("tianyu-consumer");
    if (!settle(600s)) throw Error("benchmark run did not finish");
    const double elapsed = seconds_since(t);
    daemons_.clear();
    return elapsed;
  }

  // Milliseconds per link of a chain of `length` noops with one consumer, with the consumer
  // handing off the children its commit made ready, or leaving them to the manager.
  double chain_ms(int length, bool hand_off) {
    extra_env_["TIANYU_CONSUMER_HAND_OFF_CHILDREN"] = hand_off ? "1" : "0";
    const double ms = 1000.0 * run(chain(length), 1) / length;
    extra_env_.erase("TIANYU_CONSUMER_HAND_OFF_CHILDREN");
    return ms;
  }

  std::vector<ProcessSpec> independent(int n) {
    std::vector<ProcessSpec> out;
    for (int i = 0; i < n; ++i) out.push_back(spec(fmt::format("p{}", i), "noop"));
    return out;
  }
  std::vector<ProcessSpec> chain(int n) {
    std::vector<ProcessSpec> out;
    for (int i = 0; i < n; ++i) {
      std::vector<publisher::Dependency> deps;
      if (i > 0) deps.emplace_back(fmt::format("c{}", i - 1));
      out.push_back(spec(fmt::format("c{}", i), "noop", deps));
    }
    return out;
  }
};

}  // namespace
}  // namespace tianyu

int main() {
  using namespace tianyu;
  if (!test::live_config()) {
    std::cerr << "dispatch_bench: needs the local services (source run/env.sh)\n";
    return 2;
  }
  const int n = 5000, chain_length = 300;
  DispatchBench b;
  b.Prepare();
  const double broker = b.broker_floor(n);
  const double database = b.database_floor(n);
  const double round_trip_ms = b.broker_round_trip_ms(300);
  const double one = n / b.run(b.independent(n), 1);
  const double two = n / b.run(b.independent(n), 2);
  const double two_wide = n / b.run(b.independent(n), 2, 8);
  const double chain_manager_ms = b.chain_ms(chain_length, false);
  const double chain_ms = b.chain_ms(chain_length, true);
  b.Finish();

  const nlohmann::json out = {
      {"processes", n},
      {"baseline_broker_msgs_per_s", broker},
      {"baseline_db_guarded_tx_per_s", database},
      {"noop_per_s_1_consumer", one},
      {"noop_per_s_2_consumers", two},
      {"noop_per_s_2_consumers_8_workers", two_wide},
      {"ratio_1_consumer_to_db_floor", one / database},
      {"ratio_2_consumers_to_1", two / one},
      {"ratio_8_workers_to_2", two_wide / two},
      {"chain_overhead_ms_per_process", chain_ms},
      {"chain_overhead_ms_per_process_manager_dispatch", chain_manager_ms},
      {"ratio_hand_off_to_manager_dispatch", chain_ms / chain_manager_ms},
      {"baseline_broker_round_trip_ms", round_trip_ms},
      {"baseline_db_guarded_tx_ms", 1000.0 / database},
      // A chain link needs at least one broker round trip and two commits (start, success).
      {"chain_overhead_over_floor", chain_ms / (round_trip_ms + 2000.0 / database)},
      {"published_python_overhead_ms", 21.0},
      {"speedup_vs_published_overhead", 21.0 / chain_ms}};
  std::cout << out.dump(2) << "\n";
  return 0;
}
