#include "publisher/publisher.h"

#include <algorithm>
#include <deque>
#include <set>
#include <unordered_map>

#include <spdlog/fmt/fmt.h>

#include "common/errors.h"
#include "common/names.h"
#include "steps/catalogue.h"
#include "common/process_store.h"

namespace tianyu::publisher {
namespace {

using json = nlohmann::json;

constexpr const char* kStates[] = {"waiting", "ready",   "queued",    "running",
                                   "retry_wait", "success", "failed", "cancelled"};

std::string describe(const ProcessSpec& p) { return fmt::format("process '{}'", p.key); }

// Both kinds of parent: depends_on (needs success) then after (needs an end).
std::vector<Dependency> parents_of(const ProcessSpec& p) {
  std::vector<Dependency> all = p.depends_on;
  all.insert(all.end(), p.after.begin(), p.after.end());
  return all;
}

bool is_final(const std::string& state) {
  return state == "success" || state == "failed" || state == "cancelled";
}

void validate(const std::vector<ProcessSpec>& batch) {
  if (batch.empty()) throw InputError("the batch is empty");
  std::set<std::string> keys;
  for (const auto& p : batch) {
    if (p.key.empty()) throw InputError("a process has an empty key");
    if (!keys.insert(p.key).second) throw InputError(fmt::format("duplicate key '{}'", p.key));
    if (p.command.empty() || p.command.size() > 64) {
      throw InputError(describe(p) + ": command must be 1-64 characters");
    }
    if (!p.params.is_object()) throw InputError(describe(p) + ": params must be a JSON object");
    if (p.max_attempts < 1) throw InputError(describe(p) + ": max_attempts must be at least 1");
    try {
      require_valid_name("site", p.site);
      require_valid_name("group", p.group);
      // The step's typed params: an unknown command, an unknown or mistyped field is refused
      // here, naming it, before anything is written (src/steps).
      steps::normalised_params(p.command, p.params);
    } catch (const InputError& e) {
      throw InputError(describe(p) + ": " + e.what());
    }
  }
  for (const auto& p : batch) {
    for (const auto& d : parents_of(p)) {
      if (const auto* key = std::get_if<std::string>(&d); key && !keys.count(*key)) {
        throw InputError(fmt::format("{} depends on unknown key '{}'", describe(p), *key));
      }
    }
  }
}

// Kahn's algorithm over the in-batch edges; on a cycle, names the processes on it.
void check_acyclic(const std::vector<ProcessSpec>& batch) {
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < batch.size(); ++i) index[batch[i].key] = i;
  std::vector<std::vector<std::size_t>> children(batch.size());
  std::vector<int> indegree(batch.size(), 0);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    std::set<std::string> seen;
    for (const auto& d : parents_of(batch[i])) {
      if (const auto* key = std::get_if<std::string>(&d); key && seen.insert(*key).second) {
        children[index[*key]].push_back(i);
        ++indegree[i];
      }
    }
  }
  std::deque<std::size_t> ready;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (indegree[i] == 0) ready.push_back(i);
  }
  std::size_t done = 0;
  while (!ready.empty()) {
    const auto i = ready.front();
    ready.pop_front();
    ++done;
    for (auto c : children[i]) {
      if (--indegree[c] == 0) ready.push_back(c);
    }
  }
  if (done == batch.size()) return;
  // Walk parents inside the remainder until a process repeats: that is a cycle.
  std::size_t at = 0;
  while (indegree[at] == 0) ++at;
  std::vector<std::size_t> path;
  std::vector<int> position(batch.size(), -1);
  while (position[at] < 0) {
    position[at] = static_cast<int>(path.size());
    path.push_back(at);
    for (const auto& d : parents_of(batch[at])) {
      const auto* key = std::get_if<std::string>(&d);
      if (key && indegree[index[*key]] > 0) {
        at = index[*key];
        break;
      }
    }
  }
  std::string cycle;
  for (auto k = static_cast<std::size_t>(position[at]); k < path.size(); ++k) {
    cycle += "'" + batch[path[k]].key + "' -> ";
  }
  throw InputError(fmt::format("dependency cycle: {}'{}' (process '{}' depends on itself "
                               "through it)",
                               cycle, batch[at].key, batch[at].key));
}

std::map<std::pair<std::string, std::string>, std::uint64_t> group_ids(db::Connection& c) {
  std::map<std::pair<std::string, std::string>, std::uint64_t> out;
  for (const auto& r : c.query("SELECT s.name, g.name, g.group_id FROM process_group g "
                               "JOIN site s ON s.site_id = g.site_id")) {
    out[{r.str(0), r.str(1)}] = r.u64(2);
  }
  return out;
}

std::uint64_t resolve_group(const ProcessSpec& p,
                            const std::map<std::pair<std::string, std::string>, std::uint64_t>& g,
                            db::Connection& c) {
  if (auto it = g.find({p.site, p.group}); it != g.end()) return it->second;
  const auto site = c.query_one("SELECT COUNT(*) FROM site WHERE name = ?", {p.site});
  if (site.i64(0) == 0) throw InputError(fmt::format("{}: unknown site '{}'", describe(p), p.site));
  throw InputError(
      fmt::format("{}: unknown group '{}' at site '{}'", describe(p), p.group, p.site));
}

}  // namespace

namespace {

// The fields of a DAG file's element: anything else (a misspelt "depend_on") is refused, not
// silently dropped.
const std::set<std::string> kDagFields = {"key",       "command", "params",     "site",          "group",
                                          "depends_on", "after",   "max_attempts", "observation_id"};

void read_dependencies(const json& item, const std::string& where, ProcessSpec& p) {
  for (const char* field : {"depends_on", "after"}) {
    if (!item.contains(field)) continue;
    if (!item[field].is_array()) {
      throw InputError(fmt::format("{} ('{}'): field '{}' must be an array", where, p.key, field));
    }
    auto& into = std::string(field) == "after" ? p.after : p.depends_on;
    for (const auto& d : item[field]) {
      if (d.is_string()) {
        into.emplace_back(d.get<std::string>());
      } else if (d.is_number_unsigned()) {
        into.emplace_back(d.get<std::uint64_t>());
      } else {
        throw InputError(where + " ('" + p.key + "'): a dependency must be a key or a process id");
      }
    }
  }
}

void read_numbers(const json& item, const std::string& where, ProcessSpec& p) {
  if (item.contains("max_attempts")) {
    if (!item["max_attempts"].is_number_integer()) {
      throw InputError(where + " ('" + p.key + "'): field 'max_attempts' must be an integer");
    }
    p.max_attempts = item["max_attempts"].get<int>();
  }
  if (item.contains("observation_id")) {
    if (!item["observation_id"].is_number_unsigned()) {
      throw InputError(where + " ('" + p.key + "'): field 'observation_id' must be a positive integer");
    }
    p.observation_id = item["observation_id"].get<std::uint64_t>();
  }
}

ProcessSpec parse_process(const json& item, const std::string& where) {
  if (!item.is_object()) throw InputError(where + " is not an object");
  for (const auto& [field, value] : item.items()) {
    if (!kDagFields.count(field)) {
      throw InputError(fmt::format("{}: unknown field '{}' (known: key, command, params, site, group, depends_on, "
                                   "after, max_attempts, observation_id)",
                                   where, field));
    }
  }
  auto text = [&](const char* field) {
    if (!item.contains(field) || !item[field].is_string()) {
      throw InputError(fmt::format("{}: field '{}' must be a string", where, field));
    }
    return item[field].get<std::string>();
  };
  ProcessSpec p;
  p.key = text("key");
  p.command = text("command");
  p.site = text("site");
  p.group = text("group");
  for (const auto& [what, name] : {std::pair<const char*, const std::string&>{"site", p.site}, {"group", p.group}}) {
    try {
      require_valid_name(what, name);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{} ('{}'): field '{}': {}", where, p.key, what, e.what()));
    }
  }
  if (item.contains("params")) p.params = item["params"];
  read_numbers(item, where, p);
  read_dependencies(item, where, p);
  return p;
}

}  // namespace

std::vector<ProcessSpec> parse_dag(const json& document, const std::string& source) {
  if (!document.is_array()) throw InputError(source + ": a DAG file must be a JSON array");
  std::vector<ProcessSpec> batch;
  for (std::size_t i = 0; i < document.size(); ++i) {
    batch.push_back(parse_process(document[i], fmt::format("{}: element {}", source, i)));
  }
  return batch;
}

namespace {

using GroupOf = std::vector<std::uint64_t>;  // the group id of each process of the batch
using ParentStates = std::map<std::uint64_t, std::string>;

// Locks the existing parents: one finishing now waits for our commit, then sees our edges and
// decrements our counters; one already finished is counted as done. Refuses the batch when a
// parent does not exist, or when a process needs the success of one that failed.
ParentStates lock_existing_parents(db::Connection& c, const std::vector<ProcessSpec>& batch,
                                   const std::set<std::uint64_t>& existing) {
  ParentStates parent_state;
  if (!existing.empty()) {
    for (const auto& r : c.query(fmt::format(
             "SELECT process_id, state FROM process WHERE process_id IN ({}) FOR UPDATE",
             process::id_list({existing.begin(), existing.end()})))) {
      parent_state[r.u64(0)] = r.str(1);
    }
  }
  for (const auto& p : batch) {
    for (const auto& d : parents_of(p)) {
      const auto* id = std::get_if<std::uint64_t>(&d);
      if (id && !parent_state.count(*id)) {
        throw InputError(
            fmt::format("{} depends on process {}, which does not exist", describe(p), *id));
      }
    }
    for (const auto& d : p.depends_on) {
      const auto* id = std::get_if<std::uint64_t>(&d);
      if (!id) continue;
      const auto& state = parent_state.at(*id);
      if (state == "failed" || state == "cancelled") {
        throw InputError(fmt::format("{} depends on process {}, which is {}: retry it first",
                                     describe(p), *id, state));
      }
    }
  }
  return parent_state;
}

// Inserts the batch's process rows and dependency edges under the ids in `assigned`.
void insert_batch(db::Connection& c, const std::vector<ProcessSpec>& batch, const GroupOf& group_of,
                  const std::map<std::string, std::uint64_t>& assigned,
                  const ParentStates& parent_state) {
  std::vector<db::Param> rows;
  std::vector<db::Param> edges;
  const auto resolve = [&](const Dependency& d) {
    return std::holds_alternative<std::string>(d) ? assigned.at(std::get<std::string>(d))
                                                  : std::get<std::uint64_t>(d);
  };
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& p = batch[i];
    // parent -> needs success (true) or only an end (false); "needs success" wins.
    std::map<std::uint64_t, bool> parents;
    for (const auto& d : p.after) parents.emplace(resolve(d), false);
    for (const auto& d : p.depends_on) parents[resolve(d)] = true;
    std::uint64_t pending = 0;
    for (const auto& [parent, needs_success] : parents) {
      auto st = parent_state.find(parent);
      const bool done = st != parent_state.end() &&
                        (needs_success ? st->second == "success" : is_final(st->second));
      if (!done) ++pending;
      edges.insert(edges.end(), {assigned.at(p.key), parent,
                                 std::string(needs_success ? "cancel" : "proceed")});
    }
    rows.insert(rows.end(), {assigned.at(p.key), p.command, p.params.dump(), group_of[i],
                             std::string(pending == 0 ? "ready" : "waiting"), pending,
                             std::uint64_t(p.max_attempts),
                             p.observation_id ? db::Param(p.observation_id) : db::Param(nullptr)});
  }
  db::insert_rows(c,
                  "INSERT INTO process (process_id, command, params, group_id, state, "
                  "pending_deps, max_attempts, observation_id) VALUES ",
                  "(?,?,?,?,?,?,?,?)", 8, rows, 200);
  if (!edges.empty()) {
    db::insert_rows(c,
                    "INSERT INTO process_dependency (process_id, depends_on_id, on_failure) VALUES ",
                    "(?,?,?)", 3, edges, 500);
  }
}

}  // namespace

std::map<std::string, std::uint64_t> publish(db::Connection& c,
                                             const std::vector<ProcessSpec>& batch,
                                             ProcessIdGenerator& ids) {
  validate(batch);
  check_acyclic(batch);
  const auto groups = group_ids(c);
  GroupOf group_of;
  std::set<std::uint64_t> existing;
  for (const auto& p : batch) {
    group_of.push_back(resolve_group(p, groups, c));
    for (const auto& d : parents_of(p)) {
      if (const auto* id = std::get_if<std::uint64_t>(&d)) existing.insert(*id);
    }
  }
  std::map<std::string, std::uint64_t> assigned;
  for (int collision = 0;; ++collision) {
    try {
      process::with_transaction(c, [&] {
        const auto parent_state = lock_existing_parents(c, batch, existing);
        assigned.clear();
        for (const auto& p : batch) assigned[p.key] = ids.next();
        insert_batch(c, batch, group_of, assigned, parent_state);
      });
      return assigned;
    } catch (const db::DbError& e) {
      // Another publisher drew the same generator id in the same millisecond: draw again.
      if (e.code() != 1062 || collision >= 5) throw;
      ids.redraw();
    }
  }
}

void ensure_site(db::Connection& c, const std::string& name, const std::string& root_path,
                 const std::string& host) {
  require_valid_name("site", name);
  c.execute(
      "INSERT INTO site (name, root_path, host) VALUES (?, ?, ?) "
      "ON DUPLICATE KEY UPDATE root_path = VALUES(root_path), host = VALUES(host)",
      {name, root_path, host.empty() ? db::Param(nullptr) : db::Param(host)});
}

void ensure_group(db::Connection& c, const std::string& site, const std::string& group) {
  require_valid_name("site", site);
  require_valid_name("group", group);
  const auto n = c.execute(
      "INSERT IGNORE INTO process_group (site_id, name) SELECT site_id, ? FROM site WHERE name = ?",
      {group, site});
  if (n == 0 && c.query_one("SELECT COUNT(*) FROM site WHERE name = ?", {site}).i64(0) == 0) {
    throw InputError(fmt::format("unknown site '{}': add it first", site));
  }
}

json status(db::Connection& c, std::uint64_t observation_id) {
  const std::string only = observation_id ? fmt::format(" WHERE p.observation_id = {}", observation_id) : "";
  const std::string and_only = observation_id ? fmt::format(" AND p.observation_id = {}", observation_id) : "";
  json counts = json::object();
  for (const char* s : kStates) counts[s] = 0;
  json by_command = json::object();
  json by_group = json::object();
  std::int64_t total = 0;
  for (const auto& r : c.query(
           "SELECT p.command, s.name, g.name, p.state, COUNT(*) FROM process p "
           "JOIN process_group g ON g.group_id = p.group_id JOIN site s ON s.site_id = g.site_id" + only +
           " GROUP BY p.command, s.name, g.name, p.state")) {
    const auto n = r.i64(4);
    const std::string state = r.str(3);
    counts[state] = counts[state].get<std::int64_t>() + n;
    for (json* bucket : {&by_command[r.str(0)], &by_group[r.str(1) + "/" + r.str(2)]}) {
      if (bucket->is_null()) *bucket = json::object();
      (*bucket)[state] = bucket->value(state, std::int64_t{0}) + n;
    }
    total += n;
  }
  json failed = json::array();
  for (const auto& r : c.query(
           "SELECT p.process_id, p.command, s.name, g.name, p.attempt, p.error FROM process p "
           "JOIN process_group g ON g.group_id = p.group_id JOIN site s ON s.site_id = g.site_id "
           "WHERE p.state = 'failed'" + and_only + " ORDER BY p.finished_at DESC LIMIT 100")) {
    failed.push_back({{"process_id", r.u64(0)}, {"command", r.str(1)}, {"site", r.str(2)},
                      {"group", r.str(3)}, {"attempt", r.u64(4)},
                      {"error", r.opt_str(5).value_or("")}});
  }
  return {{"counts", counts}, {"total", total}, {"by_command", by_command},
          {"by_group", by_group}, {"failed", failed}};
}

namespace {

struct Parent {
  std::uint64_t id;
  bool needs_success;
};

// Revives, parents first, every cancelled descendant none of whose needed parents is still
// failed or cancelled (a dependent of another failure stays cancelled). Every row read is
// locked (FOR UPDATE): a parent finishing meanwhile waits for this transaction, so the
// counters computed here stay true. Appends the revived to `reopened`; returns how many.
int revive_descendants(db::Connection& c, std::uint64_t process_id,
                       std::vector<std::uint64_t>& reopened) {
  std::vector<std::uint64_t> descendants;
  for (const auto& r : c.query(std::string(process::kNeedsSuccessOfCte) + " SELECT id FROM descendant",
                               {process_id})) {
    descendants.push_back(r.u64(0));
  }
  if (descendants.empty()) return 0;
  const std::string in = process::id_list(descendants);
  std::map<std::uint64_t, std::string> states;
  std::map<std::uint64_t, std::vector<Parent>> parents;
  for (const auto& r : c.query(fmt::format(
           "SELECT d.process_id, d.depends_on_id, p.state, d.on_failure FROM process_dependency d "
           "JOIN process p ON p.process_id = d.depends_on_id WHERE d.process_id IN ({}) "
           "ORDER BY p.process_id FOR UPDATE", in))) {
    parents[r.u64(0)].push_back({r.u64(1), r.str(3) == "cancel"});
    states.emplace(r.u64(1), r.str(2));
  }
  for (const auto& r : c.query(fmt::format(
           "SELECT process_id, state FROM process WHERE process_id IN ({}) FOR UPDATE", in))) {
    states[r.u64(0)] = r.str(1);
  }
  states[process_id] = "ready";
  int revived = 0;
  for (bool changed = true; changed;) {
    changed = false;
    for (auto id : descendants) {
      if (states[id] != "cancelled") continue;
      const auto& ps = parents[id];
      const bool blocked = std::any_of(ps.begin(), ps.end(), [&](const Parent& p) {
        return p.needs_success && (states[p.id] == "failed" || states[p.id] == "cancelled");
      });
      if (blocked) continue;
      const auto pending = std::count_if(ps.begin(), ps.end(), [&](const Parent& p) {
        return p.needs_success ? states[p.id] != "success" : !is_final(states[p.id]);
      });
      states[id] = pending == 0 ? "ready" : "waiting";
      c.execute(
          "UPDATE process SET state = ?, pending_deps = ?, error = NULL, finished_at = NULL, "
          "not_before = NOW(6) WHERE process_id = ? AND state = 'cancelled'",
          {states[id], std::uint64_t(pending), id});
      reopened.push_back(id);
      ++revived;
      changed = true;
    }
  }
  return revived;
}

// A 'proceed' child still waiting (or ready, not yet dispatched) counted the reopened
// processes as ended: it waits for them again. One already dispatched ran without them; one
// revived here had its counter computed afresh.
void rewait_proceed_children(db::Connection& c, const std::vector<std::uint64_t>& reopened) {
  const auto children = c.query(fmt::format(
      "SELECT d.process_id, COUNT(*) FROM process_dependency d JOIN process p "
      "ON p.process_id = d.process_id WHERE d.on_failure = 'proceed' AND d.depends_on_id IN ({0}) "
      "AND p.state IN ('waiting', 'ready') AND d.process_id NOT IN ({0}) GROUP BY d.process_id "
      "FOR UPDATE",
      process::id_list(reopened)));
  for (const auto& r : children) {
    c.execute(
        "UPDATE process SET state = 'waiting', pending_deps = pending_deps + ? "
        "WHERE process_id = ? AND state IN ('waiting', 'ready')",
        {r.u64(1), r.u64(0)});
  }
}

}  // namespace

int retry(db::Connection& c, std::uint64_t process_id) {
  int revived = 0;
  process::with_transaction(c, [&] {
    const auto rows =
        c.query("SELECT state FROM process WHERE process_id = ? FOR UPDATE", {process_id});
    if (rows.empty()) throw InputError(fmt::format("process {} does not exist", process_id));
    const std::string state = rows.front().str(0);
    if (state != "failed") {
      throw InputError(fmt::format("process {} is {}, not failed: only a failed process can be "
                                   "retried",
                                   process_id, state));
    }
    c.execute(
        "UPDATE process SET state = 'ready', attempt_floor = attempt, error = NULL, "
        "not_before = NOW(6), finished_at = NULL WHERE process_id = ?",
        {process_id});
    std::vector<std::uint64_t> reopened{process_id};
    revived = revive_descendants(c, process_id, reopened);
    rewait_proceed_children(c, reopened);
  });
  return revived;
}

}  // namespace tianyu::publisher
