// The observations list and one observation's summary.
#include <algorithm>
#include <cmath>
#include <map>

#include "web/read_model.h"

namespace tianyu::web {
namespace {

using nlohmann::json;

constexpr const char* kStates[] = {"waiting", "ready", "queued", "running",
                                   "retry_wait", "success", "failed", "cancelled"};

// Observation rows, optionally one: its target, site, night (UTC date of the first science
// frame) and science frame count.
json summaries(db::Connection& c, std::uint64_t only) {
  const std::string where = only ? " WHERE o.observation_id = ?" : "";
  std::vector<db::Param> params;
  if (only) params.emplace_back(only);
  json list = json::array();
  for (const auto& r : c.query(
           "SELECT o.observation_id, o.name, t.name, s.name, LEFT(MIN(f.start_utc), 10), COUNT(f.frame_id) "
           "FROM observation o JOIN target t ON t.target_id = o.target_id JOIN site s ON s.site_id = o.site_id "
           "LEFT JOIN raw_frame f ON f.observation_id = o.observation_id AND f.kind = 'science'" + where +
           " GROUP BY o.observation_id, o.name, t.name, s.name ORDER BY o.observation_id DESC LIMIT 500",
           params)) {
    json counts = json::object();
    for (const char* s : kStates) counts[s] = 0;
    list.push_back({{"observation_id", r.u64(0)}, {"name", r.str(1)}, {"target", r.str(2)},
                    {"site", r.str(3)}, {"night", r.opt_str(4).value_or("")}, {"frames", r.i64(5)},
                    {"counts", counts}, {"total", 0}, {"ended", 0}, {"progress", 0.0},
                    {"elapsed_s", nullptr}});
  }
  return list;
}

// Adds process counts, progress and elapsed time (first process created to last finished, or
// to now while work remains) to each summary.
void add_progress(db::Connection& c, json& list, std::uint64_t only) {
  std::map<std::uint64_t, json*> by_id;
  for (auto& o : list) by_id[o["observation_id"].get<std::uint64_t>()] = &o;
  const std::string where = only ? " AND observation_id = ?" : "";
  std::vector<db::Param> params;
  if (only) params.emplace_back(only);
  std::map<std::uint64_t, std::pair<double, double>> span;  // first created, last finished
  double now = 0;
  for (const auto& r : c.query(
           "SELECT observation_id, state, COUNT(*), UNIX_TIMESTAMP(MIN(created_at)), "
           "UNIX_TIMESTAMP(MAX(finished_at)), UNIX_TIMESTAMP(NOW(6)) FROM process "
           "WHERE observation_id IS NOT NULL" + where + " GROUP BY observation_id, state", params)) {
    const auto it = by_id.find(r.u64(0));
    if (it == by_id.end()) continue;
    json& o = *it->second;
    const std::string state = r.str(1);
    const auto n = r.i64(2);
    o["counts"][state] = n;
    o["total"] = o["total"].get<std::int64_t>() + n;
    if (state == "success" || state == "failed" || state == "cancelled") {
      o["ended"] = o["ended"].get<std::int64_t>() + n;
    }
    auto& [first, last] = span.try_emplace(r.u64(0), r.f64(3), 0.0).first->second;
    first = std::min(first, r.f64(3));
    if (!r.is_null(4)) last = std::max(last, r.f64(4));
    now = r.f64(5);
  }
  for (auto& [id, o] : by_id) {
    const auto total = (*o)["total"].get<std::int64_t>();
    const auto ended = (*o)["ended"].get<std::int64_t>();
    if (total == 0) continue;
    (*o)["progress"] = static_cast<double>(ended) / static_cast<double>(total);
    const auto& [first, last] = span[id];
    (*o)["elapsed_s"] = (ended == total ? last : now) - first;
  }
}

}  // namespace

json observations(db::Connection& c) {
  json list = summaries(c, 0);
  add_progress(c, list, 0);
  return {{"observations", list}};
}

json observation_summary(db::Connection& c, std::uint64_t observation_id) {
  json list = summaries(c, observation_id);
  if (list.empty()) throw NotFound("observation " + std::to_string(observation_id) + " does not exist");
  add_progress(c, list, observation_id);
  return list.front();
}

double quantile(std::vector<double>& values, double q) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  // Nearest rank: the smallest value with at least q of the values at or below it.
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace tianyu::web
