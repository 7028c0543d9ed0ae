// Peak memory per step at Tianyu-I size (issue 17: "a Tianyu-I frame (8120^2, 264 MB as float)
// goes through every step with peak RSS stated per step; stacking works in bands"). Each step's
// pipeline recipe runs in a forked child whose own peak RSS (wait4's ru_maxrss) is reported, as
// MB and as a ratio to one float frame; the floor measured in the same run is a child that only
// allocates and touches one float frame. The parent holds no image, so a child starts small.
// Frames are synthetic Gaussian stars on a flat sky with Gaussian noise. Prints a table and one
// JSON object.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bench/timing.h"
#include "pipeline/alignment/align.h"
#include "pipeline/calibration/calibrate.h"
#include "pipeline/detection/extract.h"
#include "pipeline/fits_io.h"
#include "pipeline/fits_rows.h"
#include "pipeline/parallel.h"
#include "pipeline/photometry/aperture.h"
#include "pipeline/recipes/detect_sources.h"
#include "pipeline/stacking/banded_stack.h"
#include "pipeline/streaming/minute_coadd.h"

using namespace tianyu::pipeline;
namespace fs = std::filesystem;

namespace {

struct Options {
  int size = 8120, stars = 20000, children = 8, budget_mib = 256, short_frames = 4;
  fs::path dir;
};

// Stars spread uniformly with a steep flux distribution (many faint, a few bright), the same
// sky positions in every frame; a frame adds its own offset.
struct Field {
  std::vector<double> x, y, flux;
};

Field star_field(const Options& o) {
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> at(20, o.size - 20), u(0, 1);
  Field f;
  for (int i = 0; i < o.stars; ++i) {
    f.x.push_back(at(rng));
    f.y.push_back(at(rng));
    f.flux.push_back(2e3 / std::pow(1 - 0.999 * u(rng), 0.8));  // 2e3 .. ~5e5 ADU
  }
  return f;
}

// Sky level plus Gaussian noise, each row from its own seed (parallel and reproducible).
void add_sky(Image& im, float level, float noise, std::uint64_t seed) {
  parallel_rows(im.height, 0, [&](int y0, int y1) {
    for (int y = y0; y < y1; ++y) {
      std::mt19937 rng(static_cast<std::uint32_t>(seed * 1000003u + y));
      std::normal_distribution<float> n(level, noise);
      float* row = im.row(y);
      for (int x = 0; x < im.width; ++x) row[x] += n(rng);
    }
  });
}

// Gaussian stars (sigma 1.3 px, FWHM 3 px) at the field's positions moved by (dx, dy).
void add_stars(Image& im, const Field& f, double dx, double dy, double scale = 1.0) {
  constexpr double kSigma = 1.3;
  constexpr int kReach = 5;
  for (std::size_t i = 0; i < f.x.size(); ++i) {
    const double cx = f.x[i] + dx, cy = f.y[i] + dy;
    const double norm = scale * f.flux[i] / (2 * M_PI * kSigma * kSigma);
    for (int y = static_cast<int>(cy) - kReach; y <= static_cast<int>(cy) + kReach; ++y) {
      for (int x = static_cast<int>(cx) - kReach; x <= static_cast<int>(cx) + kReach; ++x) {
        if (x < 0 || y < 0 || x >= im.width || y >= im.height) continue;
        const double r2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
        im.at(x, y) += static_cast<float>(norm * std::exp(-r2 / (2 * kSigma * kSigma)));
      }
    }
  }
}

Image sky_frame(const Options& o, const Field& f, double dx, double dy, float level, std::uint64_t seed) {
  Image im(o.size, o.size);
  add_sky(im, level, 10, seed);
  add_stars(im, f, dx, dy);
  return im;
}

struct ChildRun {
  double peak_mb = 0, seconds = 0;
};

// Runs `work` in a forked child; its peak RSS from wait4 (this child only, not the largest of
// all children as RUSAGE_CHILDREN would give). A child that fails stops the bench.
ChildRun in_child(const std::string& step, const std::function<void()>& work) {
  std::fflush(nullptr);
  ChildRun run;
  int status = 0;
  rusage usage{};
  run.seconds = tianyu::bench::seconds([&] {
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed for " + step);
    if (pid == 0) {
      try {
        work();
        std::fflush(nullptr);
        _exit(0);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", step.c_str(), e.what());
        _exit(1);
      }
    }
    if (wait4(pid, &status, 0, &usage) != pid) throw std::runtime_error("wait4 failed for " + step);
  });
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error(step + " failed in its child");
  run.peak_mb = usage.ru_maxrss * 1024.0 / 1e6;  // KiB on Linux
  return run;
}

void require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}


// --- the steps, each as its consumer step runs it: inputs read or made, recipe, outputs ---

void floor_step(const Options& o) {
  Image im(o.size, o.size, 1.0f);  // allocated and every page touched
  require(im.at(o.size - 1, o.size - 1) == 1.0f, "floor frame");
}

Masters make_masters(const Options& o, std::vector<Image>& held) {
  held.reserve(3);
  held.emplace_back(o.size, o.size, 500.0f);   // bias
  held.emplace_back(o.size, o.size, 0.01f);    // dark rate (ADU/s)
  held.emplace_back(o.size, o.size, 1.0f);     // flat
  Image& flat = held.back();
  for (int y = 0; y < o.size; ++y) std::fill_n(flat.row(y), o.size, 0.98f + 0.04f * y / o.size);
  return {&held[0], &held[1], &held[2]};
}

void calibrate_step(const Options& o, const Field& f) {
  std::vector<Image> masters;
  const Masters m = make_masters(o, masters);
  Image raw = sky_frame(o, f, 0, 0, 1000.0f, 1);
  for (int y = 0; y < o.size; ++y) {
    float* row = raw.row(y);
    const float flat = m.flat->at(0, y);
    for (int x = 0; x < o.size; ++x) row[x] = row[x] * flat + 500.0f + 0.3f;
  }
  CalibrationOptions options;
  options.threads = 0;
  const auto cal = calibrate(raw, 30.0, m, options);
  const auto sources = extract_sources(cal.image, &cal.mask, cal.background_rms);
  require(sources.size() > static_cast<std::size_t>(o.stars) / 2, "calibrate: too few sources extracted");
}

std::vector<Source> catalogue(const Field& f, double dx, double dy, double rotation_deg) {
  const double c = std::cos(rotation_deg * M_PI / 180), s = std::sin(rotation_deg * M_PI / 180);
  std::vector<Source> out;
  for (std::size_t i = 0; i < f.x.size(); ++i) {
    Source src;
    src.x = c * f.x[i] - s * f.y[i] + dx;
    src.y = s * f.x[i] + c * f.y[i] + dy;
    src.flux = f.flux[i];
    src.peak = f.flux[i] / 10.6;
    src.a = src.b = 1.3;
    src.npix = 25;
    out.push_back(src);
  }
  std::sort(out.begin(), out.end(), [](const Source& a, const Source& b) { return a.flux > b.flux; });
  return out;
}

void align_step(const Field& f) {
  const auto reference = catalogue(f, 0, 0, 0);
  const auto frame = catalogue(f, 3.4, -2.7, 0.002);
  const auto result = align_to_reference(reference, frame);
  require(result.aligned && std::abs(result.transform.dx - 3.4) < 0.5, "align: offset not found");
}

// The node's children, as the calibrate step leaves them: frame and 16-bit mask files.
FrameTransform child_transform(int k) {
  return FrameTransform::translation(0.37 * k - 1.2, -0.29 * k + 0.8);
}
fs::path child_path(const Options& o, int k, const char* what) {
  return o.dir / (std::string(what) + std::to_string(k) + ".fits");
}

void write_children(const Options& o, const Field& f) {
  for (int k = 0; k < o.children; ++k) {
    const auto t = child_transform(k);
    Image im = sky_frame(o, f, t.dx, t.dy, 0.0f, 100 + k);  // calibrated: sky subtracted
    write_fits(child_path(o, k, "frame"), im, {});
    for (int y = 0; y < o.size; ++y) std::fill_n(im.row(y), o.size, 0.0f);
    for (int i = 0; i < 2000; ++i) im.at((i * 7919 + k * 31) % o.size, (i * 104729) % o.size) = 2;  // hot pixels
    write_fits(child_path(o, k, "mask"), im, {}, PixelType::uint16);
  }
}

int stack_banded_step(const Options& o, const fs::path& out) {
  std::vector<std::unique_ptr<FitsRowReader>> files;
  std::vector<BandedChild> children;
  for (int k = 0; k < o.children; ++k) {
    const auto& image = *files.emplace_back(std::make_unique<FitsRowReader>(child_path(o, k, "frame")));
    const auto& mask = *files.emplace_back(std::make_unique<FitsRowReader>(child_path(o, k, "mask")));
    children.push_back({image.width(), image.height(), 1.0, child_transform(k),
                        [&image](int y, int r, float* p) { image.read(y, r, p); },
                        [&mask](int y, int r, std::uint8_t* p) { mask.read(y, r, p); }, {}});
  }
  const int band = band_rows_for_budget(children, o.size, o.size, static_cast<std::size_t>(o.budget_mib) << 20);
  FitsRowWriter image(out / "banded.fits", o.size, o.size, {{"NCOMBINE", static_cast<long long>(o.children), ""}});
  FitsRowWriter weight(out / "banded.weight.fits", o.size, o.size, {});
  stack_in_bands(children, o.size, o.size, band, [&](int y0, const Stack& s) {
    image.write(y0, s.image.height, s.image.pixels.data());
    weight.write(y0, s.image.height, s.weight_map.pixels.data());
  }, 0);
  image.commit();
  weight.commit();
  return band;
}

void stack_whole_step(const Options& o, const fs::path& out) {
  std::vector<Image> images;
  std::vector<std::vector<std::uint8_t>> masks;
  images.reserve(o.children);
  masks.reserve(o.children);
  std::vector<StackInput> inputs;
  for (int k = 0; k < o.children; ++k) {
    images.push_back(read_fits(child_path(o, k, "frame")).image);
    const auto m = read_fits(child_path(o, k, "mask")).image;  // as read_mask: float, then flags
    auto& mask = masks.emplace_back(m.pixels.size());
    for (std::size_t p = 0; p < mask.size(); ++p) mask[p] = static_cast<std::uint8_t>(m.pixels[p]);
    inputs.push_back({&images.back(), 1.0, child_transform(k), &mask});
  }
  const auto s = stack_node(inputs, o.size, o.size, 0);
  write_fits(out / "whole.fits", s.image, {{"NCOMBINE", static_cast<long long>(o.children), ""}});
  write_fits(out / "whole.weight.fits", s.weight_map, {});
}

// Largest |banded - whole| over both products, a band of rows at a time.
double banded_vs_whole(const Options& o) {
  double worst = 0;
  for (const char* name : {"banded", "banded.weight"}) {
    const std::string other = std::string(name) == "banded" ? "whole" : "whole.weight";
    FitsRowReader a(o.dir / (std::string(name) + ".fits")), b(o.dir / (other + ".fits"));
    std::vector<float> ra(static_cast<std::size_t>(256) * o.size), rb(ra.size());
    for (int y0 = 0; y0 < o.size; y0 += 256) {
      const int n = std::min(256, o.size - y0);
      a.read(y0, n, ra.data());
      b.read(y0, n, rb.data());
      for (std::size_t p = 0; p < static_cast<std::size_t>(n) * o.size; ++p) worst = std::max(worst, double(std::abs(ra[p] - rb[p])));
    }
  }
  return worst;
}

void detect_step(const Options& o) {
  const auto stacked = read_fits(o.dir / "banded.fits").image;
  const auto weight = read_fits(o.dir / "banded.weight.fits").image;
  const auto catalogue = recipes::detect_sources(stacked, &weight);
  require(catalogue.sources.size() > static_cast<std::size_t>(o.stars) / 2, "detect: too few template sources");
}

void photometry_step(const Options& o, const Field& f) {
  const auto image = read_fits(child_path(o, 0, "frame")).image;  // a calibrated frame and its mask
  const auto m = read_fits(child_path(o, 0, "mask")).image;
  std::vector<std::uint8_t> mask(m.pixels.size());
  for (std::size_t p = 0; p < mask.size(); ++p) mask[p] = static_cast<std::uint8_t>(m.pixels[p]);
  ApertureOptions options;
  options.radii_px = {4.5, 6.0, 9.0};
  options.gain_e_per_adu = 1.5;
  const auto phot = measure_apertures(image, &mask, 10.0, f.x, f.y, child_transform(0), options);
  require(phot.stars == o.stars, "photometry: not every star measured");
}

void coadd_step(const Options& o, const Field& f) {
  std::unique_ptr<streaming::MinuteCoadd> coadd;
  {
    std::vector<Image> masters;  // folded into the plan, then freed (MinuteCoadd keeps none)
    streaming::StreamingOptions options;
    options.threads = 0;
    coadd = std::make_unique<streaming::MinuteCoadd>(o.size, o.size, 0.3, make_masters(o, masters), options);
  }
  // The camera's buffer of a few raw 16-bit short frames, drifting by a few pixels.
  std::vector<std::vector<std::uint16_t>> raw(o.short_frames);
  std::vector<streaming::ShortFrame> frames;
  for (int k = 0; k < o.short_frames; ++k) {
    Image im(o.size, o.size);
    add_sky(im, 600.0f, 8.0f, 500 + k);
    add_stars(im, f, 0.6 * k, -0.4 * k, 0.05);
    raw[k].resize(im.pixels.size());
    std::transform(im.pixels.begin(), im.pixels.end(), raw[k].begin(),
                   [](float v) { return static_cast<std::uint16_t>(std::clamp(v, 0.0f, 65535.0f)); });
    streaming::ShortFrame s;
    s.name = "short_" + std::to_string(k);
    s.width = s.height = o.size;
    s.adu16 = raw[k];
    s.exptime_s = 0.3;
    frames.push_back(s);
  }
  coadd->add(frames);
  const auto minute = coadd->finish();
  require(minute.frames == o.short_frames, "co-add: frames missing from the minute");
}

void save_number(const fs::path& path, double value) { std::ofstream(path) << value; }
double load_number(const fs::path& path) {
  double v = -1;
  std::ifstream(path) >> v;
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Peak RSS per pipeline step at Tianyu-I size, each step in its own child process"};
  Options o;
  std::string dir;
  app.add_option("--size", o.size, "frame width = height (8120: Tianyu-I)");
  app.add_option("--stars", o.stars, "stars in the field (photometry measures every one)");
  app.add_option("--children", o.children, "frames in the stack node");
  app.add_option("--band-budget-mib", o.budget_mib, "the banded stack's memory budget");
  app.add_option("--short-frames", o.short_frames, "short frames in the co-add's buffer");
  app.add_option("--dir", dir, "scratch directory for the node's files (default: a new one under the temp dir)");
  CLI11_PARSE(app, argc, argv);
  o.dir = dir.empty() ? fs::temp_directory_path() / ("tianyu_memory_bench_" + std::to_string(getpid())) : fs::path(dir);
  fs::create_directories(o.dir);
  const Field f = star_field(o);
  const double frame_mb = 4.0 * o.size * o.size / 1e6;

  struct Row {
    std::string step;
    ChildRun run;
  };
  std::vector<Row> rows;
  auto step = [&](const std::string& name, const std::function<void()>& work) {
    std::cerr << "running " << name << "\n";
    rows.push_back({name, in_child(name, work)});
  };
  step("floor: one float frame allocated and touched", [&] { floor_step(o); });
  step("calibrate (bias/dark/flat) + extract_sources", [&] { calibrate_step(o, f); });
  step("align_to_reference (" + std::to_string(o.stars) + " x " + std::to_string(o.stars) + " sources)", [&] { align_step(f); });
  const ChildRun prep = in_child("write the node's children", [&] { write_children(o, f); });
  step("stack node of " + std::to_string(o.children) + " in bands (files)", [&] {
    save_number(o.dir / "band_rows.txt", stack_banded_step(o, o.dir));
  });
  step("stack node of " + std::to_string(o.children) + " whole (stack_node)", [&] { stack_whole_step(o, o.dir); });
  in_child("compare banded with whole", [&] { save_number(o.dir / "max_diff.txt", banded_vs_whole(o)); });
  step("detect template sources", [&] { detect_step(o); });
  step("photometry (" + std::to_string(o.stars) + " sources, 3 radii)", [&] { photometry_step(o, f); });
  step("minute co-add (" + std::to_string(o.short_frames) + " short frames)", [&] { coadd_step(o, f); });
  const double band_rows = load_number(o.dir / "band_rows.txt"), max_diff = load_number(o.dir / "max_diff.txt");
  fs::remove_all(o.dir);

  std::printf("frame %dx%d: %.1f MB as float; band budget %d MiB -> %.0f rows per band\n", o.size, o.size, frame_mb,
              o.budget_mib, band_rows);
  std::printf("| step | peak RSS (MB) | / frame | s |\n|---|---:|---:|---:|\n");
  nlohmann::json out = {{"frame_px", std::to_string(o.size) + "x" + std::to_string(o.size)},
                        {"frame_mb", frame_mb}, {"band_rows", band_rows}, {"band_budget_mib", o.budget_mib},
                        {"banded_vs_whole_max_abs_diff", max_diff}, {"write_children_s", prep.seconds}};
  for (const auto& r : rows) {
    std::printf("| %s | %.0f | %.2f | %.1f |\n", r.step.c_str(), r.run.peak_mb, r.run.peak_mb / frame_mb, r.run.seconds);
    out["steps"].push_back({{"step", r.step}, {"peak_rss_mb", r.run.peak_mb}, {"ratio_to_frame", r.run.peak_mb / frame_mb},
                            {"seconds", r.run.seconds}});
  }
  std::printf("banded vs whole stack: largest |difference| %.3g\n", max_diff);
  std::cout << out.dump(2) << "\n";
}
