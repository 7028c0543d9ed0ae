#include "manager/manager.h"

#include <random>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/queues.h"

namespace tianyu::manager {

using namespace std::chrono;

Manager::Manager(Config config, std::string manager_id)
    : config_(std::move(config)), id_(std::move(manager_id)) {}

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
    b->declare_exchange(queues::kKickExchange, "fanout");
    const std::string kick_queue = "tianyu.kick." + id_;
    broker::QueueOptions kick;
    kick.durable = false;
    kick.exclusive = true;
    kick.auto_delete = true;
    b->declare_queue(kick_queue, kick);
    b->bind_queue(kick_queue, queues::kKickExchange, "");
    b->consume(kick_queue, 1000);
    broker_ = std::move(b);
    declared_queues_.clear();
    spdlog::info("connected to RabbitMQ {}:{}", config_.broker.host, config_.broker.port);
  }
}

void Manager::dispatch(const std::vector<process::Dispatch>& batch) {
  if (batch.empty()) return;
  std::map<std::uint64_t, std::pair<std::uint64_t, std::uint32_t>> by_seq;
  for (const auto& d : batch) {
    const std::string queue = queues::work_queue(d.site, d.group);
    if (declared_queues_.insert(queue).second) queues::declare_work_queue(*broker_, d.site, d.group);
    queues::ProcessMessage m{d.process_id, d.attempt, d.command,
                             nlohmann::json::parse(d.params), d.site, d.group};
    broker::PublishOptions options;
    options.message_id = queues::message_id(d.process_id, d.attempt);
    by_seq[broker_->publish("", queue, queues::encode(m), options)] = {d.process_id, d.attempt};
  }
  const auto confirms = broker_->wait_for_confirms(milliseconds(config_.manager.confirm_timeout_ms));
  std::vector<std::pair<std::uint64_t, std::uint32_t>> published;
  for (auto seq : confirms.acked) {
    if (auto it = by_seq.find(seq); it != by_seq.end()) published.push_back(it->second);
  }
  process::mark_published(*db_, published);
  const auto unsettled = batch.size() - published.size();
  if (unsettled > 0) {
    spdlog::warn("{} of {} dispatches not confirmed (nacked {}, returned {}, pending {}); "
                 "they will be republished",
                 unsettled, batch.size(), confirms.nacked.size(), confirms.returned.size(),
                 confirms.pending.size());
  }
  spdlog::debug("dispatched {} processes", published.size());
}

bool Manager::cycle() {
  const auto now = steady_clock::now();
  const auto claimed = process::claim_ready(*db_, config_.manager.claim_batch, id_);
  dispatch(claimed);
  if (now - last_relay_ > milliseconds(config_.manager.confirm_timeout_ms / 2)) {
    last_relay_ = now;
    // Queued but never confirmed (a manager died between claim and confirm, or the broker
    // went away): publish again; a duplicate message is dropped by the consumer's claim.
    const auto stale = process::unpublished(*db_, milliseconds(config_.manager.confirm_timeout_ms), 1000);
    if (!stale.empty()) spdlog::info("republishing {} unconfirmed dispatches", stale.size());
    dispatch(stale);
  }
  if (now - last_sweep_ > milliseconds(config_.manager.sweep_interval_ms)) {
    last_sweep_ = now;
    if (const int expired = process::sweep_expired_leases(*db_); expired > 0) {
      spdlog::warn("{} running processes lost their consumer's lease", expired);
    }
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
  auto kick = broker_->next_delivery(timeout);
  while (kick) {
    broker_->ack(kick->delivery_tag);
    kick = broker_->next_delivery(milliseconds(0));  // coalesce a burst of kicks into one cycle
  }
}

void Manager::run(const std::atomic<bool>& stop) {
  spdlog::info("manager {} started (poll {} ms, batch {})", id_, config_.manager.poll_interval_ms,
               config_.manager.claim_batch);
  std::mt19937 rng{std::random_device{}()};
  milliseconds backoff(200);
  while (!stop) {
    bool failed = false;
    try {
      ensure_connected();
      const bool more = cycle();
      if (!more) wait_for_kick(milliseconds(config_.manager.poll_interval_ms));
      backoff = milliseconds(200);
    } catch (const broker::BrokerError& e) {
      spdlog::warn("broker: {}; reconnecting in ~{} ms", e.what(), backoff.count());
      broker_.reset();
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
  spdlog::info("manager {} stopped", id_);
}

}  // namespace tianyu::manager
