#pragma once
// An observation's light curves as the transit search reads them: the light_curve view's clean
// points (flags 0, a positive relative flux), each source's in time order
// (common/light_curve_rows.h says how they are read without the view's sort).
#include <cstdint>
#include <vector>

#include "common/db.h"
#include "consumer/steps/observation_store.h"

namespace tianyu::consumer::steps {

// Points at the same time keep their frames' order. A point whose frame has no raw_frame row is
// left out, as the view's join leaves it; a frame without a mid-exposure time is an InputError.
std::vector<SourceLightCurve> read_light_curves(db::Connection& db, std::uint64_t observation_id);

}  // namespace tianyu::consumer::steps
