#pragma once
// Maps a process command to its step handler. A handler reads its inputs, calls src/pipeline,
// writes files under the site root (temporary name, then rename), and registers its database
// writes with on_commit(): they run inside the transaction that records `success`, so a step's
// rows and its status are committed together or not at all.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/db.h"
#include "common/errors.h"
#include "common/site_store.h"
#include "steps/params.h"

namespace tianyu::consumer {

namespace steps {
class ObservationStore;  // steps/observation_store.h
}

// This attempt no longer holds its lease: it must stop without writing. Retryable, although
// the consumer only abandons the attempt (the manager's sweep decides what happens next).
class LeaseLost : public ResourceFailure {
 public:
  LeaseLost(std::uint64_t process_id, std::uint32_t attempt)
      : ResourceFailure("process " + std::to_string(process_id) + " attempt " + std::to_string(attempt) +
                        " lost its lease; the step stopped") {}
};

struct StepContext {
  std::uint64_t process_id = 0;
  std::uint32_t attempt = 0;
  std::string command;
  nlohmann::json params;
  std::filesystem::path site_root;
  std::string consumer_id;
  // Every path the step reads or writes goes through the site store (never site_root / path).
  const store::SiteStore* store = nullptr;
  // Set by the consumer's lease heartbeat when this attempt's lease was lost (the process may be
  // running elsewhere now): the step stops at its next check_lease() and can never commit.
  std::shared_ptr<const std::atomic<bool>> lease_lost;
  // Throws LeaseLost when the lease was lost; steps call it before writing files.
  void check_lease() const {
    if (lease_lost && *lease_lost) throw LeaseLost(process_id, attempt);
  }
  // For reading inputs (committed by the dependencies); writes go through on_commit().
  db::Connection* db = nullptr;
  // The observation steps' every read and write (steps/observation_store.h). A unit test sets
  // its in-memory double here; otherwise observation_store() builds the SQL store over `db` on
  // first use (its writes go through this context's on_commit()).
  steps::ObservationStore* observations = nullptr;
  steps::ObservationStore& observation_store();
  std::shared_ptr<steps::ObservationStore> sql_observations;  // owns what observation_store() built

  void on_commit(std::function<void(db::Connection&)> write) { writes.push_back(std::move(write)); }
  std::vector<std::function<void(db::Connection&)>> writes;
  // Files this attempt wrote (relative to the site root), named for the attempt: they become
  // products only through the success transaction, and the consumer removes them when the
  // attempt does not commit (failed, or fenced out after losing its lease).
  std::vector<std::string> written;
  // Directories this attempt created for those files (outermost first): removed, when empty,
  // with them, so a step that fails on its first frame leaves the site root as it found it.
  std::vector<std::string> created_directories;
};

// Throwing InputError fails the process for good (bad input is not retried); any other
// exception is retried while attempts remain.
using StepHandler = std::function<void(StepContext&)>;

class StepRegistry {
 public:
  void add(const std::string& command, StepHandler handler);
  // A step with typed params P (src/steps/step_params.h): the process row's params are read
  // strictly before the handler runs (an unknown or mistyped field fails attempt 1, naming it).
  template <class P> void add(const std::string& command, std::function<void(StepContext&, const P&)> handler) {
    add(command, [command, handler](StepContext& ctx) { handler(ctx, ::tianyu::steps::read_params<P>(ctx.params, command)); });
  }
  const StepHandler* find(const std::string& command) const;
  std::vector<std::string> commands() const;

 private:
  std::map<std::string, StepHandler> handlers_;
};

// noop, sleep {ms}, fail {message}, flaky {failures}, touch {sleep_ms?}.
void register_diagnostic_steps(StepRegistry& registry);
// simulate_night {out, preset?, seed?, config?, threads?}: a simulated night under the site root.
void register_simulation_steps(StepRegistry& registry);
// An observation's pipeline (see src/publisher/observation_dag.h): master_bias, master_dark,
// master_flat, calibrate, align, select_frames, stack, detect_sources, photometry, relative_flux.
void register_reduction_steps(StepRegistry& registry);
void register_photometry_steps(StepRegistry& registry);

}  // namespace tianyu::consumer
