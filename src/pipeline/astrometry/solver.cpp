#include "pipeline/astrometry/solver.h"

#include <fitsio.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>

#include <cstdio>

namespace tianyu::pipeline::astrometry {
namespace {

std::mutex& cfitsio_mutex() {
  static std::mutex m;
  return m;
}

struct FitsCloser {
  void operator()(fitsfile* f) const {
    int s = 0;
    if (f) fits_close_file(f, &s);
  }
};
using FitsFile = std::unique_ptr<fitsfile, FitsCloser>;

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what, int status) {
  char text[FLEN_STATUS] = {0};
  fits_get_errstatus(status, text);
  // A write that fails for want of space or descriptors may pass; anything else will not.
  const bool transient = status == WRITE_ERROR || status == FILE_NOT_CREATED || status == TOO_MANY_FILES;
  throw FitsError(path.string() + ": " + what + ": " + text + (transient ? " (a retry can help)" : ""), transient);
}

std::string format(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6f", v);
  return text;
}

}  // namespace

void write_xylist(const std::filesystem::path& path, std::vector<FieldStar> stars, int width, int height,
                  std::size_t max_stars) {
  std::stable_sort(stars.begin(), stars.end(), [](const FieldStar& a, const FieldStar& b) { return a.flux > b.flux; });
  if (stars.size() > max_stars) stars.resize(max_stars);
  std::vector<double> x, y, flux;
  for (const auto& s : stars) {
    x.push_back(s.x + 1);  // FITS pixels are 1-based
    y.push_back(s.y + 1);
    flux.push_back(s.flux);
  }
  std::lock_guard lock(cfitsio_mutex());
  int status = 0;
  fitsfile* raw = nullptr;
  fits_create_file(&raw, ("!" + path.string()).c_str(), &status);  // '!': replace
  FitsFile file(raw);
  if (status) fail(path, "cannot create the xylist", status);
  fits_create_img(file.get(), BYTE_IMG, 0, nullptr, &status);
  char* names[] = {const_cast<char*>("X"), const_cast<char*>("Y"), const_cast<char*>("FLUX")};
  char* forms[] = {const_cast<char*>("1D"), const_cast<char*>("1D"), const_cast<char*>("1D")};
  fits_create_tbl(file.get(), BINARY_TBL, static_cast<LONGLONG>(x.size()), 3, names, forms, nullptr, "SOURCES", &status);
  long w = width, h = height;
  fits_update_key(file.get(), TLONG, "IMAGEW", &w, "image width (pixels)", &status);
  fits_update_key(file.get(), TLONG, "IMAGEH", &h, "image height (pixels)", &status);
  if (!x.empty()) {
    fits_write_col(file.get(), TDOUBLE, 1, 1, 1, static_cast<LONGLONG>(x.size()), x.data(), &status);
    fits_write_col(file.get(), TDOUBLE, 2, 1, 1, static_cast<LONGLONG>(y.size()), y.data(), &status);
    fits_write_col(file.get(), TDOUBLE, 3, 1, 1, static_cast<LONGLONG>(flux.size()), flux.data(), &status);
  }
  if (status) fail(path, "cannot write the xylist", status);
  fitsfile* f = file.release();
  fits_close_file(f, &status);
  if (status) fail(path, "cannot close the xylist", status);
}

std::filesystem::path wcs_output(const SolveFieldRequest& r) { return r.out_dir / (r.base + ".wcs"); }
std::filesystem::path correspondence_output(const SolveFieldRequest& r) { return r.out_dir / (r.base + ".corr"); }

std::vector<std::string> solve_field_arguments(const SolveFieldRequest& r) {
  std::vector<std::string> argv{
      r.executable, "--no-plots", "--overwrite",
      // Our list is SEP's, already free of hot pixels and bad columns: keep every star.
      "--no-remove-lines",
      "--dir", r.out_dir.string(), "--out", r.base, "--temp-dir", r.out_dir.string(),
      "--new-fits", "none", "--match", "none", "--rdls", "none", "--index-xyls", "none",
      "--corr", correspondence_output(r).string(), "--wcs", wcs_output(r).string(),
      "--crpix-center", "--tweak-order", std::to_string(r.tweak_order),
      "--scale-units", "arcsecperpix", "--scale-low", format(r.scale_low_arcsec), "--scale-high",
      format(r.scale_high_arcsec),
      "--width", std::to_string(r.width), "--height", std::to_string(r.height),
      "--x-column", "X", "--y-column", "Y", "--sort-column", "FLUX",
      "--cpulimit", std::to_string(r.cpu_limit_s)};
  if (r.ra_deg && r.dec_deg) {
    for (const auto& a : {std::string("--ra"), format(*r.ra_deg), std::string("--dec"), format(*r.dec_deg),
                          std::string("--radius"), format(r.radius_deg)}) {
      argv.push_back(a);
    }
  }
  argv.push_back(r.xylist.string());
  return argv;
}

std::vector<Correspondence> read_correspondences(const std::filesystem::path& path) {
  std::lock_guard lock(cfitsio_mutex());
  int status = 0;
  fitsfile* raw = nullptr;
  fits_open_table(&raw, path.string().c_str(), READONLY, &status);  // the first table HDU
  FitsFile file(raw);
  if (status) fail(path, "cannot open the correspondence table", status);
  long rows = 0;
  fits_get_num_rows(file.get(), &rows, &status);
  std::vector<std::vector<double>> columns;
  for (const char* name : {"field_x", "field_y", "index_ra", "index_dec"}) {
    int column = 0;
    fits_get_colnum(file.get(), CASEINSEN, const_cast<char*>(name), &column, &status);
    if (status) fail(path, std::string("no column ") + name, status);
    std::vector<double> values(static_cast<std::size_t>(rows));
    if (rows > 0) fits_read_col(file.get(), TDOUBLE, column, 1, 1, rows, nullptr, values.data(), nullptr, &status);
    if (status) fail(path, std::string("cannot read column ") + name, status);
    columns.push_back(std::move(values));
  }
  std::vector<Correspondence> out;
  for (long i = 0; i < rows; ++i) {
    out.push_back({columns[0][i] - 1, columns[1][i] - 1, {columns[2][i], columns[3][i]}});
  }
  return out;
}

SolutionCheck check_solution(const TanSipWcs& wcs, const std::vector<Correspondence>& pairs) {
  SolutionCheck c;
  double sum = 0;
  std::vector<double> separations;
  for (const auto& p : pairs) {
    const double d = separation_arcsec(wcs.pixel_to_sky(p.field_x, p.field_y), p.catalogue);
    sum += d * d;
    c.max_arcsec = std::max(c.max_arcsec, d);
    separations.push_back(d);
    ++c.catalogue_stars;
  }
  if (separations.empty()) return c;
  c.rms_arcsec = std::sqrt(sum / c.catalogue_stars);
  std::sort(separations.begin(), separations.end());
  const std::size_t n = separations.size();
  c.median_arcsec = n % 2 ? separations[n / 2] : (separations[n / 2 - 1] + separations[n / 2]) / 2;
  return c;
}

}  // namespace tianyu::pipeline::astrometry
