#pragma once
// Every state change of a process, as guarded SQL. Each transition names the state (and for
// final writes the attempt and lease owner) it expects; zero affected rows means somebody else
// already moved the process, never an error to retry blindly (DESIGN.md §2).
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/db.h"

namespace tianyu::process {

// A process handed to the broker. Its message carries only (process_id, attempt); the rest
// names its queue and budget for the manager.
struct Dispatch {
  std::uint64_t process_id = 0;
  std::uint32_t attempt = 0;
  std::string command;
  std::string params;  // JSON text
  std::string site;
  std::string group;
  std::uint32_t max_attempts = 0;
  std::uint32_t attempt_floor = 0;
};

// Runs `body` in a transaction, retrying deadlocks, lock-wait timeouts and lost connections
// (reconnecting) with capped back-off for up to `patience`. Guarded transactions make the
// redo safe even when a COMMIT's outcome was unknown.
void with_transaction(db::Connection& c, const std::function<void()>& body,
                      std::chrono::seconds patience = std::chrono::seconds(120));
// The same retries for a body that is a single autocommit statement (one round trip less).
void with_retries(db::Connection& c, const std::function<void()>& body,
                  std::chrono::seconds patience = std::chrono::seconds(120));

// ---- manager side

// Queued dispatches published longer ago than `older_than` and still not started.
std::vector<Dispatch> long_queued(db::Connection& c, std::chrono::seconds older_than, int limit);
// Their messages are gone (the caller saw their queue hold no ready message): each such attempt
// counts as failed, to be retried or, once the attempts are spent, failed with its dependents
// cancelled. Returns how many moved.
int expire_lost_dispatches(db::Connection& c, const std::vector<Dispatch>& lost);
// Moves up to `limit` ready processes to queued (attempt + 1) and logs the dispatch.
std::vector<Dispatch> claim_ready(db::Connection& c, int limit, const std::string& manager_id);
// Queued processes whose publish was never confirmed and that were queued before `older_than`.
std::vector<Dispatch> unpublished(db::Connection& c, std::chrono::milliseconds older_than,
                                  int limit);
void mark_published(db::Connection& c,
                    const std::vector<std::pair<std::uint64_t, std::uint32_t>>& dispatched);
// Running processes whose lease expired go to retry_wait, or failed (dependents cancelled).
int sweep_expired_leases(db::Connection& c);
// retry_wait processes whose back-off (base * 2^(n-1), capped) has passed become ready.
int release_due_retries(db::Connection& c, int base_ms, int max_ms);

// ---- consumer side

// The attempt budget of a process: attempts left = max_attempts - (attempt - attempt_floor).
struct AttemptBudget {
  std::uint32_t max_attempts = 0;
  std::uint32_t attempt_floor = 0;
};

// What the claimed row says to run. The consumer runs this, never what a broker message says:
// a message only names (process, attempt), and anyone with broker credentials can write one.
struct ClaimedProcess {
  std::string command;
  std::string params;  // JSON text
  std::string site;
  std::string group;
  AttemptBudget budget;
};

// queued -> running under this consumer's lease, in ONE UPDATE fenced by the attempt AND by
// the process's site and group being `site`/`group` (this consumer's own): a message for
// another group's process claims nothing. nullopt: not ours to run (another site or group,
// already claimed, finished, or a stale attempt): settle the message and run nothing. Running
// under this very consumer also counts as started: the UPDATE may have committed while the
// connection died before its reply, and the retry must not disown the process.
std::optional<ClaimedProcess> start(db::Connection& c, std::uint64_t process_id,
                                    std::uint32_t attempt, const std::string& consumer_id,
                                    int lease_s, const std::string& site, const std::string& group);
// In one transaction: fenced running -> success, the step's own writes, and the dependents'
// pending counters. Returns false when fenced out (the lease was lost): nothing is written.
// What a success transaction did with the dependents it released (consumer.hand_off_children).
struct HandOff {
  std::vector<Dispatch> queued;       // queued (attempt + 1), for the caller to publish
  std::optional<Dispatch> continued;  // already running under the caller: run it next
};
// Where the caller runs: a released dependent of this site and group may continue the chain.
struct ContinueHere {
  std::string site;
  std::string group;
  int lease_s = 30;
};

// `children_ready` tells whether any dependent became ready that the manager must dispatch.
// With `hand_off`, the dependents this commit releases are queued in the same transaction
// (logged under `consumer_id`) and returned for the caller to publish after the commit; any it
// does not get confirmed are republished by the manager (unpublished()), so the outbox rule
// holds. With `here` too, one of them of that site and group is claimed for the caller (running
// under its lease). A DbError from `writes` that a retry cannot fix (a constraint or data error)
// is thrown at once, unretried.
bool finish_success(db::Connection& c, std::uint64_t process_id, std::uint32_t attempt,
                    const std::string& consumer_id,
                    const std::function<void(db::Connection&)>& writes, bool* children_ready,
                    HandOff* hand_off = nullptr, const ContinueHere* here = nullptr);
// A continuation claimed by finish_success that its consumer will not run (it is stopping):
// running -> queued at the same attempt, unpublished (the caller publishes it, else the manager
// does). Returns false when the row is no longer this consumer's.
bool release_unstarted(db::Connection& c, std::uint64_t process_id, std::uint32_t attempt,
                       const std::string& consumer_id);
// Fenced running -> retry_wait, or failed (with dependents cancelled) when `permanent` or the
// attempt budget is spent. Returns false when fenced out.
// `spends_attempt` false (a transient resource fault: a full disk, an I/O error) retries the
// process without counting the attempt against its budget (attempt_floor is raised): the night
// waits for the resource instead of being cancelled.
bool finish_failure(db::Connection& c, std::uint64_t process_id, std::uint32_t attempt,
                    const std::string& consumer_id, const std::string& error, bool permanent,
                    const AttemptBudget& budget, bool spends_attempt = true);
// Fails a process that cannot run (its command is unknown here, its params are not JSON) and
// cancels its dependents; fenced like every other write: only this attempt, and only while it
// runs under `consumer_id` (or, never claimed, is queued at exactly this attempt). Returns
// whether it moved the row.
bool fail_unrunnable(db::Connection& c, std::uint64_t process_id, std::uint32_t attempt,
                     const std::string& consumer_id, const std::string& error);

using AttemptKey = std::pair<std::uint64_t, std::uint32_t>;  // (process_id, attempt)
struct LeaseRenewal {
  std::vector<AttemptKey> renewed;
  // No longer running under this consumer at that attempt (expired and swept, or taken by a
  // later attempt): its step must stop.
  std::vector<AttemptKey> lost;
};
// Extends this consumer's leases on the attempts its workers are running now (only those: a
// lease on anything else would keep an orphan alive) and says which are lost. A row another
// session holds locked (a worker committing it) is skipped, neither waited for nor lost: it is
// renewed next time, or its commit ends it.
LeaseRenewal renew_leases(db::Connection& c, const std::string& consumer_id, int lease_s,
                          const std::vector<AttemptKey>& running);

// ---- shared

// Cancels every waiting descendant of a process that failed for good.
int cancel_descendants(db::Connection& c, std::uint64_t process_id, const std::string& reason);
// "1,2,3" for an IN list (ids come from the database or from our own generator).
std::string id_list(const std::vector<std::uint64_t>& ids);

// "WITH RECURSIVE descendant (id) AS (...)": the processes that need the success of process `?`
// (the one parameter), directly or through others, following 'cancel' edges only.
extern const char* const kNeedsSuccessOfCte;

}  // namespace tianyu::process
