// The reader half of fits_light_curve.h.
#include <cmath>
#include <limits>

#include "pipeline/lightcurve/fits_light_curve.h"
#include "pipeline/lightcurve/fits_table.h"

namespace tianyu::pipeline::lightcurve {
namespace {

namespace fs = std::filesystem;
namespace ft = fits_table;

using ft::refuse;

// An optional keyword: false when absent, any other problem thrown.
template <typename T>
bool optional_key(fitsfile* f, const fs::path& path, const char* key, int type, T* value) {
  int status = 0;
  fits_read_key(f, type, key, value, nullptr, &status);
  if (status == KEY_NO_EXIST) return false;
  if (status != 0) throw ft::error(path, std::string("reading ") + key, status, 0);
  return true;
}

std::string optional_text(fitsfile* f, const fs::path& path, const char* key) {
  char value[FLEN_VALUE] = {0};
  return optional_key(f, path, key, TSTRING, value) ? std::string(value) : std::string();
}

LightCurveTarget read_target(fitsfile* f, const fs::path& path) {
  LightCurveTarget t;
  t.object = optional_text(f, path, "OBJECT");
  t.telescope = optional_text(f, path, "TELESCOP");
  t.origin = optional_text(f, path, "ORIGIN");
  optional_key(f, path, "RA_OBJ", TDOUBLE, &t.ra_deg);
  optional_key(f, path, "DEC_OBJ", TDOUBLE, &t.dec_deg);
  LONGLONG id = 0;
  if (optional_key(f, path, "FIELD_ID", TLONGLONG, &id)) t.field_id = id;
  if (optional_key(f, path, "FSRC_ID", TLONGLONG, &id)) t.field_source_id = id;
  return t;
}

int column_number(fitsfile* f, const fs::path& path, const char* name, bool required) {
  int number = 0, status = 0;
  fits_get_colnum(f, CASEINSEN, const_cast<char*>(name), &number, &status);
  if (status == 0) return number;
  if (required) refuse(path, std::string("the LIGHTCURVE table has no column ") + name);
  return 0;
}

template <typename T>
std::vector<T> read_column(fitsfile* f, const fs::path& path, int type, const char* name, long rows, bool required) {
  const int number = column_number(f, path, name, required);
  if (number == 0) return {};
  std::vector<T> v(static_cast<std::size_t>(rows));
  T null_value = std::numeric_limits<T>::has_quiet_NaN ? std::numeric_limits<T>::quiet_NaN() : T{0};
  int any_null = 0;
  ft::check(path, std::string("reading column ") + name, [&](int& status) {
    fits_read_col(f, type, number, 1, 1, rows, &null_value, v.data(), &any_null, &status);
  });
  return v;
}

double reference_day(fitsfile* f, const fs::path& path) {
  LONGLONG integer = 0;
  double fraction = 0;
  if (!optional_key(f, path, "BJDREFI", TLONGLONG, &integer)) refuse(path, "the LIGHTCURVE table has no BJDREFI");
  optional_key(f, path, "BJDREFF", TDOUBLE, &fraction);
  const std::string system = optional_text(f, path, "TIMESYS");
  if (!system.empty() && system != "TDB") refuse(path, "TIMESYS is '" + system + "', expected 'TDB'");
  return static_cast<double>(integer) + fraction;
}

}  // namespace

FitsLightCurve read_fits_light_curve(const fs::path& path) {
  ft::Handle f;
  ft::check(path, "opening as a FITS file", [&](int& status) { fits_open_file(f.out(), path.string().c_str(), READONLY, &status); });
  FitsLightCurve lc;
  lc.target = read_target(f.get(), path);
  {
    int status = 0;
    fits_movnam_hdu(f.get(), BINARY_TBL, const_cast<char*>("LIGHTCURVE"), 0, &status);
    if (status == BAD_HDU_NUM) refuse(path, "no binary table named LIGHTCURVE");
    if (status != 0) throw ft::error(path, "moving to the LIGHTCURVE table", status, 0);
  }
  const double reference = reference_day(f.get(), path);
  long rows = 0;
  ft::check(path, "counting rows", [&](int& status) { fits_get_num_rows(f.get(), &rows, &status); });
  lc.bjd_tdb = read_column<double>(f.get(), path, TDOUBLE, "TIME", rows, true);
  for (auto& t : lc.bjd_tdb) t += reference;
  lc.flux = read_column<double>(f.get(), path, TDOUBLE, "FLUX", rows, true);
  lc.flux_err = read_column<double>(f.get(), path, TDOUBLE, "FLUX_ERR", rows, true);
  lc.quality = read_column<std::int32_t>(f.get(), path, TINT, "QUALITY", rows, true);
  lc.observation_id = read_column<std::int64_t>(f.get(), path, TLONGLONG, "OBS_ID", rows, false);
  lc.frame_id = read_column<std::int64_t>(f.get(), path, TLONGLONG, "FRAME_ID", rows, false);
  return lc;
}

}  // namespace tianyu::pipeline::lightcurve
