#pragma once
// The publisher: writes processes and their dependency edges in ONE transaction, so a reader
// never sees a process without all its edges. A batch that names an unknown process, site or
// group, or that contains a cycle, is refused whole with an error naming the process.
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/db.h"
#include "common/process_id.h"
#include "publisher/site_location.h"

namespace tianyu::publisher {

// A dependency: the key of another process in the same batch, or an existing process id.
using Dependency = std::variant<std::string, std::uint64_t>;

struct ProcessSpec {
  std::string key;
  std::string command;
  nlohmann::json params = nlohmann::json::object();
  std::string site;
  std::string group;
  std::vector<Dependency> depends_on;
  // Runs once these have finished whatever their outcome (success, failed or cancelled): a
  // step over the whole observation goes ahead without a frame whose own steps failed.
  std::vector<Dependency> after;
  int max_attempts = 3;
  std::uint64_t observation_id = 0;  // 0: not part of an observation
};

// Reads the `tianyu-publish dag` format: a JSON array of {"key", "command", "params", "site",
// "group", "depends_on": [keys or ids], "after": [keys or ids]?, "max_attempts"?,
// "observation_id"?}. `source` names the file in errors.
std::vector<ProcessSpec> parse_dag(const nlohmann::json& document, const std::string& source);

// Publishes the batch; returns key -> process id. Throws InputError naming the offending
// process; nothing is written then.
std::map<std::string, std::uint64_t> publish(db::Connection& c,
                                             const std::vector<ProcessSpec>& batch,
                                             ProcessIdGenerator& ids);

// Registers a site (or updates its root) and a group of a site; idempotent.
void ensure_site(db::Connection& c, const std::string& name, const std::string& root_path,
                 const std::string& host = "");
void ensure_group(db::Connection& c, const std::string& site, const std::string& group);

// {"counts": {state: n}, "total": n, "by_command": {...}, "by_group": {"site/group": {...}},
//  "failed": [{process_id, command, site, group, attempt, error}]}
// `observation_id`: only that observation's processes (0: all).
nlohmann::json status(db::Connection& c, std::uint64_t observation_id = 0);

// Re-runs a failed process (a fresh attempt budget) and revives the dependents its failure
// cancelled. Returns how many dependents were revived.
int retry(db::Connection& c, std::uint64_t process_id);

}  // namespace tianyu::publisher
