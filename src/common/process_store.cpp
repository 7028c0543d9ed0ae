#include "common/process_store.h"

#include <algorithm>
#include <random>
#include <set>
#include <thread>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>


namespace tianyu::process {
namespace {

constexpr std::size_t kMaxErrorText = 60000;

std::string clip(const std::string& text) {
  return text.size() <= kMaxErrorText ? text : text.substr(0, kMaxErrorText) + "...";
}

std::vector<Dispatch> read_dispatches(db::Connection& c, const std::string& where) {
  std::vector<Dispatch> out;
  for (const auto& r : c.query(
           "SELECT p.process_id, p.attempt, p.command, p.params, s.name, g.name, "
           "p.max_attempts, p.attempt_floor "
           "FROM process p JOIN process_group g ON g.group_id = p.group_id "
           "JOIN site s ON s.site_id = g.site_id WHERE " + where)) {
    out.push_back({r.u64(0), static_cast<std::uint32_t>(r.u64(1)), r.str(2), r.str(3), r.str(4),
                   r.str(5), static_cast<std::uint32_t>(r.u64(6)),
                   static_cast<std::uint32_t>(r.u64(7))});
  }
  return out;
}

}  // namespace

std::string id_list(const std::vector<std::uint64_t>& ids) {
  std::string s;
  for (auto id : ids) {
    if (!s.empty()) s += ',';
    s += std::to_string(id);
  }
  return s;
}

namespace {

void retrying(db::Connection& c, const std::function<void()>& body, std::chrono::seconds patience,
              bool transactional) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  std::chrono::milliseconds backoff(50);
  static thread_local std::mt19937 rng{std::random_device{}()};
  for (int attempt = 1;; ++attempt) {
    try {
      if (!transactional) {
        body();
        return;
      }
      db::Transaction tx(c);
      body();
      tx.commit();
      return;
    } catch (const db::DbError& e) {
      if (!e.retryable() || std::chrono::steady_clock::now() > deadline) throw;
      spdlog::warn("database transaction failed (try {}), retrying in ~{} ms: {}", attempt,
                   backoff.count(), e.what());
      std::uniform_int_distribution<int> jitter(0, static_cast<int>(backoff.count()));
      std::this_thread::sleep_for(backoff + std::chrono::milliseconds(jitter(rng)));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      if (e.connection_lost()) {
        try {
          c.reconnect();
        } catch (const db::DbError& again) {
          spdlog::warn("reconnect failed: {}", again.what());
        }
      }
    }
  }
}

}  // namespace

void with_transaction(db::Connection& c, const std::function<void()>& body,
                      std::chrono::seconds patience) {
  retrying(c, body, patience, true);
}

void with_retries(db::Connection& c, const std::function<void()>& body,
                  std::chrono::seconds patience) {
  retrying(c, body, patience, false);
}

namespace {

// ready -> queued (attempt + 1) for `ids`, locked by the caller's transaction, with their
// dispatch logged under `claimer` (a manager, or the consumer whose commit made them ready).
std::vector<Dispatch> queue_locked(db::Connection& c, const std::vector<std::uint64_t>& ids,
                                   const std::string& claimer) {
  if (ids.empty()) return {};
  const std::string in = id_list(ids);
  c.execute(fmt::format(
      "UPDATE process SET state = 'queued', attempt = attempt + 1, queued_at = NOW(6), "
      "published_at = NULL WHERE process_id IN ({}) AND state = 'ready'",
      in));
  c.execute(fmt::format(
      "INSERT INTO dispatch_log (process_id, attempt, manager_id) "
      "SELECT process_id, attempt, ? FROM process WHERE process_id IN ({})", in),
            {claimer});
  return read_dispatches(c, fmt::format("p.process_id IN ({})", in));
}

}  // namespace

std::vector<Dispatch> claim_ready(db::Connection& c, int limit, const std::string& manager_id) {
  std::vector<Dispatch> claimed;
  with_transaction(c, [&] {
    // The claim index starts with the state, so the lock covers only the rows we take; rows
    // another manager holds are skipped, not waited for.
    std::vector<std::uint64_t> ids;
    for (const auto& r : c.query(fmt::format(
             "SELECT process_id FROM process FORCE INDEX (process_claim_idx) "
             "WHERE state = 'ready' AND not_before <= NOW(6) LIMIT {} FOR UPDATE SKIP LOCKED",
             limit))) {
      ids.push_back(r.u64(0));
    }
    claimed = queue_locked(c, ids, manager_id);
  });
  return claimed;
}

std::vector<Dispatch> unpublished(db::Connection& c, std::chrono::milliseconds older_than,
                                  int limit) {
  return read_dispatches(
      c, fmt::format("p.state = 'queued' AND p.published_at IS NULL AND "
                     "p.queued_at < NOW(6) - INTERVAL {} MICROSECOND LIMIT {}",
                     older_than.count() * 1000, limit));
}

void mark_published(db::Connection& c,
                    const std::vector<std::pair<std::uint64_t, std::uint32_t>>& dispatched) {
  if (dispatched.empty()) return;
  std::string pairs;
  for (const auto& [id, attempt] : dispatched) {
    pairs += fmt::format("{}({},{})", pairs.empty() ? "" : ",", id, attempt);
  }
  c.execute(fmt::format(
      "UPDATE process SET published_at = NOW(6) WHERE state = 'queued' AND "
      "published_at IS NULL AND (process_id, attempt) IN ({})",
      pairs));
}

int sweep_expired_leases(db::Connection& c) {
  int moved = 0;
  with_transaction(c, [&] {
    moved = 0;
    const auto rows = c.query(
        "SELECT process_id, attempt, attempt_floor, max_attempts, lease_owner FROM process "
        "WHERE state = 'running' AND lease_until < NOW(6) LIMIT 500 FOR UPDATE SKIP LOCKED");
    for (const auto& r : rows) {
      const auto id = r.u64(0);
      const auto attempt = r.u64(1);
      const bool spent = attempt - r.u64(2) >= r.u64(3);
      const std::string error =
          fmt::format("lease of consumer '{}' expired on attempt {} (consumer died or stalled)",
                      r.opt_str(4).value_or("?"), attempt);
      moved += static_cast<int>(c.execute(
          "UPDATE process SET state = ?, error = ?, finished_at = NOW(6), last_consumer = lease_owner, lease_owner = NULL, "
          "lease_until = NULL WHERE process_id = ? AND attempt = ? AND state = 'running'",
          {std::string(spent ? "failed" : "retry_wait"), error, id, attempt}));
      if (spent) cancel_descendants(c, id, fmt::format("dependency {} failed: {}", id, error));
    }
  });
  return moved;
}

std::vector<Dispatch> long_queued(db::Connection& c, std::chrono::seconds older_than, int limit) {
  return read_dispatches(
      c, fmt::format("p.state = 'queued' AND p.published_at < NOW(6) - INTERVAL {} SECOND LIMIT {}",
                     older_than.count(), limit));
}

int expire_lost_dispatches(db::Connection& c, const std::vector<Dispatch>& lost) {
  int moved = 0;
  with_transaction(c, [&] {
    moved = 0;
    for (const auto& d : lost) {
      const bool spent = d.attempt - d.attempt_floor >= d.max_attempts;
      const std::string error = fmt::format(
          "the message of attempt {} was lost (its queue tianyu.work.{}.{} held no ready message "
          "and no consumer started it; dead-lettered after repeated hand-backs, or purged)",
          d.attempt, d.site, d.group);
      const auto n = c.execute(
          "UPDATE process SET state = ?, error = ?, finished_at = NOW(6) "
          "WHERE process_id = ? AND attempt = ? AND state = 'queued'",
          {std::string(spent ? "failed" : "retry_wait"), error, d.process_id,
           std::uint64_t{d.attempt}});
      if (n > 0 && spent) {
        cancel_descendants(c, d.process_id, fmt::format("dependency {} failed: {}", d.process_id, error));
      }
      moved += static_cast<int>(n);
    }
  });
  return moved;
}

int release_due_retries(db::Connection& c, int base_ms, int max_ms) {
  return static_cast<int>(c.execute(
      "UPDATE process SET state = 'ready', not_before = NOW(6) WHERE state = 'retry_wait' AND "
      "finished_at + INTERVAL LEAST(? * POW(2, GREATEST(CAST(attempt AS SIGNED) - "
      "CAST(attempt_floor AS SIGNED) - 1, CAST(resource_waits AS SIGNED) - 1, 0)), ?) * 1000 MICROSECOND "
      "<= NOW(6)",
      {std::int64_t{base_ms}, std::int64_t{max_ms}}));
}

std::optional<ClaimedProcess> start(db::Connection& c, std::uint64_t process_id,
                                    std::uint32_t attempt, const std::string& consumer_id,
                                    int lease_s, const std::string& site,
                                    const std::string& group) {
  std::optional<ClaimedProcess> claimed;
  with_retries(c, [&] {
    claimed.reset();
    // The site and group are part of the claim itself, so no message can make this consumer
    // run another group's process, even for the instant between a check and an UPDATE.
    const auto n = c.execute(
        "UPDATE process p JOIN process_group g ON g.group_id = p.group_id "
        "JOIN site s ON s.site_id = g.site_id "
        "SET p.state = 'running', p.lease_owner = ?, "
        "p.lease_until = NOW(6) + INTERVAL ? SECOND, p.started_at = NOW(6) "
        "WHERE p.process_id = ? AND p.attempt = ? AND s.name = ? AND g.name = ? AND "
        "(p.state = 'queued' OR (p.state = 'running' AND p.lease_owner = ?))",
        {consumer_id, std::int64_t{lease_s}, process_id, std::uint64_t{attempt}, site, group,
         consumer_id});
    if (n == 0) return;
    // The row is ours now; its command and params never change after publishing.
    const auto rows = c.query(
        "SELECT p.command, p.params, s.name, g.name, p.max_attempts, p.attempt_floor "
        "FROM process p JOIN process_group g ON g.group_id = p.group_id "
        "JOIN site s ON s.site_id = g.site_id "
        "WHERE p.process_id = ? AND p.attempt = ? AND p.state = 'running' AND p.lease_owner = ?",
        {process_id, std::uint64_t{attempt}, consumer_id});
    if (rows.empty()) return;  // swept between the two statements: not ours after all
    const auto& r = rows.front();
    claimed = ClaimedProcess{r.str(0), r.str(1), r.str(2), r.str(3),
                             {static_cast<std::uint32_t>(r.u64(4)),
                              static_cast<std::uint32_t>(r.u64(5))}};
  });
  return claimed;
}

namespace {

// The dependents `process_id`'s success makes ready, queued in the same transaction: waiting
// -> queued (attempt + 1) in the UPDATE that decrements their counters, so no manager ever sees
// them ready and none is queued twice. The first of `here`'s site and group goes on straight
// to running under `consumer_id` (a chain's continuation). Returns how many counters moved.
std::uint64_t queue_released(db::Connection& c, std::uint64_t process_id, const std::string& consumer_id,
                             HandOff& hand_off, const ContinueHere* here) {
  // Single-table UPDATE: assignments run left to right, so every IF sees the old counter.
  const auto decremented = c.execute(
      "UPDATE process SET queued_at = IF(pending_deps = 1, NOW(6), queued_at), "
      "attempt = IF(pending_deps = 1, attempt + 1, attempt), "
      "state = IF(pending_deps = 1, 'queued', state), published_at = NULL, "
      "not_before = NOW(6), pending_deps = pending_deps - 1 "
      "WHERE state = 'waiting' AND process_id IN "
      "(SELECT process_id FROM process_dependency WHERE depends_on_id = ?)",
      {process_id});
  if (decremented == 0) return 0;
  auto queued = read_dispatches(c, fmt::format("p.state = 'queued' AND p.pending_deps = 0 AND p.published_at IS NULL "
                                               "AND p.process_id IN (SELECT process_id FROM process_dependency "
                                               "WHERE depends_on_id = {})", process_id));
  if (queued.empty()) return decremented;
  std::vector<std::uint64_t> ids;
  for (const auto& d : queued) ids.push_back(d.process_id);
  c.execute(fmt::format("INSERT INTO dispatch_log (process_id, attempt, manager_id) "
                        "SELECT process_id, attempt, ? FROM process WHERE process_id IN ({})", id_list(ids)),
            {consumer_id});
  const auto mine = here ? std::find_if(queued.begin(), queued.end(), [&](const Dispatch& d) {
                             return d.site == here->site && d.group == here->group;
                           })
                         : queued.end();
  if (mine != queued.end() &&
      c.execute("UPDATE process SET state = 'running', lease_owner = ?, lease_until = NOW(6) + INTERVAL ? SECOND, "
                "started_at = NOW(6) WHERE process_id = ? AND attempt = ? AND state = 'queued'",
                {consumer_id, std::int64_t{here->lease_s}, mine->process_id, std::uint64_t{mine->attempt}}) == 1) {
    hand_off.continued = *mine;
    queued.erase(mine);
  }
  hand_off.queued = std::move(queued);
  return decremented;
}

}  // namespace

bool finish_success(db::Connection& c, std::uint64_t process_id, std::uint32_t attempt,
                    const std::string& consumer_id,
                    const std::function<void(db::Connection&)>& writes, bool* children_ready,
                    HandOff* hand_off, const ContinueHere* here) {
  bool committed = false;
  with_transaction(c, [&] {
    committed = false;
    if (hand_off) *hand_off = HandOff{};
    const auto n = c.execute(
        "UPDATE process SET state = 'success', finished_at = NOW(6), last_consumer = lease_owner, lease_owner = NULL, "
        "lease_until = NULL, error = NULL, resource_waits = 0 "
        "WHERE process_id = ? AND attempt = ? AND state = 'running' AND lease_owner = ?",
        {process_id, std::uint64_t{attempt}, consumer_id});
    if (n == 0) return;  // fenced out: the transaction commits nothing
    if (writes) writes(c);
    if (hand_off) {
      queue_released(c, process_id, consumer_id, *hand_off, here);
      if (children_ready) *children_ready = false;
    } else {
      // Single-table UPDATE: assignments run left to right, so the IF sees the old counter.
      const auto decremented = c.execute(
          "UPDATE process SET state = IF(pending_deps = 1, 'ready', state), "
          "not_before = NOW(6), pending_deps = pending_deps - 1 "
          "WHERE state = 'waiting' AND process_id IN "
          "(SELECT process_id FROM process_dependency WHERE depends_on_id = ?)",
          {process_id});
      if (children_ready) *children_ready = decremented > 0;
    }
    committed = true;
  });
  if (!committed) {
    if (hand_off) *hand_off = HandOff{};
    // Fenced out, or an earlier try's COMMIT went through and only its reply was lost. Only
    // this attempt's runner can make it a success, so a success at this attempt is ours (any
    // dependents it queued are published by the manager once their confirm is overdue, and a
    // continuation it claimed runs again once its lease expires).
    with_retries(c, [&] {
      const auto rows = c.query("SELECT state FROM process WHERE process_id = ? AND attempt = ?",
                                {process_id, std::uint64_t{attempt}});
      committed = !rows.empty() && rows.front().str(0) == "success";
    });
    if (committed && children_ready) *children_ready = true;  // unknown: a spare kick is harmless
  }
  return committed;
}

bool release_unstarted(db::Connection& c, std::uint64_t process_id, std::uint32_t attempt,
                       const std::string& consumer_id) {
  std::uint64_t n = 0;
  with_retries(c, [&] {
    n = c.execute("UPDATE process SET state = 'queued', lease_owner = NULL, lease_until = NULL, started_at = NULL, "
                  "queued_at = NOW(6), published_at = NULL "
                  "WHERE process_id = ? AND attempt = ? AND state = 'running' AND lease_owner = ?",
                  {process_id, std::uint64_t{attempt}, consumer_id});
  });
  return n == 1;
}

bool finish_failure(db::Connection& c, std::uint64_t process_id, std::uint32_t attempt,
                    const std::string& consumer_id, const std::string& error, bool permanent,
                    const AttemptBudget& budget, bool spends_attempt) {
  const bool spent = permanent || (spends_attempt && attempt - budget.attempt_floor >= budget.max_attempts);
  bool committed = false;
  with_transaction(c, [&] {
    committed = false;
    const auto n = c.execute(
        "UPDATE process SET state = ?, finished_at = NOW(6), last_consumer = lease_owner, lease_owner = NULL, "
        "lease_until = NULL, error = ?, attempt_floor = attempt_floor + ?, "
        "resource_waits = IF(? = 1, resource_waits + 1, 0) "
        "WHERE process_id = ? AND attempt = ? AND state = 'running' AND lease_owner = ?",
        {std::string(spent ? "failed" : "retry_wait"), clip(error),
         std::uint64_t{spent || spends_attempt ? 0u : 1u}, std::uint64_t{spent || spends_attempt ? 0u : 1u},
         process_id, std::uint64_t{attempt}, consumer_id});
    if (n == 0) return;
    if (spent) {
      cancel_descendants(c, process_id, fmt::format("dependency {} failed: {}", process_id, error));
    }
    committed = true;
  });
  return committed;
}

bool fail_unrunnable(db::Connection& c, std::uint64_t process_id, std::uint32_t attempt,
                     const std::string& consumer_id, const std::string& error) {
  bool moved = false;
  with_transaction(c, [&] {
    moved = c.execute(
                "UPDATE process SET state = 'failed', finished_at = NOW(6), last_consumer = ?, lease_owner = NULL, "
                "lease_until = NULL, error = ? WHERE process_id = ? AND attempt = ? AND "
                "((state = 'running' AND lease_owner = ?) OR state = 'queued')",
                {consumer_id, clip(error), process_id, std::uint64_t{attempt}, consumer_id}) > 0;
    if (moved) {
      cancel_descendants(c, process_id, fmt::format("dependency {} failed: {}", process_id, error));
    }
  });
  return moved;
}

namespace {

// The rows of `running` still running under `consumer_id` at exactly their attempt, read by
// `select` (a primary-key lookup, so a locking read locks only these rows).
std::set<AttemptKey> still_ours(db::Connection& c, const std::string& select,
                                const std::string& consumer_id,
                                const std::vector<AttemptKey>& running) {
  const std::set<AttemptKey> wanted(running.begin(), running.end());
  std::set<AttemptKey> ours;
  for (const auto& r : c.query(select, {consumer_id})) {
    const AttemptKey key{r.u64(0), static_cast<std::uint32_t>(r.u64(1))};
    if (wanted.count(key)) ours.insert(key);
  }
  return ours;
}

}  // namespace

LeaseRenewal renew_leases(db::Connection& c, const std::string& consumer_id, int lease_s,
                          const std::vector<AttemptKey>& running) {
  LeaseRenewal result;
  if (running.empty()) return result;
  std::vector<std::uint64_t> ids;
  for (const auto& key : running) ids.push_back(key.first);
  const std::string select = fmt::format(
      "SELECT process_id, attempt FROM process WHERE process_id IN ({}) AND state = 'running' "
      "AND lease_owner = ?", id_list(ids));
  // A consistent (non-locking) read never waits on a committing worker's row lock; a row
  // being committed still reads as running here, so it is not taken for lost. A worker
  // registers its attempt just before claiming it: a row still queued at that attempt is being
  // claimed, not lost (taking it for lost made a good first attempt stop and run again).
  const std::string held_select = fmt::format(
      "SELECT process_id, attempt FROM process WHERE process_id IN ({}) AND "
      "((state = 'running' AND lease_owner = ?) OR state = 'queued')",
      id_list(ids));
  std::set<AttemptKey> held;
  with_retries(c, [&] { held = still_ours(c, held_select, consumer_id, running); });
  // Renew only the rows nobody holds locked, in a short transaction of its own: the UPDATE
  // then never queues behind a worker's success transaction.
  std::set<AttemptKey> free;
  with_transaction(c, [&] {
    free = still_ours(c, select + " FOR UPDATE SKIP LOCKED", consumer_id, running);
    if (free.empty()) return;
    std::vector<std::uint64_t> renew;
    for (const auto& key : free) renew.push_back(key.first);
    c.execute(fmt::format("UPDATE process SET lease_until = NOW(6) + INTERVAL ? SECOND "
                          "WHERE process_id IN ({}) AND state = 'running' AND lease_owner = ?",
                          id_list(renew)),
              {std::int64_t{lease_s}, consumer_id});
  });
  result.renewed.assign(free.begin(), free.end());
  for (const auto& key : running) {
    if (!held.count(key) && !free.count(key)) result.lost.push_back(key);
  }
  return result;
}

const char* const kNeedsSuccessOfCte =
    "WITH RECURSIVE descendant (id) AS ("
    "  SELECT process_id FROM process_dependency WHERE depends_on_id = ? AND on_failure = 'cancel'"
    "  UNION SELECT d.process_id FROM process_dependency d "
    "        JOIN descendant ON d.depends_on_id = descendant.id AND d.on_failure = 'cancel')";

int cancel_descendants(db::Connection& c, std::uint64_t process_id, const std::string& reason) {
  // The waiting processes that needed this one's success, through 'cancel' edges only.
  std::vector<std::uint64_t> cancelled;
  for (const auto& r : c.query(
           std::string(kNeedsSuccessOfCte) +
               " SELECT p.process_id FROM process p JOIN descendant ON p.process_id = descendant.id "
               "WHERE p.state = 'waiting' FOR UPDATE",
           {process_id})) {
    cancelled.push_back(r.u64(0));
  }
  if (!cancelled.empty()) {
    c.execute(fmt::format("UPDATE process SET state = 'cancelled', error = ?, finished_at = NOW(6) "
                          "WHERE state = 'waiting' AND process_id IN ({})",
                          id_list(cancelled)),
              {clip(reason)});
  }
  // Every process that just ended (this one and the cancelled) releases its 'proceed' children.
  std::vector<std::uint64_t> ended = cancelled;
  ended.push_back(process_id);
  const std::string ended_list = id_list(ended);
  const auto released = c.query(fmt::format(
      "SELECT d.process_id, COUNT(*) FROM process_dependency d JOIN process p ON p.process_id = d.process_id "
      "WHERE d.on_failure = 'proceed' AND d.depends_on_id IN ({}) AND p.state = 'waiting' "
      "GROUP BY d.process_id",
      ended_list));
  for (const auto& r : released) {
    c.execute(
        "UPDATE process SET state = IF(pending_deps = ?, 'ready', state), not_before = NOW(6), "
        "pending_deps = pending_deps - ? WHERE process_id = ? AND state = 'waiting'",
        {r.u64(1), r.u64(1), r.u64(0)});
  }
  return static_cast<int>(cancelled.size());
}

}  // namespace tianyu::process
