#include "consumer/steps/light_curve_query.h"

#include "common/light_curve_rows.h"

namespace tianyu::consumer::steps {

std::vector<SourceLightCurve> read_light_curves(db::Connection& db, std::uint64_t obs) {
  std::vector<SourceLightCurve> out;
  lightcurves::each_source(db, obs, {.clean_only = true},
                           [&](std::uint64_t source_id, const std::vector<lightcurves::Point>& points) {
                             auto& c = out.emplace_back(SourceLightCurve{source_id, {}}).curve;
                             for (const auto& p : points) {
                               c.time.push_back(p.bjd_tdb);
                               c.flux.push_back(*p.rel_flux);
                               c.flux_err.push_back(*p.rel_flux_err);
                             }
                           });
  return out;
}

}  // namespace tianyu::consumer::steps
