// select_frames: the quality rules over every frame of the observation that was aligned (a
// frame whose own steps failed has no quality row and is simply absent).
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/selection/quality.h"

namespace tianyu::consumer::steps {
namespace {

void select_observation_frames(StepContext& ctx) {
  const auto obs = observation_of(ctx);
  std::vector<std::uint64_t> ids;
  std::vector<pipeline::FrameQuality> quality;
  for (const auto& r : ctx.db->query(
           "SELECT frame_id, star_count, background_rms_adu, aligned, COALESCE(align_failure, ''), "
           "COALESCE(transparency, 0), trail_length_px FROM frame_quality WHERE observation_id = ? ORDER BY frame_id",
           {obs})) {
    ids.push_back(r.u64(0));
    quality.push_back({static_cast<int>(r.i64(1)), r.f64(2), r.i64(3) != 0, r.str(4), r.f64(5), r.f64(6)});
  }
  if (quality.empty()) throw InputError(fmt::format("observation {}: no frame was aligned", obs));
  const auto verdicts = pipeline::select_frames(quality);
  int good = 0;
  for (const auto& v : verdicts) good += v.good;
  if (good == 0) throw InputError(fmt::format("observation {}: every one of {} frames was rejected ({})", obs,
                                              verdicts.size(), verdicts.front().reason));
  spdlog::info("process {}: observation {}: {} of {} frames good", ctx.process_id, obs, good, verdicts.size());
  ctx.on_commit([=](db::Connection& c) {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      c.execute("UPDATE frame_quality SET good = ?, rejected_reason = ? WHERE frame_id = ?",
                {std::int64_t{verdicts[i].good}, verdicts[i].good ? db::Param(nullptr) : db::Param(verdicts[i].reason),
                 ids[i]});
    }
  });
}

}  // namespace

void register_select_step(StepRegistry& registry) { registry.add("select_frames", select_observation_frames); }

}  // namespace tianyu::consumer::steps
