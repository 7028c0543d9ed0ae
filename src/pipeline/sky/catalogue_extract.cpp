#include "pipeline/sky/catalogue_extract.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <map>

#include "pipeline/file_error.h"

namespace tianyu::pipeline::sky {
namespace detail {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

const std::map<std::string, std::vector<std::string>>& aliases() {
  static const std::map<std::string, std::vector<std::string>> a{
      {"ra", {"ra", "ra_deg", "raj2000", "_raj2000", "ra_icrs"}},
      {"dec", {"dec", "dec_deg", "dej2000", "_dej2000", "decj2000", "de_icrs", "dec_icrs"}},
      {"mag", {"mag", "phot_g_mean_mag", "gmag", "vtmag", "vmag", "btmag", "rmag", "hpmag"}},
      {"id", {"source_id", "id", "designation", "name", "tyc"}}};
  return a;
}

// One CSV line into cells; a double-quoted cell may hold commas and "" for a quote.
std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      cells.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  for (auto& c : cells) c = trim(c);
  return cells;
}

FileError bad(const std::filesystem::path& path, int line, const std::string& what) {
  return FileError(path.string() + ":" + std::to_string(line) + ": " + what + " (bad input: a retry will not help)");
}

double number(const std::filesystem::path& path, int line, const std::string& column, const std::string& cell) {
  if (cell.empty()) throw bad(path, line, "column '" + column + "' is empty");
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(cell, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != cell.size()) throw bad(path, line, "column '" + column + "' value '" + cell + "' is not a number");
  if (!std::isfinite(v)) throw bad(path, line, "column '" + column + "' is " + cell + " (refused: not finite)");
  return v;
}

struct CsvColumns {
  int ra = -1, dec = -1, mag = -1, id = -1;
};

CsvColumns csv_columns(const std::filesystem::path& path, int line, const std::vector<std::string>& names,
                       const CatalogueExtractOptions& o) {
  CsvColumns c{find_column(names, o.ra_column, "ra"), find_column(names, o.dec_column, "dec"),
               find_column(names, o.mag_column, "mag"), find_column(names, o.id_column, "id")};
  const auto need = [&](int index, const std::string& wanted, const char* role) {
    if (index >= 0) return;
    throw bad(path, line, wanted.empty() ? std::string("no ") + role + " column in the header" : "no column '" + wanted + "' in the header");
  };
  need(c.ra, o.ra_column, "RA");
  need(c.dec, o.dec_column, "Dec");
  need(c.mag, o.mag_column, "magnitude");
  if (!o.id_column.empty()) need(c.id, o.id_column, "id");
  return c;
}

}  // namespace

int find_column(const std::vector<std::string>& names, const std::string& wanted, const std::string& role) {
  const std::vector<std::string> options = wanted.empty() ? aliases().at(role) : std::vector<std::string>{lower(wanted)};
  for (const auto& option : options) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (lower(trim(names[i])) == option) return static_cast<int>(i);
    }
  }
  return -1;
}

std::string star_problem(const catalogues::CatalogueStar& s) {
  if (!(s.ra_deg >= 0 && s.ra_deg <= 360)) return "RA " + std::to_string(s.ra_deg) + " is outside [0, 360] degrees";
  if (!(s.dec_deg >= -90 && s.dec_deg <= 90)) return "Dec " + std::to_string(s.dec_deg) + " is outside [-90, 90] degrees";
  if (!std::isfinite(s.mag)) return "the magnitude is not finite";
  if (s.id.empty()) return "the id is empty";
  return "";
}

catalogues::CatalogueStars read_catalogue_csv(const std::filesystem::path& path, const CatalogueExtractOptions& o) {
  errno = 0;
  std::ifstream in(path);
  if (!in) throw file_error(path, "cannot open the catalogue extract", errno);
  const std::string catalogue = o.catalogue.empty() ? path.stem().string() : o.catalogue;
  std::vector<std::string> header;
  CsvColumns c;
  catalogues::CatalogueStars stars;
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (trim(line).empty() || trim(line)[0] == '#') continue;
    const auto cells = split_csv(line);
    if (header.empty()) {
      header = cells;
      c = csv_columns(path, line_number, header, o);
      continue;
    }
    if (cells.size() != header.size()) {
      throw bad(path, line_number, std::to_string(cells.size()) + " cells, the header has " + std::to_string(header.size()));
    }
    catalogues::CatalogueStar s;
    s.ra_deg = number(path, line_number, header[c.ra], cells[c.ra]);
    s.dec_deg = number(path, line_number, header[c.dec], cells[c.dec]);
    s.mag = number(path, line_number, header[c.mag], cells[c.mag]);
    s.id = c.id >= 0 ? cells[c.id] : catalogue + ":" + std::to_string(stars.size() + 1);
    if (const auto problem = star_problem(s); !problem.empty()) throw bad(path, line_number, problem);
    stars.push_back(std::move(s));
  }
  if (in.bad()) throw file_error(path, "reading the catalogue extract", errno);
  if (header.empty()) throw FileError(path.string() + ": no header line (an empty catalogue extract)");
  return stars;
}

}  // namespace detail

catalogues::CatalogueStars read_catalogue_extract(const std::filesystem::path& path, const CatalogueExtractOptions& options) {
  std::string name = path.filename().string();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  for (const std::string ext : {".fits", ".fit", ".fts", ".fits.gz"}) {
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
      return detail::read_catalogue_fits(path, options);
    }
  }
  return detail::read_catalogue_csv(path, options);
}

}  // namespace tianyu::pipeline::sky
