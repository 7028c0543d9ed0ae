#include "pipeline/sim/night.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>

#include "pipeline/parallel.h"
#include "pipeline/sim/night_parts.h"

namespace tianyu::pipeline::sim {
namespace detail {

Night::Night(const SimConfig& c, std::filesystem::path out) : c_(c), out_(std::move(out)) {
  make_camera();
  make_frames();
  make_catalogue();
}

NightSummary Night::write(int threads, const std::function<void(int, int)>& progress) {
  std::filesystem::create_directories(out_ / "raw");
  std::filesystem::create_directories(out_ / "calib");
  std::filesystem::create_directories(out_ / "truth");
  const int calib = c_.bias_frames + c_.flat_frames + c_.dark_frames;
  const int total = calib + c_.frames;
  std::atomic<int> done{0};
  std::mutex progress_mutex;
  // Each frame depends only on the seed and its index: any thread count writes the same bytes.
  parallel_for(static_cast<std::size_t>(total), threads, [&](std::size_t index) {
    const int i = static_cast<int>(index);
    if (i < c_.bias_frames) write_bias(i);
    else if (i < c_.bias_frames + c_.flat_frames) write_flat(i - c_.bias_frames);
    else if (i < calib) write_dark(i - c_.bias_frames - c_.flat_frames);
    else write_science(i - calib);
    const int d = ++done;
    if (progress) {
      std::lock_guard lock(progress_mutex);
      progress(d, total);
    }
  });
  write_truth();
  NightSummary s;
  s.science_frames = c_.frames;
  s.calibration_frames = calib;
  for (const auto& f : frames_) s.bad_frames += f.fault != Fault::none;
  return s;
}

}  // namespace detail

NightSummary simulate_night(const SimConfig& config, const std::filesystem::path& out, int threads,
                            const std::function<void(int, int)>& progress) {
  validate(config);
  const auto started = std::chrono::steady_clock::now();
  detail::Night night(config, out);
  auto summary = night.write(threads, progress);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace tianyu::pipeline::sim
