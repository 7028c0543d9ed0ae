// select_frames: the quality rules over every frame of the observation that was aligned (a
// frame whose own steps failed has no quality row and is simply absent).
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/selection/quality.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

void select_observation_frames(StepContext& ctx, const contract::ObservationParams& params) {
  const auto obs = params.observation_id;
  auto& store = ctx.observation_store();
  std::vector<std::uint64_t> ids;
  std::vector<pipeline::FrameQuality> quality;
  for (auto& row : store.frame_quality(obs)) {
    ids.push_back(row.frame_id);
    quality.push_back(std::move(row.quality));
  }
  if (quality.empty()) throw InputError(fmt::format("observation {}: no frame was aligned", obs));
  const auto verdicts = pipeline::select_frames(quality);
  int good = 0;
  for (const auto& v : verdicts) good += v.good;
  if (good == 0) {
    throw InputError(fmt::format("observation {}: every one of {} frames was rejected ({})", obs, verdicts.size(),
                                 verdicts.front().reason));
  }
  spdlog::info("process {}: observation {}: {} of {} frames good", ctx.process_id, obs, good, verdicts.size());
  std::vector<FrameVerdict> staged;
  for (std::size_t i = 0; i < ids.size(); ++i) staged.push_back({ids[i], verdicts[i].good, verdicts[i].reason});
  store.stage_frame_verdicts(std::move(staged));
}

}  // namespace

void register_select_step(StepRegistry& registry) {
  registry.add<contract::ObservationParams>("select_frames", select_observation_frames);
}

}  // namespace tianyu::consumer::steps
