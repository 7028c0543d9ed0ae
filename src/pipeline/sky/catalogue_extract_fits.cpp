// The FITS binary-table half of read_catalogue_extract (see catalogue_extract.h).
#include <cmath>
#include <cstdio>
#include <limits>

#include "pipeline/lightcurve/fits_table.h"
#include "pipeline/sky/catalogue_extract.h"

namespace tianyu::pipeline::sky::detail {
namespace {

namespace ft = fits_table;

std::vector<std::string> column_names(fitsfile* f, const std::filesystem::path& path) {
  int count = 0;
  ft::check(path, "counting the table's columns", [&](int& status) { fits_get_num_cols(f, &count, &status); });
  std::vector<std::string> names;
  for (int i = 1; i <= count; ++i) {
    char key[FLEN_KEYWORD], value[FLEN_VALUE] = {0};
    std::snprintf(key, sizeof key, "TTYPE%d", i);
    int status = 0;
    fits_read_key(f, TSTRING, key, value, nullptr, &status);
    names.push_back(status == 0 ? value : "");
  }
  return names;
}

int required_column(const std::filesystem::path& path, const std::vector<std::string>& names,
                     const std::string& wanted, const std::string& role, const char* what) {
  const int index = find_column(names, wanted, role);
  if (index < 0 && (role != "id" || !wanted.empty())) {
    throw FitsError(path.string() + ": " + (wanted.empty() ? std::string("no ") + what + " column" : "no column '" + wanted + "'") +
                    " in the first table HDU (bad input: a retry will not help)");
  }
  return index;
}

std::vector<double> numbers(fitsfile* f, const std::filesystem::path& path, int index, const std::string& name, long rows) {
  std::vector<double> v(static_cast<std::size_t>(rows));
  double null_value = std::numeric_limits<double>::quiet_NaN();
  int any_null = 0;
  ft::check(path, "reading column " + name, [&](int& status) {
    fits_read_col(f, TDOUBLE, index + 1, 1, 1, rows, &null_value, v.data(), &any_null, &status);
  });
  return v;
}

// Ids as text: string columns as written, integer columns (Gaia's source_id is a 64-bit
// integer, beyond a double's exact range) through long long.
std::vector<std::string> ids(fitsfile* f, const std::filesystem::path& path, int index, long rows) {
  int type = 0;
  long repeat = 0, width = 0;
  ft::check(path, "reading the id column's type", [&](int& status) { fits_get_eqcoltype(f, index + 1, &type, &repeat, &width, &status); });
  std::vector<std::string> out;
  if (type == TSTRING) {
    std::vector<std::vector<char>> text(rows, std::vector<char>(static_cast<std::size_t>(width) + 1, 0));
    std::vector<char*> pointers;
    for (auto& t : text) pointers.push_back(t.data());
    ft::check(path, "reading the id column", [&](int& status) {
      fits_read_col(f, TSTRING, index + 1, 1, 1, rows, nullptr, pointers.data(), nullptr, &status);
    });
    for (auto& t : text) out.emplace_back(t.data());
    return out;
  }
  std::vector<long long> numbers_read(static_cast<std::size_t>(rows));
  ft::check(path, "reading the id column", [&](int& status) {
    fits_read_col(f, TLONGLONG, index + 1, 1, 1, rows, nullptr, numbers_read.data(), nullptr, &status);
  });
  for (const auto n : numbers_read) out.push_back(std::to_string(n));
  return out;
}

}  // namespace

catalogues::CatalogueStars read_catalogue_fits(const std::filesystem::path& path, const CatalogueExtractOptions& o) {
  ft::Handle f;
  ft::check(path, "opening the first table HDU of the catalogue extract",
            [&](int& status) { fits_open_table(f.out(), path.string().c_str(), READONLY, &status); });
  long rows = 0;
  ft::check(path, "counting rows", [&](int& status) { fits_get_num_rows(f.get(), &rows, &status); });
  const auto names = column_names(f.get(), path);
  const int ra_index = required_column(path, names, o.ra_column, "ra", "RA");
  const int dec_index = required_column(path, names, o.dec_column, "dec", "Dec");
  const int mag_index = required_column(path, names, o.mag_column, "mag", "magnitude");
  const int id_index = required_column(path, names, o.id_column, "id", "id");
  const auto ra = numbers(f.get(), path, ra_index, names[ra_index], rows);
  const auto dec = numbers(f.get(), path, dec_index, names[dec_index], rows);
  const auto mag = numbers(f.get(), path, mag_index, names[mag_index], rows);
  const auto id = id_index >= 0 ? ids(f.get(), path, id_index, rows) : std::vector<std::string>{};
  const std::string catalogue = o.catalogue.empty() ? path.stem().string() : o.catalogue;
  catalogues::CatalogueStars stars;
  stars.reserve(static_cast<std::size_t>(rows));
  for (long i = 0; i < rows; ++i) {
    catalogues::CatalogueStar s{id_index >= 0 ? id[i] : catalogue + ":" + std::to_string(i + 1), ra[i], dec[i], mag[i]};
    if (const auto problem = star_problem(s); !problem.empty()) {
      throw FitsError(path.string() + ": row " + std::to_string(i + 1) + ": " + problem + " (columns " + names[ra_index] +
                      ", " + names[dec_index] + ", " + names[mag_index] + "; bad input: a retry will not help)");
    }
    stars.push_back(std::move(s));
  }
  return stars;
}

}  // namespace tianyu::pipeline::sky::detail
