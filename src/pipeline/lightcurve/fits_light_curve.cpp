#include "pipeline/lightcurve/fits_light_curve.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "pipeline/atomic_file.h"
#include "pipeline/lightcurve/fits_table.h"

namespace tianyu::pipeline::lightcurve {
namespace {

namespace fs = std::filesystem;
namespace ft = fits_table;

using ft::refuse;

void check_columns(const fs::path& path, const FitsLightCurve& lc) {
  const std::size_t n = lc.bjd_tdb.size();
  if (lc.flux.size() != n || lc.flux_err.size() != n || lc.quality.size() != n) {
    refuse(path, "the light curve's TIME, FLUX, FLUX_ERR and QUALITY columns differ in length");
  }
  if ((!lc.observation_id.empty() && lc.observation_id.size() != n) || (!lc.frame_id.empty() && lc.frame_id.size() != n)) {
    refuse(path, "OBS_ID or FRAME_ID has a length other than the light curve's");
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(lc.bjd_tdb[i])) refuse(path, "point " + std::to_string(i + 1) + " has no finite time");
  }
  if (lc.target.object.empty()) refuse(path, "the light curve has no OBJECT name");
}

void key_string(fitsfile* f, const fs::path& path, const char* key, const std::string& value, const char* comment) {
  ft::check(path, std::string("writing ") + key, [&](int& status) {
    fits_update_key(f, TSTRING, key, const_cast<char*>(value.c_str()), comment, &status);
  });
}
void key_double(fitsfile* f, const fs::path& path, const char* key, double value, const char* comment) {
  ft::check(path, std::string("writing ") + key, [&](int& status) { fits_update_key(f, TDOUBLE, key, &value, comment, &status); });
}
void key_long(fitsfile* f, const fs::path& path, const char* key, long long value, const char* comment) {
  LONGLONG v = value;
  ft::check(path, std::string("writing ") + key, [&](int& status) { fits_update_key(f, TLONGLONG, key, &v, comment, &status); });
}

// The target's cards, in the primary header and again in the table's (as TESS does).
void target_keys(fitsfile* f, const fs::path& path, const LightCurveTarget& t) {
  key_string(f, path, "OBJECT", t.object, "target or field source");
  key_string(f, path, "TELESCOP", t.telescope, "telescope");
  key_string(f, path, "ORIGIN", t.origin, "institution or software that wrote the file");
  if (std::isfinite(t.ra_deg) && std::isfinite(t.dec_deg)) {
    key_double(f, path, "RA_OBJ", t.ra_deg, "[deg] right ascension");
    key_double(f, path, "DEC_OBJ", t.dec_deg, "[deg] declination");
    key_string(f, path, "RADESYS", "ICRS", "reference system of RA_OBJ/DEC_OBJ");
    key_double(f, path, "EQUINOX", 2000.0, "equinox of the coordinates");
  }
  if (t.field_id > 0) key_long(f, path, "FIELD_ID", t.field_id, "survey field (table field)");
  if (t.field_source_id > 0) key_long(f, path, "FSRC_ID", t.field_source_id, "field source id, stable across nights");
}

void time_keys(fitsfile* f, const fs::path& path, const std::vector<double>& btjd) {
  key_long(f, path, "BJDREFI", kBjdRefInt, "integer part of BJD reference date");
  key_double(f, path, "BJDREFF", 0.0, "fraction of the day in BJD reference date");
  key_string(f, path, "TIMEREF", "SOLARSYSTEM", "barycentric correction applied to times");
  key_string(f, path, "TIMESYS", "TDB", "time system is Barycentric Dynamical Time");
  key_string(f, path, "TIMEUNIT", "d", "time unit for TIME, TSTART and TSTOP");
  if (btjd.empty()) return;
  const auto [lo, hi] = std::minmax_element(btjd.begin(), btjd.end());
  key_double(f, path, "TSTART", *lo, "observation start time in BTJD");
  key_double(f, path, "TSTOP", *hi, "observation stop time in BTJD");
}

template <typename T>
void write_column(fitsfile* f, const fs::path& path, int type, int column, std::vector<T> values, const char* name) {
  if (values.empty()) return;
  ft::check(path, std::string("writing column ") + name, [&](int& status) {
    fits_write_col(f, type, column, 1, 1, static_cast<LONGLONG>(values.size()), values.data(), &status);
  });
}

void write_table(fitsfile* f, const fs::path& path, const FitsLightCurve& lc) {
  const char* names[] = {"TIME", "FLUX", "FLUX_ERR", "QUALITY", "OBS_ID", "FRAME_ID"};
  const char* forms[] = {"D", "D", "D", "J", "K", "K"};
  const char* units[] = {"d", "", "", "", "", ""};  // empty: no TUNIT (a ratio has no unit)
  ft::check(path, "creating the LIGHTCURVE table", [&](int& status) {
    fits_create_tbl(f, BINARY_TBL, 0, 6, const_cast<char**>(names), const_cast<char**>(forms),
                    const_cast<char**>(units), "LIGHTCURVE", &status);
  });
  std::vector<double> btjd;
  for (const double t : lc.bjd_tdb) btjd.push_back(t - kBjdRefInt);
  const std::size_t n = btjd.size();
  write_column(f, path, TDOUBLE, 1, btjd, "TIME");
  write_column(f, path, TDOUBLE, 2, lc.flux, "FLUX");
  write_column(f, path, TDOUBLE, 3, lc.flux_err, "FLUX_ERR");
  write_column(f, path, TINT, 4, lc.quality, "QUALITY");
  const std::vector<LONGLONG> zeros(n, 0);
  write_column(f, path, TLONGLONG, 5, lc.observation_id.empty() ? zeros : std::vector<LONGLONG>(lc.observation_id.begin(), lc.observation_id.end()), "OBS_ID");
  write_column(f, path, TLONGLONG, 6, lc.frame_id.empty() ? zeros : std::vector<LONGLONG>(lc.frame_id.begin(), lc.frame_id.end()), "FRAME_ID");
  time_keys(f, path, btjd);
  target_keys(f, path, lc.target);
}

void write_file(const fs::path& temp, const fs::path& path, const FitsLightCurve& lc) {
  ft::Handle f;
  ft::check(path, "creating " + temp.filename().string(),
            [&](int& status) { fits_create_file(f.out(), temp.string().c_str(), &status); });
  ft::check(path, "creating the primary HDU", [&](int& status) { fits_create_img(f.get(), BYTE_IMG, 0, nullptr, &status); });
  target_keys(f.get(), path, lc.target);
  ft::check(path, "writing DATE", [&](int& status) { fits_write_date(f.get(), &status); });
  write_table(f.get(), path, lc);
  // CFITSIO buffers: a full disk often shows only when the buffers are flushed at close.
  ft::check(path, "closing", [&](int& status) { status = f.close(); });
}

}  // namespace

void write_fits_light_curve(const fs::path& path, const FitsLightCurve& lc) {
  check_columns(path, lc);
  const auto temp = temp_path_beside(path);
  try {
    write_file(temp, path, lc);
  } catch (...) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw;
  }
  try {
    publish_temp_file(temp, path);
  } catch (const FitsError&) {
    throw;
  } catch (const FileError& e) {
    throw FitsError(e.what(), e.retryable());
  }
}

bool starts_like_fits(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char head[9] = {0};
  in.read(head, sizeof head);
  return in.gcount() == 9 && std::string(head, 9) == "SIMPLE  =";
}

}  // namespace tianyu::pipeline::lightcurve
