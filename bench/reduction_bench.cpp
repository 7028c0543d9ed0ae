// Per-frame cost of the reduction steps on 2048 x 2048 frames (the "paper" preset's size):
// calibration (read raw, calibrate with bias, dark and flat, write), extraction + alignment
// (read calibrated, SEP extraction, alignment to the first frame) and one stack node of 5
// (read five calibrated frames, resample, weighted mean, write). Each figure is the median of
// the calls, measured with 1 thread and with `--threads`. The same operations done by the
// Python reference peer (bench/reference/reduction_peer.py) on the same files give the ratios
// run-reduction.sh prints.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bench/timing.h"
#include "pipeline/alignment/align.h"
#include "pipeline/calibration/calibrate.h"
#include "pipeline/calibration/masters.h"
#include "pipeline/detection/extract.h"
#include "pipeline/fits_io.h"
#include "pipeline/sim/night.h"
#include "pipeline/stacking/stack_node.h"

namespace fs = std::filesystem;
using namespace tianyu::pipeline;

namespace {

using tianyu::bench::median;
using tianyu::bench::seconds;

std::vector<fs::path> files_in(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().starts_with(prefix)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The night and its masters, made once per work directory.
void prepare(const fs::path& work, int frames) {
  if (fs::exists(work / "masters" / "flat.fits")) return;
  auto config = sim::preset("paper");
  config.frames = frames;
  config.bias_frames = 5;
  config.dark_frames = 3;
  config.flat_frames = 5;
  sim::simulate_night(config, work, 0);
  fs::create_directories(work / "masters");
  const auto bias = master_bias(FitsFrameSet(files_in(work / "calib", "bias_")));
  const auto dark = master_dark_rate(FitsFrameSet(files_in(work / "calib", "dark_"), true), bias);
  const auto flat = master_flat(FitsFrameSet(files_in(work / "calib", "flat_"), true), bias, &dark);
  write_fits(work / "masters" / "bias.fits", bias, {});
  write_fits(work / "masters" / "dark_rate.fits", dark, {});
  write_fits(work / "masters" / "flat.fits", flat, {});
}

nlohmann::json measure(const fs::path& work, int threads) {
  const auto bias = read_fits(work / "masters" / "bias.fits").image;
  const auto dark = read_fits(work / "masters" / "dark_rate.fits").image;
  const auto flat = read_fits(work / "masters" / "flat.fits").image;
  const Masters masters{&bias, &dark, &flat};
  CalibrationOptions options;
  options.threads = threads;
  const auto raw = files_in(work / "raw", "sci_");
  const fs::path out = work / ("cal_" + std::to_string(threads));
  fs::create_directories(out);
  std::vector<double> calibration, alignment, stacking;
  std::vector<fs::path> calibrated;
  std::vector<double> rms;
  for (const auto& f : raw) {
    calibrated.push_back(out / f.filename());
    calibration.push_back(seconds([&] {
      const auto frame = read_fits(f);
      const auto cal = calibrate(frame.image, std::stod(frame.header.at("EXPTIME")), masters, options);
      write_fits(calibrated.back(), cal.image, {{"BKGRMS", cal.background_rms, "SEP global RMS"}});
      rms.push_back(cal.background_rms);
    }));
  }
  std::vector<Source> reference;
  std::vector<FrameTransform> transforms;
  for (std::size_t i = 0; i < calibrated.size(); ++i) {
    alignment.push_back(seconds([&] {
      const auto frame = read_fits(calibrated[i]);
      const auto sources = extract_sources(frame.image, nullptr, std::stod(frame.header.at("BKGRMS")));
      if (reference.empty()) reference = sources;
      const auto r = align_to_reference(reference, sources);
      if (!r.aligned) throw std::runtime_error(calibrated[i].string() + ": " + r.reason);
      transforms.push_back(r.transform);
    }));
  }
  for (std::size_t first = 0; first + 5 <= calibrated.size(); first += 5) {
    stacking.push_back(seconds([&] {
      std::vector<Image> images;
      for (std::size_t i = first; i < first + 5; ++i) images.push_back(read_fits(calibrated[i]).image);
      std::vector<StackInput> inputs;
      for (std::size_t i = 0; i < 5; ++i) inputs.push_back({&images[i], 1.0, transforms[first + i]});
      const auto node = stack_node(inputs, images[0].width, images[0].height, threads);
      write_fits(out / ("stack_" + std::to_string(first) + ".fits"), node.image, {});
    }));
  }
  return {{"threads", threads},
          {"calibration_s", median(calibration)},
          {"extraction_alignment_s", median(alignment)},
          {"stack_node_of_5_s", median(stacking)},
          {"frames", raw.size()}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Reduction benchmark: per-call seconds of calibration, extraction + alignment and a stack node"};
  fs::path work;
  int frames = 10, threads = 2;
  app.add_option("--work", work, "work directory (simulated night, masters and outputs)")->required();
  app.add_option("--frames", frames, "science frames to simulate");
  app.add_option("--threads", threads, "threads for the second run");
  CLI11_PARSE(app, argc, argv);
  prepare(work, frames);
  nlohmann::json result = nlohmann::json::array({measure(work, 1), measure(work, threads)});
  std::cout << result.dump() << "\n";
}
