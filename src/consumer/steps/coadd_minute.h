#pragma once
// coadd_minute (short-exposure mode, issue 17): the pure part of the adapter, which frames make
// up the minute, kept apart from the I/O so it can be tested without a database.
#include <cstdint>
#include <vector>

#include "consumer/steps/observation_store.h"
#include "consumer/steps/registry.h"
#include "pipeline/streaming/minute_coadd.h"

namespace tianyu::consumer::steps {

struct FrameTime {
  std::uint64_t frame_id = 0;
  double jd_utc_mid = 0;
};

// The frames of minute `minute` of a night whose science frames are `frames` (any order): those
// whose mid-exposure time is in [t0 + 60 minute, t0 + 60 (minute + 1)) s, t0 the earliest
// frame's; in time order. Times are compared to the millisecond, so a frame taken exactly on a
// minute's boundary (60 s / 174 x 174) starts the next minute whatever the rounding of its JD.
std::vector<std::uint64_t> frames_of_minute(std::vector<FrameTime> frames, std::uint64_t minute);

// The frames `ids` names, each checked to be one of the observation's science frames
// (`science`, in time order): InputError naming a frame that is not, or is named twice.
// Returned in time order, whatever order `ids` has.
std::vector<RawFrame> requested_frames(const std::vector<RawFrame>& science, const std::vector<std::uint64_t>& ids,
                                       std::uint64_t observation_id);

// The minute's one product (kind minute_stack): its sum, exposure map (from which its mask
// follows) and SEP catalogue, staged with its place in time (minute_time), so that the steps
// after it take the minute as a frame of the night. `frames` are the minute's, in time order.
void write_minute(StepContext& ctx, std::uint64_t obs, const std::string& label, const std::vector<RawFrame>& frames,
                  const pipeline::streaming::MinuteStack& stack, int threads);

}  // namespace tianyu::consumer::steps
