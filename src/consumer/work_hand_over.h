#pragma once
// The consumer's shared state between its threads (consumer.cpp): the deliveries handed from
// the I/O thread to the workers and back, and the attempts running now with their lease flags.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/broker.h"
#include "common/process_store.h"

namespace tianyu::consumer {

using process::AttemptKey;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

struct WorkItem {
  std::uint64_t generation;  // which broker connection the delivery tag belongs to
  broker::Delivery delivery;
};

enum class Settle { ack, reject_to_dead_letters, requeue, none };

struct Outcome {
  std::uint64_t generation;
  std::uint64_t delivery_tag;
  Settle settle;
  bool kick;
  // Dependents the step's success transaction queued, for the I/O thread to publish, and the
  // one it claimed for this worker to run next (a chain's continuation).
  std::vector<process::Dispatch> handed_off = {};
  std::optional<process::Dispatch> continued = {};
};

// Deliveries handed from the I/O thread (which alone may touch the broker connection) to the
// workers, and their outcomes handed back for the I/O thread to ack, reject and kick.
class DeliveryHandOver {
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
  // An outcome from a worker that goes on working (a chain's continuation): still busy.
  void report(Outcome outcome) {
    {
      std::lock_guard lock(mutex_);
      outcomes_.push_back(std::move(outcome));
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

// The attempts this consumer's workers run right now, each with its lease-lost flag: leases
// are renewed for these only, a lost one has its flag set (its step stops at its next
// check_lease()), and a second delivery of one of them (a redelivery racing its own run) is
// dropped. A later attempt of the same process is a different job: it runs, and fences the
// earlier one out.
class RunningAttempts {
 public:
  // The new attempt's flag, or null when that attempt already runs here.
  std::shared_ptr<std::atomic<bool>> insert(AttemptKey key) {
    std::lock_guard lock(mutex_);
    auto flag = std::make_shared<std::atomic<bool>>(false);
    if (!entries_.emplace(key, Entry{flag, steady_clock::now()}).second) return nullptr;
    return flag;
  }
  void erase(AttemptKey key) {
    std::lock_guard lock(mutex_);
    entries_.erase(key);
  }
  std::vector<AttemptKey> keys() {
    std::lock_guard lock(mutex_);
    std::vector<AttemptKey> out;
    for (const auto& [key, entry] : entries_) out.push_back(key);
    return out;
  }
  // `renewal` was asked for at `asked`: the renewed leases last at least lease_s from then.
  void apply(const process::LeaseRenewal& renewal, steady_clock::time_point asked) {
    std::lock_guard lock(mutex_);
    for (const auto& key : renewal.renewed) {
      if (auto it = entries_.find(key); it != entries_.end()) it->second.renewed = asked;
    }
    for (const auto& key : renewal.lost) {
      if (auto it = entries_.find(key); it != entries_.end()) lose(key, *it->second.lost, "lost");
    }
  }
  // A lease not renewed for `lease` has expired whatever the database can say now (it may be
  // unreachable, or this process was stopped): its step stops.
  void expire_unrenewed(seconds lease) {
    std::lock_guard lock(mutex_);
    const auto now = steady_clock::now();
    for (auto& [key, entry] : entries_) {
      if (now - entry.renewed > lease) lose(key, *entry.lost, "not renewed in time");
    }
  }

 private:
  struct Entry {
    std::shared_ptr<std::atomic<bool>> lost;  // the heartbeat's handle; steps get a const view
    steady_clock::time_point renewed;
  };
  static void lose(AttemptKey key, std::atomic<bool>& flag, const char* why) {
    if (!flag.exchange(true)) {
      spdlog::warn("process {} attempt {}: lease {}; stopping its step", key.first, key.second, why);
    }
  }
  std::mutex mutex_;
  std::map<AttemptKey, Entry> entries_;
};

// Registers an attempt as running here for as long as its worker handles it.
class RunningAttempt {
 public:
  RunningAttempt(RunningAttempts& set, AttemptKey key)
      : set_(set), key_(key), lease_lost_(set.insert(key)) {}
  ~RunningAttempt() {
    if (lease_lost_) set_.erase(key_);
  }
  RunningAttempt(const RunningAttempt&) = delete;
  RunningAttempt& operator=(const RunningAttempt&) = delete;
  bool first_delivery() const { return lease_lost_ != nullptr; }
  std::shared_ptr<const std::atomic<bool>> lease_lost() const { return lease_lost_; }

 private:
  RunningAttempts& set_;
  AttemptKey key_;
  std::shared_ptr<std::atomic<bool>> lease_lost_;
};

}  // namespace tianyu::consumer
