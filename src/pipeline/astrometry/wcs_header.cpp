// TAN-SIP WCS <-> FITS header cards: parsed from the solver's .wcs file or an operator's header
// file, written as cards for our FITS products and as text for the observation_wcs row.
#include <fitsio.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include "pipeline/astrometry/wcs.h"

namespace tianyu::pipeline::astrometry {
namespace {

// printf into a std::string (src/pipeline links no formatting library).
// Every use prints a number or two: 64 characters are plenty.
template <class... Args> std::string print(const char* format, Args... args) {
  char text[64];
  std::snprintf(text, sizeof text, format, args...);
  return text;
}

std::string pad_left(std::string s, std::size_t width) { return s.size() >= width ? s : std::string(width - s.size(), ' ') + s; }
std::string pad_right(std::string s, std::size_t width) { s.resize(std::max(width, s.size()), ' '); return s; }

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(' ');
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(' ') - begin + 1);
}

// One card "KEY     = value / comment" -> (KEY, value); strings unquoted ('' -> ').
std::optional<std::pair<std::string, std::string>> parse_card(const std::string& record) {
  const auto equals = record.find('=');
  if (equals == std::string::npos || equals > 8) return std::nullopt;  // COMMENT, HISTORY, blank
  const std::string key = trim(record.substr(0, equals));
  const std::string rest = record.substr(equals + 1);
  const auto first = rest.find_first_not_of(' ');
  if (first == std::string::npos) return std::pair{key, std::string()};
  if (rest[first] == '\'') {
    std::string value;
    for (std::size_t i = first + 1; i < rest.size(); ++i) {
      if (rest[i] == '\'') {
        if (i + 1 < rest.size() && rest[i + 1] == '\'') {
          value += '\'';
          ++i;
          continue;
        }
        break;
      }
      value += rest[i];
    }
    return std::pair{key, trim(value)};
  }
  return std::pair{key, trim(rest.substr(0, rest.find('/')))};
}

double number(const std::map<std::string, std::string>& cards, const std::string& key) {
  const auto it = cards.find(key);
  if (it == cards.end()) throw WcsError("WCS header: card " + key + " is missing");
  std::string text = it->second;
  for (auto& c : text) {
    if (c == 'D' || c == 'd') c = 'E';  // Fortran exponents are valid FITS
  }
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v)) {
    throw WcsError("WCS header: card " + key + " is not a number: '" + it->second + "'");
  }
  return v;
}

double number_or(const std::map<std::string, std::string>& cards, const std::string& key, double fallback) {
  return cards.count(key) ? number(cards, key) : fallback;
}

SipPolynomial read_sip(const std::map<std::string, std::string>& cards, const std::string& name) {
  SipPolynomial poly;
  if (!cards.count(name + "_ORDER")) return poly;
  const double order = number(cards, name + "_ORDER");
  if (order < 0 || order > 9 || order != std::floor(order)) {
    throw WcsError("WCS header: card " + name + "_ORDER must be an integer 0..9, got " + print("%g", order));
  }
  poly.order = static_cast<int>(order);
  poly.coefficient.assign(poly.order + 1, std::vector<double>(poly.order + 1, 0.0));
  for (int p = 0; p <= poly.order; ++p) {
    for (int q = 0; p + q <= poly.order; ++q) {
      poly.coefficient[p][q] = number_or(cards, name + print("_%d_%d", p, q), 0.0);
    }
  }
  return poly;
}

// CD, or CDELT with PC (or CROTA2, the older convention).
std::array<std::array<double, 2>, 2> read_cd(const std::map<std::string, std::string>& cards) {
  if (cards.count("CD1_1") || cards.count("CD1_2") || cards.count("CD2_1") || cards.count("CD2_2")) {
    return {{{number_or(cards, "CD1_1", 0), number_or(cards, "CD1_2", 0)},
             {number_or(cards, "CD2_1", 0), number_or(cards, "CD2_2", 0)}}};
  }
  const double c1 = number(cards, "CDELT1"), c2 = number(cards, "CDELT2");
  if (cards.count("PC1_1") || cards.count("PC1_2") || cards.count("PC2_1") || cards.count("PC2_2")) {
    return {{{c1 * number_or(cards, "PC1_1", 1), c1 * number_or(cards, "PC1_2", 0)},
             {c2 * number_or(cards, "PC2_1", 0), c2 * number_or(cards, "PC2_2", 1)}}};
  }
  const double rho = number_or(cards, "CROTA2", 0) * 3.14159265358979323846 / 180.0;
  return {{{c1 * std::cos(rho), -c2 * std::sin(rho)}, {c1 * std::sin(rho), c2 * std::cos(rho)}}};
}

std::string format_number(double v) {
  std::string s = print("%.15G", v);
  if (s.find_first_of(".EN") == std::string::npos) s += ".0";  // a real, not an integer card
  return s;
}

// One 80-character card.
std::string format_card(const HeaderCard& card) {
  std::string value;
  if (const auto* s = std::get_if<std::string>(&card.value)) {
    std::string quoted = *s;
    for (std::size_t i = 0; (i = quoted.find('\'', i)) != std::string::npos; i += 2) quoted.insert(i, "'");
    value = pad_right("'" + pad_right(quoted, 8) + "'", 20);
  } else if (const auto* d = std::get_if<double>(&card.value)) {
    value = pad_left(format_number(*d), 20);
  } else if (const auto* i = std::get_if<long long>(&card.value)) {
    value = pad_left(std::to_string(*i), 20);
  } else {
    value = pad_left(std::get<bool>(card.value) ? "T" : "F", 20);
  }
  std::string record = pad_right(card.key, 8) + "= " + value;
  if (!card.comment.empty()) record += " / " + card.comment;
  record.resize(80, ' ');
  return record;
}

void add_sip(Header& h, const SipPolynomial& poly, const std::string& name, const char* what) {
  if (poly.empty()) return;
  h.push_back({name + "_ORDER", static_cast<long long>(poly.order), what});
  for (int p = 0; p <= poly.order; ++p) {
    for (int q = 0; p + q <= poly.order; ++q) h.push_back({name + print("_%d_%d", p, q), poly.coefficient[p][q], ""});
  }
}

std::mutex& cfitsio_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

std::map<std::string, std::string> parse_header_cards(const std::string& text) {
  std::vector<std::string> records;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    for (std::size_t i = 0; i < line.size(); i += 80) records.push_back(line.substr(i, 80));
  }
  std::map<std::string, std::string> cards;
  for (const auto& r : records) {
    if (trim(r.substr(0, 8)) == "END" && trim(r).size() == 3) break;
    if (auto card = parse_card(r)) cards[card->first] = card->second;
  }
  return cards;
}

TanSipWcs wcs_from_header(const std::map<std::string, std::string>& cards) {
  const auto ctype = [&](const char* key) {
    const auto it = cards.find(key);
    if (it == cards.end()) throw WcsError(std::string("WCS header: card ") + key + " is missing");
    return it->second;
  };
  const std::string c1 = ctype("CTYPE1"), c2 = ctype("CTYPE2");
  if (c1.rfind("RA---TAN", 0) != 0 || c2.rfind("DEC--TAN", 0) != 0) {
    throw WcsError("WCS header: CTYPE1/CTYPE2 are '" + c1 + "'/'" + c2 + "', not a TAN (gnomonic) projection in RA/Dec");
  }
  if (cards.count("LONPOLE") && number(cards, "LONPOLE") != 180.0) {
    throw WcsError("WCS header: card LONPOLE must be 180 for TAN (got " + cards.at("LONPOLE") + ")");
  }
  TanSipWcs w;
  w.crpix = {number(cards, "CRPIX1"), number(cards, "CRPIX2")};
  w.crval = {number(cards, "CRVAL1"), number(cards, "CRVAL2")};
  w.cd = read_cd(cards);
  const double det = w.cd[0][0] * w.cd[1][1] - w.cd[0][1] * w.cd[1][0];
  if (det == 0) throw WcsError("WCS header: the CD matrix is singular");
  if (c1.size() > 8 && c1.substr(8) == "-SIP") {
    w.a = read_sip(cards, "A");
    w.b = read_sip(cards, "B");
    w.ap = read_sip(cards, "AP");
    w.bp = read_sip(cards, "BP");
  }
  w.image_width = static_cast<int>(number_or(cards, "IMAGEW", number_or(cards, "NAXIS1", 0)));
  w.image_height = static_cast<int>(number_or(cards, "IMAGEH", number_or(cards, "NAXIS2", 0)));
  return w;
}

std::string read_fits_header_text(const std::filesystem::path& path) {
  std::lock_guard lock(cfitsio_mutex());
  int status = 0;
  fitsfile* raw = nullptr;
  fits_open_file(&raw, path.string().c_str(), READONLY, &status);
  const auto closer = [](fitsfile* f) {
    int s = 0;
    if (f) fits_close_file(f, &s);
  };
  std::unique_ptr<fitsfile, decltype(closer)> file(raw, closer);
  char* header = nullptr;
  int keys = 0;
  if (status == 0) fits_hdr2str(file.get(), 0, nullptr, 0, &header, &keys, &status);
  if (status != 0) {
    char text[FLEN_STATUS] = {0};
    fits_get_errstatus(status, text);
    throw FitsError(path.string() + ": cannot read its FITS header: " + text);
  }
  std::string out(header);
  fits_free_memory(header, &status);
  return out;
}

TanSipWcs read_wcs_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw WcsError(path.string() + ": cannot open the WCS header file");
  std::string start(9, '\0');
  in.read(start.data(), 9);
  std::string text;
  if (start == "SIMPLE  =") {
    text = read_fits_header_text(path);
  } else {
    std::ostringstream all;
    in.seekg(0);
    all << in.rdbuf();
    text = all.str();
  }
  try {
    return wcs_from_header(parse_header_cards(text));
  } catch (const WcsError& e) {
    throw WcsError(path.string() + ": " + e.what());
  }
}

Header wcs_cards(const TanSipWcs& w) {
  const bool sip = !(w.a.empty() && w.b.empty());
  Header h{
      {"WCSAXES", 2LL, "two world coordinates"},
      {"CTYPE1", std::string(sip ? "RA---TAN-SIP" : "RA---TAN"), "gnomonic projection" + std::string(sip ? " + SIP" : "")},
      {"CTYPE2", std::string(sip ? "DEC--TAN-SIP" : "DEC--TAN"), "gnomonic projection" + std::string(sip ? " + SIP" : "")},
      {"EQUINOX", 2000.0, "equatorial coordinates of J2000"},
      {"LONPOLE", 180.0, ""},
      {"CUNIT1", std::string("deg"), ""},
      {"CUNIT2", std::string("deg"), ""},
      {"CRVAL1", w.crval[0], "RA of the reference point (deg)"},
      {"CRVAL2", w.crval[1], "Dec of the reference point (deg)"},
      {"CRPIX1", w.crpix[0], "reference pixel x (1-based)"},
      {"CRPIX2", w.crpix[1], "reference pixel y (1-based)"},
      {"CD1_1", w.cd[0][0], "deg per pixel"},
      {"CD1_2", w.cd[0][1], ""},
      {"CD2_1", w.cd[1][0], ""},
      {"CD2_2", w.cd[1][1], ""},
  };
  if (w.image_width > 0) h.push_back({"IMAGEW", static_cast<long long>(w.image_width), "image width (pixels)"});
  if (w.image_height > 0) h.push_back({"IMAGEH", static_cast<long long>(w.image_height), "image height (pixels)"});
  if (sip) {
    add_sip(h, w.a, "A", "SIP order, axis 1");
    add_sip(h, w.b, "B", "SIP order, axis 2");
    add_sip(h, w.ap, "AP", "inverse SIP order, axis 1");
    add_sip(h, w.bp, "BP", "inverse SIP order, axis 2");
  }
  return h;
}

std::string wcs_header_text(const TanSipWcs& wcs) {
  std::string out;
  for (const auto& card : wcs_cards(wcs)) out += (out.empty() ? "" : "\n") + format_card(card);
  return out;
}

}  // namespace tianyu::pipeline::astrometry
