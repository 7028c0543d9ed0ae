// The short-exposure streaming co-add (issue 17) against the camera: Tianyu-I reads 8120 x 8120
// frames of 0.3 s at 2.9 a second (191 Mpix/s) and the seed's budget is a minute's frames in
// 20 s (573 Mpix/s). One minute of the "tianyu" preset's short frames (scaled by --size when
// memory is short) is made in memory (a few distinct frames, replayed: the co-add reads each
// from main memory as a new frame, registers and calibrates it), then co-added with all
// threads and with one; the floor is a copy of the same frames' bytes through memory in the
// same run (same threads, same order). Prints one JSON object.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bench/timing.h"
#include "pipeline/parallel.h"
#include "pipeline/sim/night.h"
#include "pipeline/streaming/minute_coadd.h"
#include "pipeline/streaming/short_minute.h"

using namespace tianyu::pipeline;
using namespace tianyu::pipeline::streaming;
using tianyu::bench::median;
using tianyu::bench::seconds;

namespace {

constexpr double kCameraMpix = 8120.0 * 8120.0 / (60.0 / 174) / 1e6;  // 191 Mpix/s
constexpr double kBudgetMpix = 3 * kCameraMpix;                         // a minute in 20 s: 573

// VmHWM / VmRSS in MB; "clear_refs 5" resets the high-water mark so the co-add's own peak shows.
double status_mb(const char* key) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::strlen(key))) / 1024.0;
  }
  return -1;
}
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

struct Minute {
  int width = 0, height = 0, frames = 0;
  double exptime_s = 0;
  std::vector<std::vector<std::uint16_t>> distinct;  // replayed in order, frame k = k % size
  Image bias, dark_rate, flat;
  std::vector<double> true_dx, true_dy;
};

Minute make_minute(int size, int frames, int distinct, int threads) {
  auto config = sim::preset("tianyu");
  const double area = double(size) * size / (double(config.width) * config.height);
  config.width = config.height = size;
  config.stars = std::max(50, static_cast<int>(config.stars * area));
  config.hot_pixels = static_cast<int>(config.hot_pixels * area);
  config.frames = frames;
  auto minute = std::make_unique<ShortMinute>(config, true, threads);
  Minute m;
  m.width = m.height = size;
  m.frames = frames;
  m.exptime_s = config.exptime_s;
  m.distinct.resize(distinct);
  for (int k = 0; k < distinct; ++k) {
    minute->render(k, m.distinct[k]);
    m.true_dx.push_back(minute->true_dx(k));
    m.true_dy.push_back(minute->true_dy(k));
  }
  m.bias = minute->bias();
  m.dark_rate = minute->dark_rate();
  m.flat = minute->flat();
  return m;
}

ShortFrame frame_of(const Minute& m, int k) {
  ShortFrame f;
  f.name = "short_" + std::to_string(k);
  f.width = m.width;
  f.height = m.height;
  f.adu16 = m.distinct[k % m.distinct.size()];
  f.exptime_s = m.exptime_s;
  return f;
}

// The floor: the minute's raw bytes copied through memory, frame by frame, in row bands.
double copy_minute(const Minute& m, std::vector<std::uint16_t>& into, int threads) {
  return seconds([&] {
    for (int k = 0; k < m.frames; ++k) {
      const auto& from = m.distinct[k % m.distinct.size()];
      parallel_rows(m.height, threads, [&](int y0, int y1) {
        const std::size_t a = static_cast<std::size_t>(y0) * m.width, b = static_cast<std::size_t>(y1) * m.width;
        std::memcpy(into.data() + a, from.data() + a, (b - a) * sizeof(std::uint16_t));
      });
    }
  });
}

struct CoaddRun {
  double plan_s = 0, frames_s = 0, finish_s = 0, shift_rms_px = 0, peak_rss_mb = 0;
  std::size_t coadd_mb = 0;
};

CoaddRun coadd_minute(const Minute& m, int threads, int batch) {
  CoaddRun run;
  reset_peak_rss();
  const Masters masters{&m.bias, &m.dark_rate, &m.flat};
  std::unique_ptr<MinuteCoadd> coadd;
  StreamingOptions options;
  options.threads = threads;
  run.plan_s = seconds([&] { coadd = std::make_unique<MinuteCoadd>(m.width, m.height, m.exptime_s, masters, options); });
  double err2 = 0;
  run.frames_s = seconds([&] {
    std::vector<ShortFrame> buffer;  // the camera's last `batch` frames
    for (int k = 0; k < m.frames; ++k) {
      buffer.push_back(frame_of(m, k));
      if (static_cast<int>(buffer.size()) < batch && k + 1 < m.frames) continue;
      const auto shifts = coadd->add(buffer);
      for (std::size_t i = 0; i < shifts.size(); ++i) {
        const std::size_t j = (k + 1 - shifts.size() + i) % m.distinct.size();
        err2 += std::pow(shifts[i].dx - m.true_dx[j], 2) + std::pow(shifts[i].dy - m.true_dy[j], 2);
      }
      buffer.clear();
    }
  });
  run.coadd_mb = coadd->bytes() / (1 << 20);  // before finish() hands the stack over
  MinuteStack stack;
  run.finish_s = seconds([&] { stack = coadd->finish(); });
  run.shift_rms_px = std::sqrt(err2 / m.frames);
  run.peak_rss_mb = status_mb("VmHWM:");
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Streaming co-add benchmark: input pixel rate of a minute of short frames vs a memory copy"};
  int size = 8120, frames = 174, distinct = 4, repeats = 3, batch = 4;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  app.add_option("--size", size, "frame width = height (8120: Tianyu-I)");
  app.add_option("--frames", frames, "short frames in the minute (174 at 2.9 frames/s)");
  app.add_option("--distinct", distinct, "distinct frames simulated and replayed");
  app.add_option("--repeats", repeats, "minutes timed per configuration (the median is shown)");
  app.add_option("--threads", threads, "threads of the full run");
  app.add_option("--batch", batch, "frames co-added per pass (the camera's buffer; 1: frame by frame)");
  CLI11_PARSE(app, argc, argv);

  Minute m;
  const double simulate_s = seconds([&] { m = make_minute(size, frames, distinct, threads); });
  const double mpix = double(m.width) * m.height * m.frames / 1e6;
  std::vector<std::uint16_t> into(static_cast<std::size_t>(m.width) * m.height);
  std::vector<double> copy_s, coadd_s, coadd1_s, single_s;
  CoaddRun last, last1;
  for (int r = 0; r < repeats; ++r) {  // interleaved, so a busy neighbour slows all alike
    copy_s.push_back(copy_minute(m, into, threads));
    last = coadd_minute(m, threads, batch);
    coadd_s.push_back(last.frames_s + last.finish_s);
    const CoaddRun single = coadd_minute(m, threads, 1);
    single_s.push_back(single.frames_s + single.finish_s);
  }
  last1 = coadd_minute(m, 1, batch);
  coadd1_s.push_back(last1.frames_s + last1.finish_s);

  const double rate = mpix / median(coadd_s), rate1 = mpix / median(coadd1_s), floor = mpix / median(copy_s);
  nlohmann::json out = {
      {"frame_px", std::to_string(m.width) + "x" + std::to_string(m.height)},
      {"frames_in_minute", m.frames},
      {"distinct_frames_replayed", distinct},
      {"threads", threads},
      {"simulate_s", simulate_s},
      {"coadd_minute_s", median(coadd_s)},
      {"coadd_per_frame_ms", 1e3 * median(coadd_s) / m.frames},
      {"plan_per_minute_s", last.plan_s},
      {"input_mpix_per_s", rate},
      {"input_mpix_per_s_1_thread", rate1},
      {"frames_per_pass", batch},
      {"input_mpix_per_s_frame_by_frame", mpix / median(single_s)},
      {"copy_floor_mpix_per_s", floor},
      {"ratio_to_573_budget", rate / kBudgetMpix},
      {"ratio_to_191_camera", rate / kCameraMpix},
      {"ratio_to_copy_floor", rate / floor},
      {"tianyu_minute_s_at_this_rate", 8120.0 * 8120.0 * 174 / 1e6 / rate},
      {"cores_for_camera_191_at_1_thread_rate", std::ceil(kCameraMpix / rate1)},
      {"cores_for_budget_573_at_1_thread_rate", std::ceil(kBudgetMpix / rate1)},
      {"registration_rms_px", last.shift_rms_px},
      {"coadd_state_mb", last.coadd_mb},
      {"peak_rss_mb_during_coadd", last.peak_rss_mb},
      {"input_frames_held_mb", double(m.distinct.size()) * into.size() * 2 / (1 << 20)},
      {"masters_held_mb", 3.0 * into.size() * 4 / (1 << 20)},
  };
  std::cout << out.dump(2) << "\n";
}
