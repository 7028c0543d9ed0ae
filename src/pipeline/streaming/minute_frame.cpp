#include "pipeline/streaming/minute_frame.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>

#include "pipeline/calibration/calibrate.h"

namespace tianyu::pipeline::streaming {

std::vector<std::uint64_t> minute_indices(const std::vector<double>& jd_utc_mid) {
  std::vector<std::uint64_t> out(jd_utc_mid.size(), 0);
  if (jd_utc_mid.empty()) return out;
  const double t0 = *std::min_element(jd_utc_mid.begin(), jd_utc_mid.end());
  for (std::size_t i = 0; i < jd_utc_mid.size(); ++i) {
    const long long ms = std::llround((jd_utc_mid[i] - t0) * 86'400'000.0);
    out[i] = static_cast<std::uint64_t>(ms / 60'000);
  }
  return out;
}

std::string coherent_master_noise_advice(const std::string& kind, int calibration_frames,
                                         std::size_t frames_per_minute) {
  const auto n = static_cast<double>(calibration_frames), frames = static_cast<double>(frames_per_minute);
  if (calibration_frames <= 0 || n >= frames) return "";
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << calibration_frames << ' ' << kind << " frames for minutes of up to " << frames_per_minute
      << " short frames: the master " << kind << "'s own noise is the same in every frame and adds up in each "
      << "minute's sum (" << frames_per_minute << "/sqrt(" << calibration_frames << ") = " << frames / std::sqrt(n)
      << " x a frame's read noise, against sqrt(" << frames_per_minute << ") = " << std::sqrt(frames)
      << " x from the frames themselves); take at least " << frames_per_minute << ' ' << kind << " frames";
  return out.str();
}

std::vector<std::vector<std::size_t>> minute_groups(const std::vector<double>& jd_utc_mid) {
  std::vector<std::size_t> order(jd_utc_mid.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return jd_utc_mid[a] < jd_utc_mid[b]; });
  const auto minute = minute_indices(jd_utc_mid);
  std::map<std::uint64_t, std::vector<std::size_t>> groups;
  for (const auto i : order) groups[minute[i]].push_back(i);
  std::vector<std::vector<std::size_t>> out;
  out.reserve(groups.size());
  for (auto& [k, frames] : groups) out.push_back(std::move(frames));
  return out;
}

std::vector<std::uint8_t> partial_exposure_mask(const Image& exposure_s) {
  std::vector<std::uint8_t> mask(exposure_s.pixels.size(), 0);
  if (exposure_s.pixels.empty()) return mask;
  const float full = *std::max_element(exposure_s.pixels.begin(), exposure_s.pixels.end());
  // Exposures are sums of one frame time: half a frame short is a frame short.
  const float tolerance = full * 1e-4f;
  for (std::size_t i = 0; i < mask.size(); ++i) {
    if (!(exposure_s.pixels[i] >= full - tolerance) || !(full > 0)) mask[i] = kPartialExposure;
  }
  return mask;
}

MinuteFrame describe_minute(const MinuteStack& minute, int threads) {
  MinuteFrame out;
  out.mask = partial_exposure_mask(minute.exposure_s);
  // The calibration's sky model and pixel checks on the sum, with no masters: nothing in a
  // minute stack is saturated any more (the co-add left those pixels out, and the exposure map
  // says where).
  CalibrationOptions options;
  options.saturation_adu = std::numeric_limits<double>::infinity();
  options.threads = threads;
  const auto sky = pipeline::calibrate(minute.sum, minute.exptime_s * minute.frames, pipeline::Masters{}, options);
  for (std::size_t i = 0; i < out.mask.size(); ++i) out.mask[i] |= sky.mask[i];
  out.background = sky.background;
  out.background_rms = sky.background_rms;
  out.masked = static_cast<std::size_t>(std::count_if(out.mask.begin(), out.mask.end(), [](auto m) { return m != 0; }));
  out.sources = extract_sources(sky.image, &out.mask, sky.background_rms);
  return out;
}

}  // namespace tianyu::pipeline::streaming
