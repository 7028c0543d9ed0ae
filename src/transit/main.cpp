// tianyu-transit: transits in light curves. `fit` measures the transit of one night (a
// trapezoid on a straight baseline) in a light curve exported by tianyu-publish export.
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>

#include "common/cli.h"
#include "common/errors.h"
#include "common/version.h"
#include "pipeline/transit/trapezoid_fit.h"

namespace {

struct LightCurve {
  std::vector<double> time, flux, error;
};

// Our export's CSV (bjd_tdb, rel_flux, rel_flux_err, frame, flags): clean points only.
LightCurve read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw tianyu::InputError(path + ": cannot open");
  std::string line;
  std::getline(in, line);
  if (line.rfind("bjd_tdb,rel_flux,rel_flux_err", 0) != 0) {
    throw tianyu::InputError(path + ": expected the header 'bjd_tdb,rel_flux,rel_flux_err,frame,flags', got '" + line + "'");
  }
  LightCurve c;
  int row = 1;
  while (std::getline(in, line)) {
    ++row;
    std::vector<std::string> cells;
    std::stringstream s(line);
    for (std::string cell; std::getline(s, cell, ',');) cells.push_back(cell);
    if (cells.size() < 5) throw tianyu::InputError(fmt::format("{}:{}: expected 5 columns", path, row));
    if (cells[1].empty() || cells[2].empty() || cells[4] != "0") continue;  // unusable or flagged
    try {
      c.time.push_back(std::stod(cells[0]));
      c.flux.push_back(std::stod(cells[1]));
      c.error.push_back(std::stod(cells[2]));
    } catch (const std::exception&) {
      throw tianyu::InputError(fmt::format("{}:{}: not a number in '{}'", path, row, line));
    }
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Transits in light curves.", "tianyu-transit"};
  app.set_version_flag("--version", std::string("tianyu-transit ") + tianyu::kVersion);
  app.require_subcommand(1);
  std::string file;
  bool json = false;
  tianyu::pipeline::TrapezoidFitOptions options;
  auto* fit = app.add_subcommand("fit", "Fit one transit (trapezoid + straight baseline) in a night's light curve");
  fit->add_option("lightcurve", file, "Light-curve CSV from tianyu-publish export")->required()->check(CLI::ExistingFile);
  fit->add_option("--min-duration", options.min_duration_d, "Shortest transit tried (days; default 4 cadences)");
  fit->add_option("--max-duration", options.max_duration_d, "Longest transit tried (days; default 80 % of the span)");
  fit->add_flag("--json", json, "Print the fit as JSON");
  return tianyu::cli::run(app, argc, argv, [&] {
    const auto c = read_csv(file);
    tianyu::pipeline::TrapezoidFit f;
    try {
      f = tianyu::pipeline::fit_trapezoid_transit(c.time, c.flux, c.error, options);
    } catch (const tianyu::pipeline::TransitFitError& e) {
      throw tianyu::InputError(file + ": " + e.what());
    }
    if (json) {
      std::cout << nlohmann::json{{"mid_time_bjd_tdb", f.mid_time}, {"duration_d", f.duration},
                                  {"ingress_d", f.ingress},          {"depth", f.depth},
                                  {"depth_err", f.depth_err},        {"slope_per_day", f.slope_per_day},
                                  {"residual_rms", f.residual_rms},  {"points", f.points},
                                  {"points_in_transit", f.points_in_transit}, {"delta_chi2", f.delta_chi2}}
                       .dump()
                << "\n";
    } else {
      std::cout << fmt::format("transit: mid-time {:.5f} BJD_TDB, duration {:.4f} d ({:.1f} min), depth {:.3f} "
                               "+- {:.3f} %, {} of {} points in transit, delta chi2 {:.0f}\n",
                               f.mid_time, f.duration, f.duration * 1440, 100 * f.depth, 100 * f.depth_err,
                               f.points_in_transit, f.points, f.delta_chi2);
    }
    return static_cast<int>(tianyu::cli::kOk);
  });
}
