// Photometry speed at the "paper" scale: aperture photometry of one 2048 x 2048 frame at the
// positions of its sources (3 radii, local sky annulus), and the relative-flux calibration of a
// 900-star x 999-frame table (groups, leave-one-out pruning, errors). The frame, the positions
// and the table are written to --work so the Python reference peer
// (bench/reference/photometry_peer.py) measures the same things on the same inputs.
// Besides, the steps' recipes as the consumer runs them (pipeline/recipes, production
// defaults): detect_sources on the frame as a 2048 x 2048 template, and relative_flux on the
// table at three radii (noisier at the larger ones) with its best-radius choice and precision.
#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bench/timing.h"
#include "pipeline/calibration/calibrate.h"
#include "pipeline/detection/extract.h"
#include "pipeline/fits_io.h"
#include "pipeline/photometry/aperture.h"
#include "pipeline/photometry/relative_flux.h"
#include "pipeline/recipes/detect_sources.h"
#include "pipeline/recipes/relative_flux.h"
#include "pipeline/sim/night.h"

namespace fs = std::filesystem;
using namespace tianyu::pipeline;

namespace {

using tianyu::bench::best_of;

// Constant stars with photon noise under a common transparency, one flaring: the shape of a
// real night's table, with a seed so the peer reads the same numbers.
FluxTable synthetic_table(int stars, int frames) {
  std::mt19937_64 rng(42);
  std::normal_distribution<double> n01;
  std::uniform_real_distribution<double> u01;
  FluxTable t;
  t.stars = stars;
  t.frames = frames;
  std::vector<double> level(stars), transparency(frames);
  for (auto& l : level) l = 1e3 * std::pow(10.0, 2.5 * u01(rng));
  for (auto& v : transparency) v = 1.0 - 0.2 * u01(rng) * u01(rng);
  for (int s = 0; s < stars; ++s) {
    t.x.push_back(2048 * u01(rng));
    t.y.push_back(2048 * u01(rng));
    for (int f = 0; f < frames; ++f) {
      const double mean = level[s] * transparency[f] * (s == 7 && f > 500 ? 1.3 : 1.0);
      t.flux.push_back(mean + std::sqrt(mean) * n01(rng));
      t.flux_err.push_back(std::sqrt(mean));
    }
  }
  t.flags.assign(t.flux.size(), 0);
  t.good_frame.assign(frames, true);
  return t;
}

// The table at three radii: the larger apertures add sky noise (x1, x1.2, x1.5 the errors).
std::vector<FluxTable> three_radii(const FluxTable& table) {
  std::vector<FluxTable> tables;
  std::mt19937_64 rng(43);
  std::normal_distribution<double> n01;
  for (const double noise : {1.0, 1.2, 1.5}) {
    auto t = table;
    for (std::size_t k = 0; k < t.flux.size(); ++k) {
      t.flux[k] += std::sqrt(noise * noise - 1) * t.flux_err[k] * n01(rng);
      t.flux_err[k] *= noise;
    }
    tables.push_back(std::move(t));
  }
  return tables;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Photometry benchmark: one frame's apertures and one night's relative flux"};
  fs::path work;
  int stars = 900, frames = 999;
  app.add_option("--work", work, "work directory")->required();
  app.add_option("--stars", stars, "stars in the relative-flux table");
  app.add_option("--frames", frames, "frames in the relative-flux table");
  CLI11_PARSE(app, argc, argv);
  fs::create_directories(work);

  // One calibrated paper-preset frame and its sources.
  auto config = sim::preset("paper");
  config.frames = 2;
  config.bias_frames = config.flat_frames = config.dark_frames = 0;
  config.satellite_trails = config.cloud_outs = config.double_images = 0;
  if (!fs::exists(work / "night" / "raw" / "sci_0001.fits")) sim::simulate_night(config, work / "night", 0);
  const auto raw = read_fits(work / "night" / "raw" / "sci_0001.fits");
  const auto cal = calibrate(raw.image, config.exptime_s, {});
  write_fits(work / "frame.fits", cal.image, {{"BKGRMS", cal.background_rms, "SEP global RMS"}});
  auto sources = extract_sources(cal.image, &cal.mask, cal.background_rms);
  std::vector<double> all_x, all_y;  // every source, as the consumer measures a template's ~2,900
  for (const auto& s : sources) all_x.push_back(s.x), all_y.push_back(s.y);
  if (sources.size() > static_cast<std::size_t>(stars)) sources.resize(stars);
  std::vector<double> x, y;
  std::ofstream positions(work / "positions.csv");
  for (const auto& s : sources) {
    x.push_back(s.x);
    y.push_back(s.y);
    positions << s.x << "," << s.y << "\n";
  }
  ApertureOptions options;
  options.radii_px = {4.5, 6.0, 9.0};
  options.gain_e_per_adu = config.gain;
  const double photometry = best_of(5, [&] { measure_apertures(cal.image, &cal.mask, cal.background_rms, x, y, {}, options); });
  // CPU seconds (every thread) of the frame's photometry at all its sources: what a consumer
  // pays, whatever the other processes on the machine leave to the wall clock.
  double photometry_cpu = 1e300;
  for (int run = 0; run < 5; ++run) {
    const std::clock_t c0 = std::clock();
    measure_apertures(cal.image, &cal.mask, cal.background_rms, all_x, all_y, {}, options);
    photometry_cpu = std::min(photometry_cpu, static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
  }

  const auto table = synthetic_table(stars, frames);
  std::ofstream out(work / "table.bin", std::ios::binary);
  out.write(reinterpret_cast<const char*>(table.flux.data()), table.flux.size() * sizeof(double));
  out.write(reinterpret_cast<const char*>(table.flux_err.data()), table.flux_err.size() * sizeof(double));
  out.write(reinterpret_cast<const char*>(table.x.data()), table.x.size() * sizeof(double));
  out.write(reinterpret_cast<const char*>(table.y.data()), table.y.size() * sizeof(double));
  out.close();
  RelativeFluxResult result;
  const double relative = best_of(3, [&] { result = calibrate_relative_flux(table); });
  int references = 0;
  for (const bool r : result.is_reference) references += r;

  // The recipes the consumer runs.
  recipes::TemplateCatalogue catalogue;
  const double detect = best_of(3, [&] { catalogue = recipes::detect_sources(raw.image, nullptr); });
  const auto tables = three_radii(table);
  std::vector<double> bjd;
  for (int f = 0; f < frames; ++f) bjd.push_back(2460000.5 + f * config.exptime_s / 86400);
  recipes::ObservationLightCurves curves;
  const double light_curves = best_of(1, [&] { curves = recipes::relative_flux(tables, bjd, config.exptime_s); });
  std::cout << nlohmann::json{{"photometry_stars", x.size()},
                              {"photometry_radii", options.radii_px.size()},
                              {"photometry_frame_s", photometry},
                              {"photometry_all_sources", all_x.size()},
                              {"photometry_all_sources_cpu_s", photometry_cpu},
                              {"relative_flux_stars", stars},
                              {"relative_flux_frames", frames},
                              {"relative_flux_s", relative},
                              {"references", references},
                              {"groups", result.groups.size()},
                              {"detect_sources_recipe_s", detect},
                              {"detect_sources_recipe_sources", catalogue.sources.size()},
                              {"detect_sources_recipe_fwhm_px", catalogue.median_fwhm_px},
                              {"relative_flux_recipe_3_radii_s", light_curves},
                              {"relative_flux_recipe_main_aperture", curves.main_aperture}}
                   .dump()
            << "\n";
}
