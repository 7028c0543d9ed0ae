#pragma once
// Maps a process command to its step handler. A handler reads its inputs, calls src/pipeline,
// writes files under the site root (temporary name, then rename), and registers its database
// writes with on_commit(): they run inside the transaction that records `success`, so a step's
// rows and its status are committed together or not at all.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/db.h"

namespace tianyu::consumer {

struct StepContext {
  std::uint64_t process_id = 0;
  std::uint32_t attempt = 0;
  std::string command;
  nlohmann::json params;
  std::filesystem::path site_root;
  std::string consumer_id;
  // For reading inputs (committed by the dependencies); writes go through on_commit().
  db::Connection* db = nullptr;

  void on_commit(std::function<void(db::Connection&)> write) { writes.push_back(std::move(write)); }
  std::vector<std::function<void(db::Connection&)>> writes;
};

// Throwing InputError fails the process for good (bad input is not retried); any other
// exception is retried while attempts remain.
using StepHandler = std::function<void(StepContext&)>;

class StepRegistry {
 public:
  void add(const std::string& command, StepHandler handler);
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
