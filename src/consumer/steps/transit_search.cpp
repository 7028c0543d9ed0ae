// transit_search: every light curve of an observation through the single-transit model
// comparison (pipeline/transit/single_transit.h), ranked by log Bayes factor in SQL.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <thread>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/transit/single_transit.h"

namespace tianyu::consumer::steps {
namespace {

struct Curve {
  std::uint64_t source_id = 0;
  std::vector<double> t, f, e;
};

void search_observation(StepContext& ctx) {
  const auto obs = observation_of(ctx);
  as_step(fmt::format("transit search of observation {}", obs), [&] {
    std::map<std::uint64_t, Curve> by_source;
    for (const auto& r : ctx.db->query(
             "SELECT source_id, bjd_tdb, rel_flux, rel_flux_err FROM light_curve WHERE observation_id = ? AND flags = 0 "
             "AND rel_flux IS NOT NULL AND rel_flux > 0 ORDER BY source_id, bjd_tdb",
             {obs})) {
      auto& c = by_source[r.u64(0)];
      c.source_id = r.u64(0);
      c.t.push_back(r.f64(1));
      c.f.push_back(r.f64(2));
      c.e.push_back(r.f64(3));
    }
    std::vector<Curve> curves;
    for (auto& [id, c] : by_source) {
      if (c.t.size() >= 20) curves.push_back(std::move(c));
    }
    if (curves.empty()) throw InputError("no light curve with 20 clean points");
    // A coarser grid than the interactive default: every source of the night is searched.
    pipeline::SingleTransitOptions options;
    options.epochs = 48;
    options.durations = 8;
    options.noise_scales = 5;
    std::vector<pipeline::SingleTransitResult> results(curves.size());
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> pool;
    for (unsigned w = 0; w < std::max(1u, std::thread::hardware_concurrency()); ++w) {
      pool.emplace_back([&] {
        for (std::size_t i; (i = next.fetch_add(1)) < curves.size();) {
          const auto& c = curves[i];
          auto o = options;
          const double span = c.t.back() - c.t.front();
          const double cadence = span / (c.t.size() - 1);
          o.min_duration_d = std::max(0.01, 5 * cadence);
          o.max_duration_d = std::max(o.min_duration_d * 2, 0.5 * span);
          results[i] = pipeline::single_transit_bayes_factor(c.t, c.f, c.e, o);
        }
      });
    }
    for (auto& t : pool) t.join();
    std::vector<db::Param> rows;
    std::size_t best = 0;
    for (std::size_t i = 0; i < curves.size(); ++i) {
      const auto& r = results[i];
      if (r.ln_bayes_factor > results[best].ln_bayes_factor) best = i;
      rows.insert(rows.end(), {obs, curves[i].source_id, r.ln_bayes_factor, r.best_t0, r.best_duration, r.best_depth,
                               std::int64_t(curves[i].t.size())});
    }
    spdlog::info("process {}: observation {}: {} light curves searched; the strongest single transit is source {} "
                 "(ln BF {:.1f}, depth {:.2f} %)",
                 ctx.process_id, obs, curves.size(), curves[best].source_id, results[best].ln_bayes_factor,
                 100 * results[best].best_depth);
    ctx.on_commit([obs, rows = std::move(rows)](db::Connection& c) {
      c.execute("DELETE FROM transit_candidate WHERE observation_id = ?", {obs});
      db::insert_rows(c,
                      "INSERT INTO transit_candidate (observation_id, source_id, ln_bayes_factor, t0_bjd_tdb, duration_d, "
                      "depth, points) VALUES ",
                      "(?,?,?,?,?,?,?)", 7, rows, 500);
    });
  });
}

}  // namespace

void register_transit_search_step(StepRegistry& registry) { registry.add("transit_search", search_observation); }

}  // namespace tianyu::consumer::steps
