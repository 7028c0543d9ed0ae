#include "consumer/consumer.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/broker.h"
#include "common/db.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/process_store.h"
#include "common/queues.h"

namespace tianyu::consumer {
namespace {

using namespace std::chrono;

struct WorkItem {
  std::uint64_t generation;  // which broker connection the delivery tag belongs to
  broker::Delivery delivery;
};

enum class Settle { ack, reject_to_dead_letters, requeue };

struct Outcome {
  std::uint64_t generation;
  std::uint64_t delivery_tag;
  Settle settle;
  bool kick;
};

// The hand-over between the I/O thread and the workers.
class Exchange {
 public:
  void push_work(WorkItem item) {
    {
      std::lock_guard lock(mutex_);
      work_.push_back(std::move(item));
    }
    work_ready_.notify_one();
  }
  std::optional<WorkItem> pop_work(const std::atomic<bool>& closing) {
    std::unique_lock lock(mutex_);
    work_ready_.wait_for(lock, milliseconds(200), [&] { return !work_.empty() || closing; });
    if (work_.empty()) return std::nullopt;
    WorkItem item = std::move(work_.front());
    work_.pop_front();
    ++busy_;
    return item;
  }
  void finish(Outcome outcome) {
    {
      std::lock_guard lock(mutex_);
      outcomes_.push_back(outcome);
      --busy_;
    }
    outcome_ready_.notify_one();
  }
  int in_flight() {
    std::lock_guard lock(mutex_);
    return busy_ + static_cast<int>(work_.size());
  }
  std::vector<Outcome> take_outcomes() {
    std::lock_guard lock(mutex_);
    std::vector<Outcome> out(outcomes_.begin(), outcomes_.end());
    outcomes_.clear();
    return out;
  }
  std::vector<WorkItem> take_unstarted() {
    std::lock_guard lock(mutex_);
    std::vector<WorkItem> out(std::make_move_iterator(work_.begin()),
                              std::make_move_iterator(work_.end()));
    work_.clear();
    return out;
  }
  bool idle() {
    std::lock_guard lock(mutex_);
    return busy_ == 0 && work_.empty() && outcomes_.empty();
  }
  // Wakes the I/O thread as soon as a worker finishes, instead of at its next poll.
  bool wait_for_outcome(milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return outcome_ready_.wait_for(lock, timeout, [&] { return !outcomes_.empty(); });
  }

 private:
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable outcome_ready_;
  std::deque<WorkItem> work_;
  std::deque<Outcome> outcomes_;
  int busy_ = 0;
};

// The attempts this consumer's workers run right now: its leases are renewed for these only,
// and a second delivery of one of them (a redelivery racing its own run) is dropped. A later
// attempt of the same process is a different job: it runs, and fences the earlier one out.
using AttemptKey = std::pair<std::uint64_t, std::uint32_t>;

class RunningSet {
 public:
  bool insert(AttemptKey key) {
    std::lock_guard lock(mutex_);
    return keys_.insert(key).second;
  }
  void erase(AttemptKey key) {
    std::lock_guard lock(mutex_);
    keys_.erase(key);
  }
  std::vector<std::uint64_t> process_ids() {
    std::lock_guard lock(mutex_);
    std::vector<std::uint64_t> ids;
    for (const auto& [id, attempt] : keys_) ids.push_back(id);
    return ids;
  }

 private:
  std::mutex mutex_;
  std::set<AttemptKey> keys_;
};

class Running {
 public:
  Running(RunningSet& set, AttemptKey key) : set_(set), id_(key), mine_(set.insert(key)) {}
  ~Running() {
    if (mine_) set_.erase(id_);
  }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;
  bool mine() const { return mine_; }

 private:
  RunningSet& set_;
  AttemptKey id_;
  bool mine_;
};

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

class Worker {
 public:
  Worker(const Config& config, const StepRegistry& registry, const std::string& id,
         const std::filesystem::path& site_root, RunningSet& running)
      : config_(config), registry_(registry), id_(id), site_root_(site_root), running_(running) {}

  // After an error the database connection may be dead: the next delivery opens a new one.
  void drop_connection() { db_.reset(); }

  Outcome handle(const WorkItem& item) {
    Outcome out{item.generation, item.delivery.delivery_tag, Settle::ack, false};
    if (!db_) db_ = std::make_unique<db::Connection>(db::settings_from(config_.db));
    queues::ProcessMessage m;
    try {
      m = queues::decode(item.delivery.body);
    } catch (const InputError& e) {
      const auto pid = queues::peek_process_id(item.delivery.body);
      spdlog::error("undecodable message '{}' (process {}): {}; dead-lettering it",
                    item.delivery.message_id, pid ? std::to_string(*pid) : "unknown", e.what());
      if (pid) process::fail_unrunnable(*db_, *pid, std::string("undecodable message: ") + e.what());
      out.settle = Settle::reject_to_dead_letters;
      return out;
    }
    const StepHandler* handler = registry_.find(m.command);
    if (!handler) {
      const std::string error = fmt::format("unknown command '{}' (this consumer runs: {})",
                                            m.command, joined(registry_.commands()));
      spdlog::error("process {}: {}; dead-lettering it", m.process_id, error);
      process::fail_unrunnable(*db_, m.process_id, error);
      out.settle = Settle::reject_to_dead_letters;
      return out;
    }
    const process::Claim claim{m.max_attempts, m.attempt_floor};
    const Running running(running_, {m.process_id, m.attempt});
    if (!running.mine()) {
      spdlog::debug("process {} attempt {} is already running here; dropping the second delivery",
                    m.process_id, m.attempt);
      return out;
    }
    if (!process::start(*db_, m.process_id, m.attempt, id_, config_.consumer.lease_s)) {
      spdlog::debug("process {} attempt {} is not ours to run (duplicate or stale); dropping",
                    m.process_id, m.attempt);
      return out;
    }
    StepContext ctx;
    ctx.process_id = m.process_id;
    ctx.attempt = m.attempt;
    ctx.command = m.command;
    ctx.params = std::move(m.params);
    ctx.site_root = site_root_;
    ctx.consumer_id = id_;
    ctx.db = db_.get();
    const StepLogScope log_scope(m.process_id, m.command);  // JSON log lines carry the step
    const auto started = steady_clock::now();
    try {
      (*handler)(ctx);
    } catch (const std::exception& e) {
      const bool permanent = dynamic_cast<const InputError*>(&e) != nullptr;
      spdlog::warn("process {} ({}) attempt {} failed{}: {}", m.process_id, m.command, m.attempt,
                   permanent ? " permanently" : "", e.what());
      process::finish_failure(*db_, m.process_id, m.attempt, id_, e.what(), permanent, claim);
      return out;
    }
    bool children_ready = false;
    const bool committed = process::finish_success(
        *db_, m.process_id, m.attempt, id_,
        [&](db::Connection& c) {
          for (const auto& write : ctx.writes) write(c);
        },
        &children_ready);
    if (!committed) {
      spdlog::warn("process {} attempt {}: lease lost before commit; results discarded",
                   m.process_id, m.attempt);
    } else {
      spdlog::info("process {} ({}) attempt {} succeeded in {} ms", m.process_id, m.command,
                    m.attempt, duration_cast<milliseconds>(steady_clock::now() - started).count());
    }
    out.kick = committed && children_ready;
    return out;
  }

 private:
  const Config& config_;
  const StepRegistry& registry_;
  const std::string& id_;
  std::filesystem::path site_root_;
  RunningSet& running_;
  std::unique_ptr<db::Connection> db_;
};

}  // namespace

std::filesystem::path resolve_site_root(const Config& config) {
  if (!config.consumer.site_root.empty()) return config.consumer.site_root;
  db::Connection c(db::settings_from(config.db));
  const auto rows = c.query("SELECT root_path FROM site WHERE name = ?", {config.site});
  if (rows.empty()) {
    throw ConfigError("site", fmt::format("site '{}' is not registered in database '{}' "
                                          "(tianyu-publish site add {} --root DIR)",
                                          config.site, config.db.name, config.site));
  }
  return rows.front().str(0);
}

Consumer::Consumer(Config config, StepRegistry registry, std::string consumer_id)
    : config_(std::move(config)), registry_(std::move(registry)), id_(std::move(consumer_id)) {}

void Consumer::run(const std::atomic<int>& stop_requests) {
  const auto site_root = resolve_site_root(config_);
  const int workers = config_.consumer.workers;
  const auto prefetch = static_cast<std::uint16_t>(
      config_.consumer.prefetch > 0 ? config_.consumer.prefetch : workers);
  const std::string queue = queues::work_queue(config_.site, config_.group);
  spdlog::info("consumer {} serving {} with {} workers (prefetch {}), site root {}", id_, queue,
               workers, prefetch, site_root.string());

  Exchange exchange;
  RunningSet running;
  std::atomic<bool> closing{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) {
    threads.emplace_back([&] {
      Worker worker(config_, registry_, id_, site_root, running);
      milliseconds hold(1000);
      while (!closing) {
        auto item = exchange.pop_work(closing);
        if (!item) continue;
        Outcome outcome{item->generation, item->delivery.delivery_tag, Settle::requeue, false};
        try {
          outcome = worker.handle(*item);
          hold = milliseconds(1000);
        } catch (const std::exception& e) {
          // The database stayed out of reach. Keep the delivery a while before handing it
          // back: requeued at once it would bounce between consumers and spend the broker's
          // delivery limit in seconds. The lease (if any) expires and the manager gives the
          // process another attempt.
          spdlog::error("returning delivery {} to the queue in {} ms: {}",
                        item->delivery.message_id, hold.count(), e.what());
          worker.drop_connection();
          for (auto until = steady_clock::now() + hold;
               steady_clock::now() < until && stop_requests == 0;) {
            std::this_thread::sleep_for(milliseconds(50));
          }
          hold = std::min(hold * 2, milliseconds(30000));
        }
        exchange.finish(outcome);
      }
    });
  }
  threads.emplace_back([&] {  // lease heartbeat
    std::unique_ptr<db::Connection> c;
    const auto period = milliseconds(config_.consumer.lease_s * 1000 / 3);
    auto next = steady_clock::now();
    while (!closing) {
      std::this_thread::sleep_for(milliseconds(50));
      if (steady_clock::now() < next) continue;
      next = steady_clock::now() + period;
      try {
        if (!c) c = std::make_unique<db::Connection>(db::settings_from(config_.db));
        process::renew_leases(*c, id_, config_.consumer.lease_s, running.process_ids());
      } catch (const std::exception& e) {
        spdlog::warn("lease heartbeat failed: {}", e.what());
        c.reset();
      }
    }
  });

  std::unique_ptr<broker::Connection> broker;
  std::uint64_t generation = 0;
  milliseconds backoff(200);
  bool draining = false;
  while (true) {
    try {
      if (!broker) {
        auto b = std::make_unique<broker::Connection>(broker::settings_from(config_.broker),
                                                      "tianyu-consumer " + id_);
        queues::declare_work_queue(*b, config_.site, config_.group);
        b->declare_exchange(queues::kKickExchange, "fanout");
        if (!draining) b->consume(queue, prefetch);
        broker = std::move(b);
        ++generation;  // delivery tags of an earlier connection are void now
        backoff = milliseconds(200);
      }
      if (stop_requests > 0 && !draining) {
        draining = true;
        spdlog::info("stopping: finishing the steps in progress");
        broker->cancel_consumers();
      }
      // With work in the workers' hands, wait on them (a finished step is acked and its kick
      // sent at once) and look at the socket between waits; with none, wait on the socket.
      // While all prefetched deliveries are taken no new one can arrive, so wait longer.
      const int in_flight = exchange.in_flight();
      if (in_flight > 0) exchange.wait_for_outcome(milliseconds(in_flight >= prefetch ? 200 : 2));
      auto d = broker->next_delivery(milliseconds(in_flight > 0 || draining ? 0 : 20));
      if (d) {
        if (draining) {
          broker->reject(d->delivery_tag, /*requeue=*/true);
        } else {
          exchange.push_work({generation, std::move(*d)});
        }
      }
      if (draining) {
        for (auto& item : exchange.take_unstarted()) {
          if (item.generation == generation) broker->reject(item.delivery.delivery_tag, true);
        }
      }
      bool kick = false;
      for (const auto& o : exchange.take_outcomes()) {
        kick = kick || o.kick;
        if (o.generation != generation) continue;  // the broker already requeued it
        switch (o.settle) {
          case Settle::ack: broker->ack(o.delivery_tag); break;
          case Settle::reject_to_dead_letters: broker->reject(o.delivery_tag, false); break;
          case Settle::requeue: broker->reject(o.delivery_tag, true); break;
        }
      }
      if (kick) {
        broker::PublishOptions ring;
        ring.persistent = false;
        ring.mandatory = false;
        broker->publish(queues::kKickExchange, "", "{}", ring);
      }
      if (draining && exchange.idle()) break;
    } catch (const broker::BrokerError& e) {
      spdlog::warn("broker: {}; reconnecting in {} ms", e.what(), backoff.count());
      broker.reset();
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, milliseconds(5000));
      if (draining && exchange.idle()) break;
    }
  }
  closing = true;
  for (auto& t : threads) t.join();
  spdlog::info("consumer {} stopped", id_);
}

}  // namespace tianyu::consumer
