#include "pipeline/transit/lightcurve_io.h"

#include "pipeline/lightcurve/fits_light_curve.h"
#include "pipeline/robust_stats.h"

#include <fitsio.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace tianyu::pipeline {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw std::runtime_error(path.string() + ": " + what);
}

LightCurveData normalised(LightCurveData lc, const fs::path& path) {
  if (lc.time.size() < 10) fail(path, "fewer than 10 usable points");
  std::vector<std::size_t> order(lc.time.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return lc.time[a] < lc.time[b]; });
  std::vector<double> f = lc.flux;
  const double median = median_in_place(f);
  if (!(median > 0)) fail(path, "the median flux is not positive");
  LightCurveData out;
  for (const auto i : order) {
    out.time.push_back(lc.time[i]);
    out.flux.push_back(lc.flux[i] / median);
    out.flux_err.push_back(lc.flux_err[i] / median);
  }
  return out;
}

LightCurveData read_csv(const fs::path& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> names;
  for (std::stringstream ss(line); std::getline(ss, line, ',');) names.push_back(line);
  const auto column = [&](std::initializer_list<const char*> options) {
    for (const char* o : options) {
      const auto it = std::find(names.begin(), names.end(), o);
      if (it != names.end()) return static_cast<int>(it - names.begin());
    }
    return -1;
  };
  const int t = column({"bjd_tdb", "time"}), f = column({"rel_flux", "flux"}), e = column({"rel_flux_err", "flux_err"});
  const int flags = column({"flags"});
  if (t < 0 || f < 0 || e < 0) fail(path, "expected columns bjd_tdb/time, rel_flux/flux, rel_flux_err/flux_err");
  LightCurveData lc;
  int row = 1;
  while (std::getline(in, line)) {
    ++row;
    std::vector<std::string> cells;
    for (std::stringstream ss(line); std::getline(ss, line, ',');) cells.push_back(line);
    const int needed = std::max({t, f, e, flags});
    if (static_cast<int>(cells.size()) <= needed) {
      if (static_cast<int>(cells.size()) == needed && cells.size() > 0) cells.push_back("");
      else fail(path, "row " + std::to_string(row) + " has too few columns");
    }
    if (cells[f].empty() || cells[e].empty() || (flags >= 0 && cells[flags] != "0")) continue;
    try {
      lc.time.push_back(std::stod(cells[t]));
      lc.flux.push_back(std::stod(cells[f]));
      lc.flux_err.push_back(std::stod(cells[e]));
    } catch (const std::exception&) {
      fail(path, "row " + std::to_string(row) + " holds a value that is not a number");
    }
  }
  return normalised(std::move(lc), path);
}

struct FitsTable {
  fitsfile* f = nullptr;
  ~FitsTable() {
    int status = 0;
    if (f) fits_close_file(f, &status);
  }
};

std::vector<double> column(FitsTable& t, const fs::path& path, const char* name, long rows) {
  int status = 0, number = 0;
  fits_get_colnum(t.f, CASEINSEN, const_cast<char*>(name), &number, &status);
  if (status) fail(path, std::string("no column ") + name);
  std::vector<double> v(static_cast<std::size_t>(rows));
  double nan = std::nan("");
  int any = 0;
  fits_read_col(t.f, TDOUBLE, number, 1, 1, rows, &nan, v.data(), &any, &status);
  if (status) fail(path, std::string("cannot read column ") + name);
  return v;
}

bool has_column(FitsTable& t, const char* name) {
  int status = 0, number = 0;
  fits_get_colnum(t.f, CASEINSEN, const_cast<char*>(name), &number, &status);
  return status == 0;
}

LightCurveData read_fits_table(const fs::path& path) {
  FitsTable t;
  int status = 0;
  fits_open_table(&t.f, path.string().c_str(), READONLY, &status);
  if (status) fail(path, "not a FITS file with a table in its first extension");
  // Ours (pipeline/lightcurve: TIME, FLUX, FLUX_ERR, QUALITY) unless it is a TESS/Kepler file.
  if (!has_column(t, "PDCSAP_FLUX") && has_column(t, "FLUX")) return normalised(read_fits_light_curve_points(path), path);
  long rows = 0;
  fits_get_num_rows(t.f, &rows, &status);
  const auto time = column(t, path, "TIME", rows);
  const auto flux = column(t, path, "PDCSAP_FLUX", rows);
  const auto err = column(t, path, "PDCSAP_FLUX_ERR", rows);
  const auto quality = column(t, path, "QUALITY", rows);
  LightCurveData lc;
  for (long i = 0; i < rows; ++i) {
    if (quality[i] != 0 || !std::isfinite(time[i]) || !std::isfinite(flux[i]) || !(err[i] > 0)) continue;
    lc.time.push_back(time[i]);
    lc.flux.push_back(flux[i]);
    lc.flux_err.push_back(err[i]);
  }
  return normalised(std::move(lc), path);
}

}  // namespace

bool is_fits_light_curve(const fs::path& path) {
  std::string name = path.filename().string();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto ends = [&](const std::string& e) { return name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0; };
  return ends(".fits") || ends(".fit") || ends(".fits.gz") || lightcurve::starts_like_fits(path);
}

LightCurveData read_fits_light_curve_points(const fs::path& path) {
  const auto lc = lightcurve::read_fits_light_curve(path);  // FitsError is a std::runtime_error
  LightCurveData out;
  for (std::size_t i = 0; i < lc.bjd_tdb.size(); ++i) {
    if (lc.quality[i] != 0 || !std::isfinite(lc.flux[i]) || !std::isfinite(lc.flux_err[i]) || !(lc.flux_err[i] > 0)) continue;
    out.time.push_back(lc.bjd_tdb[i]);
    out.flux.push_back(lc.flux[i]);
    out.flux_err.push_back(lc.flux_err[i]);
  }
  return out;
}

LightCurveData read_light_curve(const fs::path& path) {
  return is_fits_light_curve(path) ? read_fits_table(path) : read_csv(path);
}

}  // namespace tianyu::pipeline
