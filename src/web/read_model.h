#pragma once
// What the operators' pages show, read from the database as JSON: the HTML pages are drawn
// from exactly these documents, and the /api routes return them as they are. Every query is
// parameterised; nothing here writes. Numbers that `tianyu-publish status --json` also shows
// come from the same function (publisher::status), so the two never disagree.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/db.h"
#include "common/errors.h"

namespace tianyu::web {

// A route or id that names nothing: 404 with this message.
class NotFound : public InputError {
 public:
  using InputError::InputError;
};

// {"observations": [{observation_id, name, target, site, night, frames, counts{state:n}, total,
//   ended, progress, elapsed_s}]}, newest first.
nlohmann::json observations(db::Connection& c);

// One observation: the summary above plus "status" (publisher::status), "grid" (steps x frames),
// "failures", "rejected_frames", "diagnostics" (per frame over time) and "candidates".
nlohmann::json observation(db::Connection& c, std::uint64_t observation_id);

// Per step type: finished, median_s, p95_s over the observation; throughput: steps ended per
// minute since the first start.
nlohmann::json durations(db::Connection& c, std::uint64_t observation_id);

// A source's light curve: every point (bjd_tdb, rel_flux, rel_flux_err, flags), bins of `bin`
// unflagged points (mean time and flux), and its transit candidate if any.
nlohmann::json light_curve(db::Connection& c, std::uint64_t observation_id, std::uint64_t source_id,
                           int bin = 10);

// The summary row of one observation; NotFound when it does not exist.
nlohmann::json observation_summary(db::Connection& c, std::uint64_t observation_id);

// Median and p95 (nearest rank) of `values` (sorted in place); NaN when empty.
double quantile(std::vector<double>& values, double q);

}  // namespace tianyu::web
