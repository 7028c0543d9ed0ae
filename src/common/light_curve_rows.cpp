#include "common/light_curve_rows.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/fmt/fmt.h>

#include "common/errors.h"

namespace tianyu::lightcurves {
namespace {

// Each frame's time as the view gives it; frames of another observation (which relative_flux
// rows may name) are asked for one by one, and a frame with no row is remembered as absent.
class FrameTimes {
 public:
  FrameTimes(db::Connection& db, std::uint64_t observation_id) : db_(db), observation_id_(observation_id) {
    keep(db_.query(kSql + "f.observation_id = ?", {observation_id}));
  }

  // Null: the frame has no raw_frame row.
  const double* of(std::uint64_t frame_id) {
    auto it = time_.find(frame_id);
    if (it == time_.end()) {
      if (absent_.count(frame_id)) return nullptr;
      keep(db_.query(kSql + "f.frame_id = ?", {frame_id}));
      it = time_.find(frame_id);
      if (it == time_.end()) {
        absent_.insert(frame_id);
        return nullptr;
      }
    }
    if (!it->second) {
      throw InputError(fmt::format("frame {} of observation {}'s light curves has no mid-exposure time "
                                   "(raw_frame.bjd_tdb_mid)",
                                   frame_id, observation_id_));
    }
    return &*it->second;
  }

 private:
  inline static const std::string kSql =
      "SELECT f.frame_id, COALESCE(m.bjd_tdb_mid, f.bjd_tdb_mid) FROM raw_frame f "
      "LEFT JOIN minute_time m ON m.frame_id = f.frame_id WHERE ";
  void keep(const db::Rows& rows) {
    for (const auto& r : rows) time_[r.u64(0)] = r.is_null(1) ? std::nullopt : std::optional(r.f64(1));
  }

  db::Connection& db_;
  std::uint64_t observation_id_;
  std::unordered_map<std::uint64_t, std::optional<double>> time_;
  std::unordered_set<std::uint64_t> absent_;
};

std::optional<double> optional_f64(const db::Row& r, std::size_t i) {
  return r.is_null(i) ? std::nullopt : std::optional(r.f64(i));
}

}  // namespace

void each_source(db::Connection& db, std::uint64_t observation_id, const Selection& selection,
                 const std::function<void(std::uint64_t, const std::vector<Point>&)>& visit) {
  struct Row {
    std::uint64_t source_id;
    Point point;
  };
  std::vector<Row> rows;  // read whole first: no other statement runs while a result streams
  db.query_each(fmt::format("SELECT source_id, frame_id, rel_flux, rel_flux_err, flags FROM relative_flux "
                            "WHERE observation_id = ? {}ORDER BY source_id, frame_id",
                            selection.clean_only ? "AND flags = 0 AND rel_flux IS NOT NULL AND rel_flux > 0 " : ""),
                {observation_id}, [&](const db::Row& r) {
                  rows.push_back({r.u64(0), {r.u64(1), 0, optional_f64(r, 2), optional_f64(r, 3),
                                             static_cast<std::uint32_t>(r.i64(4))}});
                });
  FrameTimes times(db, observation_id);
  std::vector<Point> curve;
  for (std::size_t i = 0; i < rows.size();) {
    const auto source = rows[i].source_id;
    curve.clear();
    for (; i < rows.size() && rows[i].source_id == source; ++i) {
      const double* t = times.of(rows[i].point.frame_id);
      if (!t) continue;
      curve.push_back(rows[i].point);
      curve.back().bjd_tdb = *t;
    }
    std::stable_sort(curve.begin(), curve.end(), [](const Point& a, const Point& b) { return a.bjd_tdb < b.bjd_tdb; });
    if (!curve.empty()) visit(source, curve);
  }
}

}  // namespace tianyu::lightcurves
