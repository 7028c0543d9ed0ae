#include "manager/manager.h"

#include <optional>
#include <random>
#include <thread>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/queues.h"

namespace tianyu::manager {

using namespace std::chrono;

Manager::Manager(Config config, std::string manager_id)
    : config_(std::move(config)), id_(std::move(manager_id)),
      heartbeat_({"manager", id_, config_.site, "", 1}, std::chrono::seconds(5)) {}

void Manager::ensure_connected() {
  if (!db_) {
    db_ = std::make_unique<db::Connection>(db::settings_from(config_.db));
    spdlog::info("connected to MariaDB {}:{}/{}", config_.db.host, config_.db.port,
                 config_.db.name);
  }
  if (!broker_) {
    auto b = std::make_unique<broker::Connection>(broker::settings_from(config_.broker),
                                                  "tianyu-manager " + id_);
    b->enable_confirms();
    // Before any consume: a missing legacy queue re-opens the channel, which would end them.
    queues::declare_dead_letters(*b);
    queues::retire_uncapped_dead_letters(*b);
    b->declare_exchange(queues::kKickExchange, "fanout");
    const std::string kick_queue = "tianyu.kick." + id_;
    broker::QueueOptions kick;
    kick.durable = false;
    kick.exclusive = true;
    kick.auto_delete = true;
    b->declare_queue(kick_queue, kick);
    b->bind_queue(kick_queue, queues::kKickExchange, "");
    b->consume(kick_queue, 1000);
    b->consume(queues::kOverflowQueue, 1000);
    broker_ = std::move(b);
    declared_queues_.clear();
    spdlog::info("connected to RabbitMQ {}", broker_->node());
  }
}

namespace {

// The work queue of a dispatch; nullopt (logged) for a site or group name recorded before
// names were validated, which no queue can carry unambiguously: it stays queued for an
// operator instead of stopping every other dispatch.
std::optional<std::string> queue_of(const process::Dispatch& d) {
  try {
    return queues::work_queue(d.site, d.group);
  } catch (const InputError& e) {
    spdlog::error("process {} cannot be dispatched: {}", d.process_id, e.what());
    return std::nullopt;
  }
}

}  // namespace

void Manager::expire_lost_dispatches() {
  const auto stale = process::long_queued(*db_, seconds(config_.manager.lost_dispatch_s), 1000);
  if (stale.empty()) return;
  std::map<std::string, std::vector<process::Dispatch>> by_queue;
  for (const auto& d : stale) {
    if (in_flight_processes_.count(d.process_id)) continue;
    if (const auto queue = queue_of(d)) by_queue[*queue].push_back(d);
  }
  // A backlog hides a lost message until it drains; with none, every published message of
  // the queue is in a consumer's hands, and a consumer starts what it holds at once.
  std::vector<process::Dispatch> lost;
  for (const auto& [queue, dispatches] : by_queue) {
    if (declared_queues_.insert(queue).second) {
      queues::declare_work_queue(*broker_, dispatches.front().site, dispatches.front().group);
    }
    if (broker_->message_count(queue) == 0) lost.insert(lost.end(), dispatches.begin(), dispatches.end());
  }
  if (lost.empty()) return;
  if (const int moved = process::expire_lost_dispatches(*db_, lost); moved > 0) {
    spdlog::warn("{} queued processes lost their message (queued over {} s with an empty queue); "
                 "their attempts count as failed and are retried",
                 moved, config_.manager.lost_dispatch_s);
  }
}

void Manager::publish(const std::vector<process::Dispatch>& batch) {
  for (const auto& d : batch) {
    if (in_flight_processes_.count(d.process_id)) continue;  // its publish is unconfirmed yet
    const auto found = queue_of(d);
    if (!found) continue;
    const std::string& queue = *found;
    if (declared_queues_.insert(queue).second) queues::declare_work_queue(*broker_, d.site, d.group);
    // Only (process, attempt): the consumer runs what the row it claims says.
    const queues::ProcessMessage m{d.process_id, d.attempt};
    broker::PublishOptions options;
    options.message_id = queues::message_id(d.process_id, d.attempt);
    in_flight_[broker_->publish("", queue, queues::encode(m), options)] = {d.process_id, d.attempt};
    in_flight_processes_.insert(d.process_id);
  }
}

void Manager::settle_confirms(milliseconds timeout) {
  if (in_flight_.empty()) return;
  const auto confirms = broker_->wait_for_confirms(timeout);
  std::vector<std::pair<std::uint64_t, std::uint32_t>> published;
  auto forget = [&](std::uint64_t seq, bool stored) {
    auto it = in_flight_.find(seq);
    if (it == in_flight_.end()) return;
    if (stored) published.push_back(it->second);
    in_flight_processes_.erase(it->second.first);
    in_flight_.erase(it);
  };
  for (auto seq : confirms.acked) forget(seq, true);
  for (auto seq : confirms.nacked) forget(seq, false);
  for (auto seq : confirms.returned) forget(seq, false);
  if (!confirms.nacked.empty() || !confirms.returned.empty()) {
    spdlog::warn("broker refused {} and returned {} dispatches; they will be republished",
                 confirms.nacked.size(), confirms.returned.size());
  }
  process::mark_published(*db_, published);
}

bool Manager::cycle() {
  const auto now = steady_clock::now();
  const auto claimed = process::claim_ready(*db_, config_.manager.claim_batch, id_);
  publish(claimed);
  settle_confirms(milliseconds(0));
  if (now - last_relay_ > milliseconds(config_.manager.confirm_timeout_ms / 2)) {
    last_relay_ = now;
    // Queued but never confirmed (a manager died between claim and confirm, or the broker
    // went away): publish again; a duplicate message is dropped by the consumer's claim.
    const auto stale = process::unpublished(*db_, milliseconds(config_.manager.confirm_timeout_ms), 1000);
    if (!stale.empty()) spdlog::info("republishing {} unconfirmed dispatches", stale.size());
    publish(stale);
    if (!alert_relay_) alert_relay_ = std::make_unique<alerts::Relay>(broker::settings_from(config_.broker));
    alert_relay_->relay(*db_);
  }
  if (now - last_sweep_ > milliseconds(config_.manager.sweep_interval_ms)) {
    last_sweep_ = now;
    if (const int expired = process::sweep_expired_leases(*db_); expired > 0) {
      spdlog::warn("{} running processes lost their consumer's lease", expired);
    }
    expire_lost_dispatches();
    heartbeat_.beat(*db_, fmt::format("{} dispatches awaiting the broker's confirm", in_flight_.size()));
    if (const int due = process::release_due_retries(*db_, config_.manager.retry_base_ms,
                                                     config_.manager.retry_max_ms);
        due > 0) {
      spdlog::info("{} processes are due for another attempt", due);
      return true;
    }
  }
  return static_cast<int>(claimed.size()) >= config_.manager.claim_batch;
}

void Manager::wait_for_kick(milliseconds timeout) {
  // Confirms that arrive meanwhile are read by next_delivery and settled right after.
  std::map<std::string, std::uint64_t> dropped;  // work queue -> dead letters the cap dropped
  std::vector<std::uint64_t> overflow_tags;
  auto delivery = broker_->next_delivery(timeout);
  while (delivery) {
    if (delivery->exchange == queues::kOverflowExchange) {
      ++dropped[delivery->routing_key];
      overflow_tags.push_back(delivery->delivery_tag);
    } else {
      broker_->ack(delivery->delivery_tag);  // a kick
    }
    delivery = broker_->next_delivery(milliseconds(0));  // coalesce a burst into one cycle
  }
  if (!dropped.empty()) {
    try {
      count_dropped_dead_letters(dropped);
    } catch (...) {
      for (auto tag : overflow_tags) broker_->reject(tag, /*requeue=*/true);  // counted later
      throw;
    }
    // Acked only once counted: a crash before this recounts, never loses a count.
    for (auto tag : overflow_tags) broker_->ack(tag);
  }
  settle_confirms(milliseconds(0));
}

void Manager::count_dropped_dead_letters(const std::map<std::string, std::uint64_t>& dropped) {
  std::uint64_t total = 0;
  process::with_transaction(*db_, [&] {
    total = 0;
    for (const auto& [queue, n] : dropped) {
      db_->execute("INSERT INTO dead_letter_overflow (source_queue, dropped) VALUES (?, ?) "
                   "ON DUPLICATE KEY UPDATE dropped = dropped + VALUES(dropped), last_at = NOW(6)",
                   {queue, n});
      total += n;
    }
  });
  spdlog::warn("the capped dead-letter queue '{}' dropped {} dead letters (counted in "
               "dead_letter_overflow)", queues::kDeadLetterQueue, total);
}

void Manager::run(const std::atomic<int>& stop_requests) {
  spdlog::info("manager {} started (poll {} ms, batch {})", id_, config_.manager.poll_interval_ms,
               config_.manager.claim_batch);
  std::mt19937 rng{std::random_device{}()};
  milliseconds backoff(200);
  while (stop_requests == 0) {
    bool failed = false;
    try {
      ensure_connected();
      const bool more = cycle();
      if (!more) wait_for_kick(milliseconds(config_.manager.poll_interval_ms));
      backoff = milliseconds(200);
    } catch (const broker::BrokerError& e) {
      spdlog::warn("broker: {}; reconnecting in ~{} ms", e.what(), backoff.count());
      broker_.reset();
      in_flight_.clear();  // unknown now: the relay republishes them after the confirm timeout
      in_flight_processes_.clear();
      failed = true;
    } catch (const db::DbError& e) {
      spdlog::warn("database: {}; reconnecting in ~{} ms", e.what(), backoff.count());
      db_.reset();
      failed = true;
    } catch (const std::exception& e) {
      spdlog::error("{}; retrying in ~{} ms", e.what(), backoff.count());
      failed = true;
    }
    if (failed) {
      std::uniform_int_distribution<int> jitter(0, static_cast<int>(backoff.count() / 2));
      std::this_thread::sleep_for(backoff + milliseconds(jitter(rng)));
      backoff = std::min(backoff * 2, milliseconds(5000));
    }
  }
  if (db_) heartbeat_.stopped(*db_);
  spdlog::info("manager {} stopped", id_);
}

}  // namespace tianyu::manager
