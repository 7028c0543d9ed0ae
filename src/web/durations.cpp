// How long each step type took over one observation, and how fast steps ended over time.
#include <algorithm>
#include <cmath>
#include <map>

#include "web/read_model.h"

namespace tianyu::web {
namespace {
using nlohmann::json;
}  // namespace

json durations(db::Connection& c, std::uint64_t observation_id) {
  observation_summary(c, observation_id);  // NotFound for an unknown observation
  std::map<std::string, std::vector<double>> by_step;
  std::vector<double> ended_at;  // seconds since the first start
  double first = INFINITY;
  const auto rows = c.query(
      "SELECT command, TIMESTAMPDIFF(MICROSECOND, started_at, finished_at) / 1e6, "
      "UNIX_TIMESTAMP(started_at), UNIX_TIMESTAMP(finished_at) FROM process "
      "WHERE observation_id = ? AND state = 'success' AND started_at IS NOT NULL "
      "AND finished_at IS NOT NULL", {observation_id});
  for (const auto& r : rows) first = std::min(first, r.f64(2));
  for (const auto& r : rows) {
    by_step[r.str(0)].push_back(r.f64(1));
    ended_at.push_back(r.f64(3) - first);
  }
  json steps = json::array();
  for (auto& [step, seconds] : by_step) {
    const auto n = seconds.size();
    double sum = 0;
    for (const double s : seconds) sum += s;
    steps.push_back({{"step", step}, {"finished", n}, {"median_s", quantile(seconds, 0.5)},
                     {"p95_s", quantile(seconds, 0.95)}, {"total_s", sum}});
  }
  // Throughput in about 30 bins of whole seconds: steps that ended per minute in each bin.
  const double span = ended_at.empty() ? 0 : *std::max_element(ended_at.begin(), ended_at.end());
  const double width = std::max(1.0, std::ceil(span / 30));
  std::vector<int> counts(static_cast<std::size_t>(span / width) + 1, 0);
  for (const double t : ended_at) ++counts[static_cast<std::size_t>(t / width)];
  json throughput = json::array();
  for (std::size_t i = 0; i < counts.size() && !ended_at.empty(); ++i) {
    throughput.push_back({{"from_s", static_cast<double>(i) * width},
                          {"steps_per_min", counts[i] * 60.0 / width}});
  }
  return {{"observation_id", observation_id}, {"steps", steps}, {"bin_s", width},
          {"throughput", throughput}};
}

json light_curve(db::Connection& c, std::uint64_t observation_id, std::uint64_t source_id, int bin) {
  const auto source = c.query("SELECT x_px, y_px, template_flux FROM source WHERE observation_id = ? "
                              "AND source_id = ?", {observation_id, source_id});
  if (source.empty()) {
    throw NotFound("source " + std::to_string(source_id) + " of observation " +
                   std::to_string(observation_id) + " does not exist");
  }
  json points = json::array(), bins = json::array();
  double t_sum = 0, f_sum = 0;
  int in_bin = 0;
  // Points without a flux or a time cannot be drawn: the light curve is the rows that have both.
  for (const auto& r : c.query("SELECT frame_id, bjd_tdb, rel_flux, rel_flux_err, flags FROM light_curve "
                               "WHERE observation_id = ? AND source_id = ? AND rel_flux IS NOT NULL "
                               "AND bjd_tdb IS NOT NULL ORDER BY bjd_tdb, frame_id",
                               {observation_id, source_id})) {
    const auto flags = r.i64(4);
    points.push_back({{"frame_id", r.u64(0)}, {"bjd_tdb", r.f64(1)}, {"rel_flux", r.f64(2)},
                      {"rel_flux_err", r.is_null(3) ? json(nullptr) : json(r.f64(3))}, {"flags", flags}});
    if (flags != 0) continue;  // flagged points are shown, not binned
    t_sum += r.f64(1);
    f_sum += r.f64(2);
    if (++in_bin == bin) {
      bins.push_back({{"bjd_tdb", t_sum / bin}, {"rel_flux", f_sum / bin}, {"points", bin}});
      t_sum = f_sum = 0;
      in_bin = 0;
    }
  }
  if (in_bin > 0) bins.push_back({{"bjd_tdb", t_sum / in_bin}, {"rel_flux", f_sum / in_bin}, {"points", in_bin}});
  json candidate = nullptr;
  for (const auto& r : c.query("SELECT ln_bayes_factor, t0_bjd_tdb, duration_d, depth, points FROM transit_candidate "
                               "WHERE observation_id = ? AND source_id = ?", {observation_id, source_id})) {
    candidate = {{"ln_bayes_factor", r.f64(0)}, {"t0_bjd_tdb", r.f64(1)}, {"duration_d", r.f64(2)},
                 {"depth", r.f64(3)}, {"points", r.i64(4)}};
  }
  const auto& s = source.front();
  return {{"observation_id", observation_id}, {"source_id", source_id}, {"x_px", s.f64(0)}, {"y_px", s.f64(1)},
          {"template_flux", s.f64(2)}, {"bin", bin}, {"points", points}, {"bins", bins},
          {"candidate", candidate}};
}

}  // namespace tianyu::web
