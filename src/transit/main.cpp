// tianyu-transit: transits in light curves. `fit` measures the transit of one night (a
// trapezoid on a baseline of systematics chosen by BIC, or with --planet the known planet's
// limb-darkened transit, whose shape cannot trade against the baseline) in a light curve
// exported by tianyu-publish export, as CSV or as our FITS light curve (pipeline/lightcurve);
// `search` and `single` also read plain CSV and TESS/Kepler FITS. A FITS file
// is known by its extension or by its first card.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>

#include "common/cli.h"
#include "common/errors.h"
#include "common/platform.h"
#include "common/version.h"
#include "pipeline/transit/limb_darkened_fit.h"
#include "pipeline/transit/lightcurve_io.h"
#include "pipeline/transit/search.h"
#include "pipeline/transit/single_transit.h"
#include "pipeline/transit/trapezoid_fit.h"

namespace {

namespace tp = tianyu::pipeline;

struct LightCurve {
  std::vector<double> time, flux, error;
  // The export's per-frame systematics columns, offered to the fit's baseline.
  std::vector<tp::BaselineRegressor> regressors;
};

// The columns of the export's CSV that `fit` offers to the baseline (airmass first: always
// offered when present, as EXOTIC fits it).
const std::vector<std::string>& systematics_columns() {
  static const std::vector<std::string> names{"airmass", "fwhm_px", "background_adu", "transparency", "x_px", "y_px"};
  return names;
}

// Our export's CSV (bjd_tdb, rel_flux, rel_flux_err, frame, flags, then any systematics
// columns): clean points only; a systematic left empty in a row is NaN (the fit leaves the
// point out only when that regressor is offered).
LightCurve read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw tianyu::InputError(path + ": cannot open");
  std::string line;
  std::getline(in, line);
  if (line.rfind("bjd_tdb,rel_flux,rel_flux_err", 0) != 0) {
    throw tianyu::InputError(path + ": expected the header 'bjd_tdb,rel_flux,rel_flux_err,frame,flags', got '" + line + "'");
  }
  std::vector<std::string> names;
  for (std::stringstream h(line); std::getline(h, line, ',');) names.push_back(line);
  LightCurve c;
  std::vector<std::size_t> columns;
  for (const auto& want : systematics_columns()) {
    const auto it = std::find(names.begin(), names.end(), want);
    if (it == names.end()) continue;
    columns.push_back(static_cast<std::size_t>(it - names.begin()));
    c.regressors.push_back({want, {}});
  }
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
      for (std::size_t k = 0; k < columns.size(); ++k) {
        const bool empty = columns[k] >= cells.size() || cells[columns[k]].empty();
        c.regressors[k].values.push_back(empty ? std::nan("") : std::stod(cells[columns[k]]));
      }
    } catch (const std::exception&) {
      throw tianyu::InputError(fmt::format("{}:{}: not a number in '{}'", path, row, line));
    }
  }
  return c;
}


// The night as `fit` uses it: the export's CSV, or the good points of our FITS light curve (the
// same BJD_TDB and relative flux, not normalised, so both give the same fit).
LightCurve read_night(const std::string& path) {
  if (!tp::is_fits_light_curve(path)) return read_csv(path);
  try {
    auto points = tp::read_fits_light_curve_points(path);
    return {std::move(points.time), std::move(points.flux), std::move(points.flux_err), {}};
  } catch (const std::runtime_error& e) {
    throw tianyu::InputError(e.what());
  }
}

tp::LightCurveData read_light_curve_or_refuse(const std::string& path) {
  try {
    return tp::read_light_curve(path);
  } catch (const std::runtime_error& e) {
    throw tianyu::InputError(e.what());
  }
}

// A gnuplot single-quoted string: a quote is doubled; a line break would end the command, so
// text with one is refused naming what it is.
std::string gnuplot_quoted(const std::string& text, const std::string& what) {
  if (text.find_first_of("\n\r") != std::string::npos) {
    throw tianyu::InputError(what + " '" + text + "' contains a line break (refused: it would end the gnuplot command)");
  }
  std::string out = "'";
  for (char ch : text) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out + "'";
}

struct FitCommand {
  std::string file;
  bool json = false, no_systematics = false;
  std::vector<std::string> only;
  tp::TrapezoidFitOptions options;
  // --planet P,a/R*,b[,u1,u2]: the known planet's limb-darkened transit (only its mid-time and
  // radius ratio fitted), searched within --window of --mid-time when given.
  std::vector<double> planet;
  double mid_guess = 0, window = 0;
  CLI::App* fit = nullptr;

  void add(CLI::App& app) {
    fit = app.add_subcommand("fit", "Fit one transit (trapezoid + baseline: a line and the systematics chosen by BIC)");
    fit->add_option("lightcurve", file, "Light curve from tianyu-publish export: CSV or FITS (LIGHTCURVE table)")->required()->check(CLI::ExistingFile);
    fit->add_option("--min-duration", options.min_duration_d, "Shortest transit tried (days; default 4 cadences)");
    fit->add_option("--max-duration", options.max_duration_d, "Longest transit tried (days; default 80 % of the span)");
    fit->add_option("--systematics", only, "Offer only these CSV columns to the baseline (default: every one of "
                                           "airmass, fwhm_px, background_adu, transparency, x_px, y_px present)")
        ->delimiter(',');
    fit->add_flag("--no-systematics", no_systematics, "A straight baseline only (no systematics offered)");
    fit->add_option("--max-systematics", options.max_regressors, "The largest set of systematics tried (default 3)");
    fit->add_option("--planet", planet, "A known planet: PERIOD,A_OVER_RSTAR,IMPACT[,U1,U2] (days, stellar radii; "
                                        "quadratic limb darkening, default 0.33,0.30): fit its limb-darkened transit "
                                        "(mid-time and radius ratio) instead of a trapezoid")
        ->delimiter(',');
    fit->add_option("--mid-time", mid_guess, "With --planet: the predicted mid-time (BJD_TDB) to search around");
    fit->add_option("--window", window, "With --planet and --mid-time: search within +- this (days)");
    fit->add_flag("--json", json, "Print the fit as JSON");
  }
  std::vector<tp::BaselineRegressor> offered(const LightCurve& c) const {
    std::vector<tp::BaselineRegressor> out;
    for (const auto& r : c.regressors) {
      if (no_systematics) break;
      if (only.empty() || std::find(only.begin(), only.end(), r.name) != only.end()) out.push_back(r);
    }
    for (const auto& name : only) {
      const bool found = std::any_of(c.regressors.begin(), c.regressors.end(), [&](auto& r) { return r.name == name; });
      if (!found) throw tianyu::InputError(file + ": --systematics " + name + ": no such column in the light curve");
    }
    return out;
  }
  static nlohmann::json baselines_json(const tp::TrapezoidFit& f) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& b : f.baselines) out.push_back({{"systematics", b.regressors}, {"bic", b.bic}, {"chi2", b.chi2}});
    return out;
  }
  void print(const tp::TrapezoidFit& f) const {
    std::string chosen;
    for (std::size_t k = 0; k < f.regressors.size(); ++k) {
      chosen += fmt::format("{}{} ({:+.4g})", k ? ", " : "", f.regressors[k], f.regressor_coefficients[k]);
    }
    std::cout << fmt::format("transit: mid-time {:.5f} BJD_TDB, duration {:.4f} d ({:.1f} min), depth {:.3f} "
                             "+- {:.3f} %, {} of {} points in transit, delta chi2 {:.0f}\n",
                             f.mid_time, f.duration, f.duration * 1440, 100 * f.depth, 100 * f.depth_err,
                             f.points_in_transit, f.points, f.delta_chi2);
    std::cout << fmt::format("baseline: line{}{} (BIC {:.1f}, {} sets tried); residual rms {:.3f} %, "
                             "residual scatter / stated errors {:.2f}\n",
                             chosen.empty() ? "" : " + ", chosen, f.bic, f.baselines.size(), 100 * f.residual_rms,
                             f.error_scale);
  }
  void run_planet(const LightCurve& c) const {
    if (planet.size() != 3 && planet.size() != 5) throw tianyu::InputError("--planet takes PERIOD,A_OVER_RSTAR,IMPACT[,U1,U2]");
    tp::LimbDarkenedFitOptions o;
    o.shape = {planet[0], planet[1], planet[2]};
    if (planet.size() == 5) {
      o.shape.u1 = planet[3];
      o.shape.u2 = planet[4];
    }
    o.mid_time_guess = mid_guess;
    o.mid_time_window_d = window;
    o.regressors = offered(c);
    o.max_regressors = options.max_regressors;
    tp::LimbDarkenedFit f;
    try {
      f = tp::fit_limb_darkened_transit(c.time, c.flux, c.error, o);
    } catch (const tp::TransitFitError& e) {
      throw tianyu::InputError(file + ": " + e.what());
    }
    std::string chosen;
    for (std::size_t k = 0; k < f.regressors.size(); ++k) {
      chosen += fmt::format("{}{} ({:+.4g})", k ? ", " : "", f.regressors[k], f.regressor_coefficients[k]);
    }
    if (!json) {
      std::cout << fmt::format("transit (limb-darkened): mid-time {:.5f} +- {:.5f} BJD_TDB, Rp/R* {:.4f} +- {:.4f}, "
                               "depth (Rp/R*)^2 {:.3f} +- {:.3f} %, T14 {:.1f} min\n",
                               f.mid_time, f.mid_time_err, f.radius_ratio, f.radius_ratio_err, 100 * f.depth,
                               100 * f.depth_err, f.duration * 1440);
      std::cout << fmt::format("baseline: line{}{} (BIC {:.1f}, {} sets tried); residual rms {:.3f} %, residual "
                               "scatter / stated errors {:.2f}\n",
                               chosen.empty() ? "" : " + ", chosen, f.bic, f.baselines.size(), 100 * f.residual_rms,
                               f.error_scale);
      return;
    }
    std::cout << nlohmann::json{{"model", "limb_darkened"}, {"mid_time_bjd_tdb", f.mid_time},
                                {"mid_time_err", f.mid_time_err}, {"radius_ratio", f.radius_ratio},
                                {"radius_ratio_err", f.radius_ratio_err}, {"depth", f.depth},
                                {"depth_err", f.depth_err}, {"duration_d", f.duration},
                                {"residual_rms", f.residual_rms}, {"points", f.points},
                                {"systematics", f.regressors}, {"systematics_coefficients", f.regressor_coefficients},
                                {"bic", f.bic}, {"error_scale", f.error_scale}}
                     .dump()
              << "\n";
  }
  void run() const {
    const auto c = read_night(file);
    if (!planet.empty()) return run_planet(c);
    auto o = options;
    o.regressors = offered(c);
    tp::TrapezoidFit f;
    try {
      f = tp::fit_trapezoid_transit(c.time, c.flux, c.error, o);
    } catch (const tp::TransitFitError& e) {
      throw tianyu::InputError(file + ": " + e.what());
    }
    if (!json) return print(f);
    std::cout << nlohmann::json{{"mid_time_bjd_tdb", f.mid_time}, {"duration_d", f.duration},
                                {"ingress_d", f.ingress},          {"depth", f.depth},
                                {"depth_err", f.depth_err},        {"slope_per_day", f.slope_per_day},
                                {"residual_rms", f.residual_rms},  {"points", f.points},
                                {"points_in_transit", f.points_in_transit}, {"delta_chi2", f.delta_chi2},
                                {"systematics", f.regressors},     {"systematics_coefficients", f.regressor_coefficients},
                                {"bic", f.bic},                    {"baselines", baselines_json(f)},
                                {"error_scale", f.error_scale}}
                     .dump()
              << "\n";
  }
};

struct SearchCommand {
  std::string file, method = "gp", periodogram_csv, periodogram_png;
  double min_period = 0.5, max_period = 10;
  int period_count = 20000, planets = 1, threads = 0;
  std::vector<double> durations;
  bool json = false;
  CLI::App* search = nullptr;

  void add(CLI::App& app) {
    search = app.add_subcommand("search", "Search a light curve for periodic transits");
    search->add_option("lightcurve", file, "Light-curve CSV (our export, or time,flux,flux_err), our FITS light curve or TESS/Kepler FITS")
        ->required()->check(CLI::ExistingFile);
    search->add_option("--method", method, "gp (default: the variability as a GP while searching), bls (white noise), "
                                           "biweight-bls (detrend with a sliding biweight, then BLS)");
    search->add_option("--min-period", min_period, "Shortest period (days, default 0.5)");
    search->add_option("--max-period", max_period, "Longest period (days, default 10)");
    search->add_option("--periods", period_count, "Periods on the grid, uniform in frequency (default 20000)");
    search->add_option("--durations", durations, "Transit durations tried (days, comma-separated; default 0.04-0.2)")
        ->delimiter(',');
    search->add_option("--planets", planets, "Candidates to find, masking each before the next (default 1)");
    search->add_option("--threads", threads, "Threads (0: one per core)");
    search->add_option("--periodogram", periodogram_csv, "Write the SNR periodogram of the first search as CSV");
    search->add_option("--periodogram-png", periodogram_png, "Plot that periodogram as a PNG (gnuplot)");
    search->add_flag("--json", json, "Print the candidates as a JSON array");
  }

  tp::TransitSearchOptions search_options() const {
    if (method != "gp" && method != "bls" && method != "biweight-bls") {
      throw tianyu::InputError("--method must be gp, bls or biweight-bls, got '" + method + "'");
    }
    tp::TransitSearchOptions options;
    options.method = method == "gp" ? tp::SearchMethod::gp
                     : method == "bls" ? tp::SearchMethod::bls : tp::SearchMethod::biweight_bls;
    if (!durations.empty()) options.linear.durations = durations;
    options.linear.threads = threads;
    options.periods = tp::period_grid(min_period, max_period, period_count);
    return options;
  }

  void write_periodogram(const tp::TransitSearchResult& result) const {
    const auto& g = result.periodogram;
    if (!periodogram_csv.empty()) {
      std::ofstream csv(periodogram_csv);
      csv << "period,snr,depth,t0,duration\n";
      for (const auto& c : g.best) csv << fmt::format("{:.8f},{:.4f},{:.6g},{:.6f},{:.4f}\n", c.period, c.snr, c.depth, c.t0, c.duration);
      csv.close();
      if (!csv) throw tianyu::Error(periodogram_csv + ": writing the periodogram failed");
    }
    if (periodogram_png.empty()) return;
    std::string data;
    for (const auto& c : g.best) data += fmt::format("{:.8f} {:.4f}\n", c.period, c.snr);
    const std::string title = fmt::format("{} ({}): best {:.5f} d, SNR {:.1f}", file, method, g.peak.period, g.peak.snr);
    const std::string script = fmt::format(
        "set terminal pngcairo size 1000,500 noenhanced\nset output {}\nset logscale x\n"
        "set xlabel 'period (days)'\nset ylabel 'SNR'\nset title {}\n"
        "plot '-' using 1:2 with lines lc rgb '#1a1a1a' notitle\n{}e\n",
        gnuplot_quoted(periodogram_png, "--periodogram-png"), gnuplot_quoted(title, "the light-curve path"), data);
    if (tianyu::platform::run_with_input("gnuplot", script) != 0) {
      throw tianyu::Error("gnuplot failed to draw " + periodogram_png + " (install gnuplot-nox)");
    }
  }

  nlohmann::json candidate(const tp::TransitSearchResult& result, int planet) const {
    const auto& g = result.periodogram;
    const auto& c = g.peak;
    if (!json) {
      std::cout << fmt::format("candidate {}: period {:.5f} d, t0 {:.5f}, duration {:.3f} d, depth {:.4f} +- {:.4f} %, "
                               "SNR {:.1f}, SDE {:.1f}, {} transits ({})\n",
                               planet + 1, c.period, c.t0, c.duration, 100 * c.depth, 100 * c.depth_err, c.snr, g.sde,
                               c.transits, method);
    }
    return {{"period", c.period}, {"t0", c.t0}, {"duration", c.duration}, {"depth", c.depth},
            {"depth_err", c.depth_err}, {"snr", c.snr}, {"sde", g.sde}, {"transits", c.transits},
            {"method", method}};
  }

  void run() const {
    auto lc = read_light_curve_or_refuse(file);
    const auto options = search_options();
    nlohmann::json out = nlohmann::json::array();
    for (int planet = 0; planet < planets; ++planet) {
      const auto result = tp::search_transits(lc, options);
      if (planet == 0) write_periodogram(result);
      out.push_back(candidate(result, planet));
      lc = tp::mask_transits(lc, result.periodogram.peak);
    }
    if (json) std::cout << out.dump() << "\n";
  }
};

struct SingleCommand {
  std::string file;
  tp::SingleTransitOptions options;
  CLI::App* single = nullptr;

  void add(CLI::App& app) {
    single = app.add_subcommand("single", "One night: transit (U-shaped dip + quadratic trend) against the trend "
                                          "alone, as a log Bayes factor");
    single->add_option("lightcurve", file, "Light-curve CSV (our export, or time,flux,flux_err), our FITS light curve or TESS/Kepler FITS")
        ->required()->check(CLI::ExistingFile);
    single->add_option("--min-duration", options.min_duration_d, "Shortest transit (days, default 0.02)");
    single->add_option("--max-duration", options.max_duration_d, "Longest transit (days, default 0.2)");
  }
  void run() const {
    const auto lc = read_light_curve_or_refuse(file);
    const auto r = tp::single_transit_bayes_factor(lc.time, lc.flux, lc.flux_err, options);
    std::cout << nlohmann::json{{"ln_bayes_factor", r.ln_bayes_factor}, {"t0", r.best_t0},
                                {"duration", r.best_duration}, {"depth", r.best_depth}}
                     .dump()
              << "\n";
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Transits in light curves.", "tianyu-transit"};
  app.set_version_flag("--version", std::string("tianyu-transit ") + tianyu::kVersion);
  app.require_subcommand(1);
  FitCommand fit;
  SearchCommand search;
  SingleCommand single;
  fit.add(app);
  search.add(app);
  single.add(app);
  return tianyu::cli::run(app, argc, argv, [&] {
    if (*single.single) {
      single.run();
    } else if (*search.search) {
      search.run();
    } else {
      fit.run();
    }
    return static_cast<int>(tianyu::cli::kOk);
  });
}
