#include "consumer/consumer.h"

#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/broker.h"
#include "common/daemon_heartbeat.h"
#include "common/db.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/process_store.h"
#include "common/queues.h"
#include "common/site_store.h"
#include "consumer/attempt_files.h"
#include "consumer/hand_off.h"
#include "consumer/work_hand_over.h"
#include "pipeline/failure.h"

namespace tianyu::consumer {
namespace {

using namespace std::chrono;

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

struct WorkerSetup {
  const Config& config;
  const StepRegistry& registry;
  const std::string& consumer_id;
  const store::SiteStore& store;
  RunningAttempts& running;
};

class Worker {
 public:
  explicit Worker(const WorkerSetup& setup) : s_(setup) {}

  // After an error the database connection may be dead: the next delivery opens a new one.
  void drop_connection() { db_.reset(); }

  Outcome handle(const WorkItem& item) {
    Outcome out{item.generation, item.delivery.delivery_tag, Settle::ack, false};
    if (!db_) db_ = std::make_unique<db::Connection>(db::settings_from(s_.config.db));
    const auto message = read_message(item.delivery, out);
    if (!message) return out;
    const RunningAttempt running(s_.running, {message->process_id, message->attempt});
    if (!running.first_delivery()) {
      spdlog::debug("process {} attempt {} is already running here; dropping the second delivery",
                    message->process_id, message->attempt);
      return out;
    }
    auto claimed = process::start(*db_, message->process_id, message->attempt, s_.consumer_id,
                                  s_.config.consumer.lease_s, s_.config.site, s_.config.group);
    if (!claimed) {
      spdlog::debug("process {} attempt {} is not ours to run (another site or group, a "
                    "duplicate or a stale attempt); dropping",
                    message->process_id, message->attempt);
      return out;
    }
    execute({message->process_id, message->attempt}, *claimed, running, out);
    return out;
  }

  // A chain goes on in this worker: the dependent of this consumer's own (site, group) that
  // `finished`'s success transaction claimed for it (running under its lease, as a delivery's
  // claim would leave it). No message is needed: the row is the work, and an attempt that dies
  // here is retried by its lease as any other.
  std::optional<std::pair<AttemptKey, process::ClaimedProcess>> claim_continuation(Outcome& finished) {
    if (!finished.continued) return std::nullopt;
    const auto d = std::move(*finished.continued);
    finished.continued.reset();
    return std::make_pair(AttemptKey{d.process_id, d.attempt},
                          process::ClaimedProcess{d.command, d.params, d.site, d.group,
                                                  {d.max_attempts, d.attempt_floor}});
  }

  // A stop came between the commit that claimed a continuation and its run: the claim goes
  // back to queued (the same attempt, never started) and the I/O thread publishes it.
  void release_continuation(Outcome& finished) {
    if (!finished.continued) return;
    const auto d = std::move(*finished.continued);
    finished.continued.reset();
    try {
      if (process::release_unstarted(*db_, d.process_id, d.attempt, s_.consumer_id)) finished.handed_off.push_back(d);
    } catch (const std::exception& e) {  // its lease expires and the manager retries it
      spdlog::warn("process {} attempt {}: cannot hand back the chain's next step: {}", d.process_id, d.attempt,
                   e.what());
    }
  }

  // Runs a continuation claimed above; its outcome settles no delivery.
  Outcome continue_with(const AttemptKey& key, const process::ClaimedProcess& claimed) {
    Outcome out{0, 0, Settle::none, false};
    const RunningAttempt running(s_.running, key);
    execute(key, claimed, running, out);
    return out;
  }

 private:
  void execute(const AttemptKey& key, const process::ClaimedProcess& claimed, const RunningAttempt& running,
               Outcome& out) {
    StepContext ctx;
    ctx.process_id = key.first;
    ctx.attempt = key.second;
    ctx.command = claimed.command;
    ctx.site_root = s_.store.root();
    ctx.store = &s_.store;
    ctx.consumer_id = s_.consumer_id;
    ctx.lease_lost = running.lease_lost();
    ctx.db = db_.get();
    const StepHandler* handler = runnable(ctx, claimed.params);
    if (!handler) {
      if (out.settle == Settle::ack) out.settle = Settle::reject_to_dead_letters;
      return;
    }
    out.kick = run(*handler, ctx, claimed.budget, out);
  }

  // The (process, attempt) a delivery names. A message that does not decode strictly goes to
  // the dead letters; when its (process, attempt) can still be read it is claimed by them,
  // fenced like any other, and runs what the row says (never the message's command or params).
  std::optional<queues::ProcessMessage> read_message(const broker::Delivery& d, Outcome& out) {
    try {
      return queues::decode(d.body);
    } catch (const InputError& e) {
      out.settle = Settle::reject_to_dead_letters;
      const auto named = queues::peek(d.body);
      spdlog::error("message '{}' does not decode: {}; dead-lettering it{}", d.message_id,
                    e.what(),
                    named ? fmt::format(" (process {} attempt {} runs as its row says, if it is "
                                        "ours)", named->process_id, named->attempt)
                          : std::string());
      return named;
    }
  }

  // The handler of the row's command with the row's params in `ctx`; null (the process failed
  // for good) when this consumer cannot run it.
  const StepHandler* runnable(StepContext& ctx, const std::string& params) {
    std::string error;
    const StepHandler* handler = s_.registry.find(ctx.command);
    if (!handler) {
      error = fmt::format("unknown command '{}' (this consumer runs: {})", ctx.command,
                          joined(s_.registry.commands()));
    } else {
      ctx.params = nlohmann::json::parse(params, nullptr, /*allow_exceptions=*/false);
      if (!ctx.params.is_object()) error = "the process's params are not a JSON object: " + params;
    }
    if (error.empty()) return handler;
    spdlog::error("process {}: {}; dead-lettering its message", ctx.process_id, error);
    process::fail_unrunnable(*db_, ctx.process_id, ctx.attempt, s_.consumer_id, error);
    return nullptr;
  }

  // Runs the step and records its end; true when dependents may have become ready that the
  // manager must dispatch (those in `handed_off` were queued by the commit itself).
  bool run(const StepHandler& handler, StepContext& ctx, const process::AttemptBudget& budget, Outcome& out) {
    const bool hand_off = s_.config.consumer.hand_off_children;
    process::HandOff handed;
    const process::ContinueHere here{s_.config.site, s_.config.group, s_.config.consumer.lease_s};
    const StepLogScope log_scope(ctx.process_id, ctx.command);  // JSON log lines carry the step
    AttemptFiles files(ctx);  // removed unless this attempt commits
    const auto started = steady_clock::now();
    try {
      handler(ctx);
      ctx.check_lease();  // a step that lost its lease never commits
    } catch (const LeaseLost& e) {
      spdlog::warn("{}: its results are discarded (the process is retried or already ran)",
                   e.what());
      return false;
    } catch (const std::exception& e) {
      record_failure(ctx, e.what(), !retry_can_help(e), budget, spends_attempt(e));
      return false;
    }
    const auto ran = steady_clock::now();
    bool children_ready = false;
    bool committed = false;
    try {
      committed = process::finish_success(
          *db_, ctx.process_id, ctx.attempt, s_.consumer_id,
          [&](db::Connection& c) {
            for (const auto& write : ctx.writes) write(c);
          },
          &children_ready, hand_off ? &handed : nullptr, s_.config.consumer.continue_chains ? &here : nullptr);
    } catch (const db::DbError& e) {
      // The database out of reach: the delivery goes back, the lease expires and the manager
      // gives the process another attempt. Any other refusal (a constraint, a bad value in the
      // step's rows) would be refused again: the attempt fails with the database's own words.
      if (e.retryable()) throw;
      record_failure(ctx, fmt::format("the database refused the step's results: {}", e.what()),
                     true, budget);
      return false;
    } catch (const std::exception& e) {
      record_failure(ctx, e.what(), !retry_can_help(e), budget, spends_attempt(e));
      return false;
    }
    out.handed_off = std::move(handed.queued);
    out.continued = std::move(handed.continued);
    if (!committed) {
      spdlog::warn("process {} attempt {}: lease lost before commit; results discarded",
                   ctx.process_id, ctx.attempt);
      return false;
    }
    files.keep();
    // The step and its commit apart: a slow night shows whether the work or the database is it.
    const auto finished = steady_clock::now();
    spdlog::info("process {} ({}) attempt {} succeeded in {} ms (step {} ms, commit {} ms)", ctx.process_id,
                 ctx.command, ctx.attempt, duration_cast<milliseconds>(finished - started).count(),
                 duration_cast<milliseconds>(ran - started).count(),
                 duration_cast<milliseconds>(finished - ran).count());
    return children_ready;
  }

  void record_failure(const StepContext& ctx, const std::string& error, bool permanent,
                      const process::AttemptBudget& budget, bool spends_attempt = true) {
    spdlog::warn("process {} ({}) attempt {} failed{}: {}", ctx.process_id, ctx.command,
                 ctx.attempt, permanent ? " permanently" : "", error);
    if (!process::finish_failure(*db_, ctx.process_id, ctx.attempt, s_.consumer_id, error,
                                 permanent, budget, spends_attempt)) {
      spdlog::warn("process {} attempt {}: lease lost before its failure was recorded",
                   ctx.process_id, ctx.attempt);
    }
  }

  WorkerSetup s_;
  std::unique_ptr<db::Connection> db_;
};

// The chain `outcome`'s step made ready, run link by link in this worker while no stop is
// asked; each finished link's outcome goes to the I/O thread at once (its other dependents are
// published without waiting for the chain), the last one is left in `outcome`.
void continue_chain(Worker& worker, DeliveryHandOver& hand_over, Outcome& outcome,
                    const std::atomic<int>& stop_requests) {
  while (true) {
    if (stop_requests > 0) return worker.release_continuation(outcome);
    auto next = worker.claim_continuation(outcome);
    if (!next) return;
    hand_over.report(std::move(outcome));
    outcome = Outcome{0, 0, Settle::none, false};  // a lost database leaves the lease to expire
    outcome = worker.continue_with(next->first, next->second);
  }
}

// One worker thread: takes deliveries until the consumer closes.
void work(const WorkerSetup& setup, DeliveryHandOver& hand_over, const std::atomic<bool>& closing,
          const std::atomic<int>& stop_requests) {
  Worker worker(setup);
  milliseconds hold(1000);
  while (!closing) {
    auto item = hand_over.pop_work(closing);
    if (!item) continue;
    Outcome outcome{item->generation, item->delivery.delivery_tag, Settle::requeue, false};
    try {
      outcome = worker.handle(*item);
      hold = milliseconds(1000);
      continue_chain(worker, hand_over, outcome, stop_requests);
    } catch (const std::exception& e) {
      // The database stayed out of reach. Keep the delivery a while before handing it back:
      // requeued at once it would bounce between consumers and spend the broker's delivery
      // limit in seconds. The lease (if any) expires and the manager gives the process
      // another attempt.
      spdlog::error("returning delivery {} to the queue in {} ms: {}", item->delivery.message_id,
                    hold.count(), e.what());
      worker.drop_connection();
      for (auto until = steady_clock::now() + hold;
           steady_clock::now() < until && stop_requests == 0;) {
        std::this_thread::sleep_for(milliseconds(50));
      }
      hold = std::min(hold * 2, milliseconds(30000));
    }
    hand_over.finish(outcome);
  }
}

// The lease heartbeat: renews the running attempts' leases every third of a lease and stops
// the steps whose lease is lost (or could not be renewed in time).
void renew_leases(const Config& config, const std::string& consumer_id, RunningAttempts& running,
                  const std::atomic<bool>& closing) {
  std::unique_ptr<db::Connection> c;
  const seconds lease(config.consumer.lease_s);
  const auto period = milliseconds(config.consumer.lease_s * 1000 / 3);
  auto next = steady_clock::now();
  // The operators' "alive" record rides on the same timer (tianyu-web shows it).
  daemon_heartbeat::Recorder heartbeat(
      {"consumer", consumer_id, config.site, config.group, config.consumer.workers},
      std::max(seconds(1), duration_cast<seconds>(period)));
  while (!closing) {
    std::this_thread::sleep_for(milliseconds(50));
    running.expire_unrenewed(lease);
    if (steady_clock::now() < next) continue;
    next = steady_clock::now() + period;
    try {
      if (!c) c = std::make_unique<db::Connection>(db::settings_from(config.db));
      const auto asked = steady_clock::now();
      running.apply(process::renew_leases(*c, consumer_id, config.consumer.lease_s, running.keys()),
                    asked);
      heartbeat.beat(*c, daemon_heartbeat::describe_running(running.keys()));
    } catch (const std::exception& e) {
      spdlog::warn("lease heartbeat failed: {}", e.what());
      c.reset();
    }
  }
  if (c) heartbeat.stopped(*c);
}

// The I/O thread: owns the broker connection, hands deliveries to the workers, and acks,
// rejects and kicks for them.
class BrokerLoop {
 public:
  BrokerLoop(const Config& config, const std::string& consumer_id, std::uint16_t prefetch,
             DeliveryHandOver& hand_over)
      : config_(config), id_(consumer_id), queue_(queues::work_queue(config.site, config.group)),
        prefetch_(prefetch), hand_over_(hand_over), hand_off_(config) {}

  // Until a stop is requested and every step in progress has ended.
  void run(const std::atomic<int>& stop_requests) {
    milliseconds backoff(200);
    while (true) {
      try {
        if (!broker_) {
          connect();
          backoff = milliseconds(200);
        }
        if (stop_requests > 0 && !draining_) {
          draining_ = true;
          spdlog::info("stopping: finishing the steps in progress");
          broker_->cancel_consumers();
        }
        pass();
        if (draining_ && hand_over_.idle()) return;
      } catch (const broker::BrokerError& e) {
        spdlog::warn("broker: {}; reconnecting in {} ms", e.what(), backoff.count());
        broker_.reset();
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, milliseconds(5000));
        if (draining_ && hand_over_.idle()) return;
      }
    }
  }

 private:
  void connect() {
    auto b = std::make_unique<broker::Connection>(broker::settings_from(config_.broker),
                                                  "tianyu-consumer " + id_);
    queues::declare_work_queue(*b, config_.site, config_.group);
    queues::retire_uncapped_dead_letters(*b);  // before consuming: it may re-open the channel
    b->declare_exchange(queues::kKickExchange, "fanout");
    if (!draining_) b->consume(queue_, prefetch_);
    if (config_.consumer.hand_off_children) hand_off_.connected(*b);
    broker_ = std::move(b);
    ++generation_;  // delivery tags of an earlier connection are void now
  }

  // One round: take a delivery (or hand it back when draining), settle finished work, kick.
  void pass() {
    // With work in the workers' hands, wait on them (a finished step is acked and its kick
    // sent at once) and look at the socket between waits; with none, wait on the socket.
    // While all prefetched deliveries are taken no new one can arrive, so wait longer.
    const int in_flight = hand_over_.in_flight();
    if (in_flight > 0) hand_over_.wait_for_outcome(milliseconds(in_flight >= prefetch_ ? 200 : 2));
    auto d = broker_->next_delivery(milliseconds(in_flight > 0 || draining_ ? 0 : 20));
    if (d) {
      if (draining_) {
        broker_->reject(d->delivery_tag, /*requeue=*/true);
      } else {
        hand_over_.push_work({generation_, std::move(*d)});
      }
    }
    if (draining_) {
      for (auto& item : hand_over_.take_unstarted()) {
        if (item.generation == generation_) broker_->reject(item.delivery.delivery_tag, true);
      }
    }
    const auto outcomes = hand_over_.take_outcomes();
    for (const auto& o : outcomes) hand_off_.publish(*broker_, o.handed_off);
    if (settle(outcomes)) {
      broker::PublishOptions ring;
      ring.persistent = false;
      ring.mandatory = false;
      broker_->publish(queues::kKickExchange, "", "{}", ring);
    }
    if (config_.consumer.hand_off_children) hand_off_.settle(*broker_);
  }

  // Acks or rejects finished deliveries; true when one of them made a dependent ready.
  bool settle(const std::vector<Outcome>& outcomes) {
    bool kick = false;
    for (const auto& o : outcomes) {
      kick = kick || o.kick;
      if (o.generation != generation_) continue;  // the broker already requeued it
      switch (o.settle) {
        case Settle::ack: broker_->ack(o.delivery_tag); break;
        case Settle::reject_to_dead_letters: broker_->reject(o.delivery_tag, false); break;
        case Settle::requeue: broker_->reject(o.delivery_tag, true); break;
        case Settle::none: break;  // a chain's continuation: no delivery to settle
      }
    }
    return kick;
  }

  const Config& config_;
  const std::string& id_;
  const std::string queue_;
  const std::uint16_t prefetch_;
  DeliveryHandOver& hand_over_;
  HandOffPublisher hand_off_;
  std::unique_ptr<broker::Connection> broker_;
  std::uint64_t generation_ = 0;
  bool draining_ = false;
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
  const store::SiteStore store(resolve_site_root(config_));  // every step's paths go through it
  const int workers = config_.consumer.workers;
  const auto prefetch = static_cast<std::uint16_t>(
      config_.consumer.prefetch > 0 ? config_.consumer.prefetch : workers);
  spdlog::info("consumer {} serving {} with {} workers (prefetch {}), site root {}", id_,
               queues::work_queue(config_.site, config_.group), workers, prefetch,
               store.root().string());

  DeliveryHandOver hand_over;
  RunningAttempts running;
  const WorkerSetup setup{config_, registry_, id_, store, running};
  std::atomic<bool> closing{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) {
    threads.emplace_back([&] { work(setup, hand_over, closing, stop_requests); });
  }
  threads.emplace_back([&] { renew_leases(config_, id_, running, closing); });
  // Join the threads however the I/O loop ends: a thread still joinable at destruction would
  // terminate the process without a word.
  struct Joiner {
    std::atomic<bool>& closing;
    std::vector<std::thread>& threads;
    ~Joiner() {
      closing = true;
      for (auto& t : threads) t.join();
    }
  };
  {
    const Joiner joiner{closing, threads};
    BrokerLoop(config_, id_, prefetch, hand_over).run(stop_requests);
  }
  spdlog::info("consumer {} stopped", id_);
}

}  // namespace tianyu::consumer
