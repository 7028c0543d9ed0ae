#pragma once
// An observation's light curves, source by source, each in time order: the light_curve view's
// rows (relative_flux with each frame's mid-exposure BJD_TDB, its minute's where it stands for
// one), read without the view's ORDER BY source_id, bjd_tdb. That sort made the server join
// and sort a night's 575,000 points in a temporary table (~1 s on one core, with the client
// waiting); here the points come in relative_flux's key order and the frames' times (a few
// hundred) are looked up and sorted on per source.
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "common/db.h"

namespace tianyu::lightcurves {

struct Point {
  std::uint64_t frame_id = 0;
  double bjd_tdb = 0;
  std::optional<double> rel_flux, rel_flux_err;
  std::uint32_t flags = 0;
};

struct Selection {
  // Only the points the transit search uses: flags 0 and a positive relative flux.
  bool clean_only = false;
};

// Hands `visit` each source's points (time order; points at the same time in frame order), by
// source id. A point whose frame has no raw_frame row is left out, as the view's join leaves it;
// a point at a frame without a mid-exposure time is an InputError naming the frame.
void each_source(db::Connection& db, std::uint64_t observation_id, const Selection& selection,
                 const std::function<void(std::uint64_t source_id, const std::vector<Point>&)>& visit);

}  // namespace tianyu::lightcurves
