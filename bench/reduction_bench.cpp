// Per-frame cost of the reduction steps on 2048 x 2048 frames (the "paper" preset's size):
// calibration (read raw, calibrate with bias, dark and flat, write), extraction + alignment
// (read calibrated, SEP extraction, alignment to the first frame) and one stack node of 5
// (read five calibrated frames, resample, weighted mean, write). Each figure is the median of
// the calls, measured with 1 thread and with `--threads`. The same operations done by the
// Python reference peer (bench/reference/reduction_peer.py) on the same files give the ratios
// run-reduction.sh prints.
//
// Products (issue 17): the bytes calibrate writes per frame (image, mask, catalogue) and the
// seconds of calibrate's write and photometry's read (image + mask), with the masks as uint16
// images ("before", the baseline in the same run), as RICE-compressed uint8 ("after"), and with
// the image also GZIP_2-compressed without loss ("image_compressed", adopted only if it saves
// at least 25 % of the bytes for at most 25 % more time).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bench/timing.h"
#include "pipeline/atomic_file.h"
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

// One way of keeping a calibrated frame's products.
struct Layout {
  std::string name;
  PixelType mask_type;
  Compression mask, image;
};
const std::vector<Layout> kLayouts = {{"before", PixelType::uint16, Compression::none, Compression::none},
                                      {"after", PixelType::uint8, Compression::lossless, Compression::none},
                                      {"image_compressed", PixelType::uint8, Compression::lossless,
                                       Compression::lossless}};

// Per layout: each measure's value per frame (bytes or seconds).
using Samples = std::map<std::string, std::map<std::string, std::vector<double>>>;

// Writes one frame's products as `layout` keeps them, reads back what photometry reads.
void time_products(const fs::path& dir, const Layout& layout, const CalibratedFrame& cal, const std::string& csv,
                   Samples& samples) {
  auto& s = samples[layout.name];
  const auto image = dir / (layout.name + ".fits"), mask = dir / (layout.name + ".mask.fits");
  const auto catalogue = dir / (layout.name + ".sources.csv");
  Image flags(cal.image.width, cal.image.height);
  std::copy(cal.mask.begin(), cal.mask.end(), flags.pixels.begin());
  s["image_write_s"].push_back(seconds([&] {
    write_fits(image, cal.image, {{"BKGRMS", cal.background_rms, "SEP global RMS"}}, PixelType::float32,
               layout.image);
  }));
  s["mask_write_s"].push_back(seconds([&] { write_fits(mask, flags, {}, layout.mask_type, layout.mask); }));
  s["catalogue_write_s"].push_back(seconds([&] { write_file_atomically(catalogue, csv); }));
  s["image_read_s"].push_back(seconds([&] { read_fits(image); }));
  s["mask_read_s"].push_back(seconds([&] {
    const auto back = read_fits(mask).image;
    if (!std::equal(back.pixels.begin(), back.pixels.end(), flags.pixels.begin())) {
      throw std::runtime_error(mask.string() + ": the mask did not round-trip");
    }
  }));
  s["image_bytes"].push_back(static_cast<double>(fs::file_size(image)));
  s["mask_bytes"].push_back(static_cast<double>(fs::file_size(mask)));
  s["catalogue_bytes"].push_back(static_cast<double>(fs::file_size(catalogue)));
}

// Medians per frame of each layout, and the ratios that decide: after / before, and the
// compressed image against the plain one.
nlohmann::json summarize_products(const Samples& samples, std::size_t frames) {
  nlohmann::json out{{"frames", frames}};
  std::map<std::string, std::map<std::string, double>> m;
  for (const auto& [layout, measures] : samples) {
    for (const auto& [name, values] : measures) m[layout][name] = median(values);
    auto& l = m[layout];
    l["total_bytes"] = l["image_bytes"] + l["mask_bytes"] + l["catalogue_bytes"];
    l["calibrate_write_s"] = l["image_write_s"] + l["mask_write_s"] + l["catalogue_write_s"];
    l["photometry_read_s"] = l["image_read_s"] + l["mask_read_s"];
    out["per_frame"][layout] = l;
  }
  const auto ratio = [&](const std::string& a, const std::string& b, const std::string& key) {
    return std::round(1000.0 * m[a][key] / m[b][key]) / 1000.0;
  };
  for (const auto* key : {"total_bytes", "mask_bytes", "calibrate_write_s", "photometry_read_s", "mask_write_s",
                          "mask_read_s"}) {
    out["after_over_before"][key] = ratio("after", "before", key);
  }
  for (const auto* key : {"image_bytes", "image_write_s", "image_read_s", "total_bytes"}) {
    out["image_compressed_over_after"][key] = ratio("image_compressed", "after", key);
  }
  const double image_time = (m["image_compressed"]["image_write_s"] + m["image_compressed"]["image_read_s"]) /
                            (m["after"]["image_write_s"] + m["after"]["image_read_s"]);
  out["image_compressed_over_after"]["image_write_read_s"] = std::round(1000.0 * image_time) / 1000.0;
  out["adopt_image_compression"] =
      m["image_compressed"]["image_bytes"] <= 0.75 * m["after"]["image_bytes"] && image_time <= 1.25;
  return out;
}

nlohmann::json measure_products(const fs::path& work) {
  const auto bias = read_fits(work / "masters" / "bias.fits").image;
  const auto dark = read_fits(work / "masters" / "dark_rate.fits").image;
  const auto flat = read_fits(work / "masters" / "flat.fits").image;
  const Masters masters{&bias, &dark, &flat};
  const fs::path dir = work / "products";
  fs::create_directories(dir);
  const auto raw = files_in(work / "raw", "sci_");
  Samples samples;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const auto frame = read_fits(raw[i]);
    const auto cal = calibrate(frame.image, std::stod(frame.header.at("EXPTIME")), masters, CalibrationOptions{});
    const auto csv = sources_csv(extract_sources(cal.image, &cal.mask, cal.background_rms));
    // Each frame starts with a different layout: a burst of load elsewhere is spread over all.
    for (std::size_t k = 0; k < kLayouts.size(); ++k) {
      time_products(dir, kLayouts[(i + k) % kLayouts.size()], cal, csv, samples);
    }
  }
  return summarize_products(samples, raw.size());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Reduction benchmark: per-call seconds of calibration, extraction + alignment and a stack node"};
  fs::path work;
  int frames = 10, threads = 2;
  app.add_option("--work", work, "work directory (simulated night, masters and outputs)")->required();
  // A stack node takes five frames: fewer leave nothing to time (and no median to take).
  app.add_option("--frames", frames, "science frames to simulate (at least 5: one stack node)")
      ->check(CLI::Range(5, 100000));
  app.add_option("--threads", threads, "threads for the second run");
  bool products_only = false;
  app.add_flag("--products-only", products_only, "measure only the products' bytes and I/O times");
  CLI11_PARSE(app, argc, argv);
  prepare(work, frames);
  nlohmann::json result{{"products", measure_products(work)}};
  if (!products_only) result["runs"] = nlohmann::json::array({measure(work, 1), measure(work, threads)});
  std::cout << result.dump() << "\n";
}
