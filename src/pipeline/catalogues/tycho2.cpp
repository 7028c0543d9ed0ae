// Tycho-2 from astrometry.net index files: the star kd-tree's data read with CFITSIO.
#include "pipeline/catalogues/tycho2.h"

#include <fitsio.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>

namespace tianyu::pipeline::catalogues {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;
constexpr double kArcsec = kDeg / 3600.0;

// The file's name in every message. CFITSIO reports a truncated or foreign file and a failing disk
// alike (READ_ERROR) and keeps no errno: an installed package's file that cannot be read is taken
// as broken (reinstall it), not as a resource that may come back.
[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what, int status = 0) {
  std::string text = path.string() + ": " + what;
  if (status != 0) {
    char cfitsio[FLEN_STATUS] = {0};
    fits_get_errstatus(status, cfitsio);
    text += std::string(" (CFITSIO: ") + cfitsio + ")";
  }
  text += "; not an astrometry.net star index as expected (reinstall astrometry-data-tycho2), a retry will not help";
  throw CatalogueError(text, false);
}

class FitsFile {
 public:
  explicit FitsFile(const std::filesystem::path& path) : path_(path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      throw CatalogueError(path.string() + ": no such index file (install the Debian package "
                           "astrometry-data-tycho2, or pass the directory that holds it); a retry "
                           "will not help");
    }
    int status = 0;
    if (fits_open_diskfile(&f_, path.string().c_str(), READONLY, &status)) fail(path, "cannot open as FITS", status);
  }
  ~FitsFile() {
    int status = 0;
    if (f_) fits_close_file(f_, &status);
  }
  FitsFile(const FitsFile&) = delete;
  FitsFile& operator=(const FitsFile&) = delete;
  fitsfile* get() const { return f_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  fitsfile* f_ = nullptr;
  std::filesystem::path path_;
};

// A string card of the current HDU, empty when absent.
std::string card(const FitsFile& f, const char* key) {
  char value[FLEN_VALUE] = {0};
  int status = 0;
  if (fits_read_key(f.get(), TSTRING, key, value, nullptr, &status)) return {};
  std::string v(value);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

long long integer_card(const FitsFile& f, const char* key) {
  long long v = 0;
  int status = 0;
  if (fits_read_key(f.get(), TLONGLONG, key, &v, nullptr, &status)) fail(f.path(), std::string("no card ") + key, status);
  return v;
}

// Where the stars are and how they are stored.
struct StarTree {
  int data_hdu = 0, tag_hdu = 0, mag_column = 0;
  long long stars = 0;
  int bytes = 4;  // per coordinate: 2 (u16), 4 (u32) or 8 (double)
  bool little_endian = true;
  std::array<double, 3> min{}, max{};
  double scale = 1;
};

std::uint64_t unpack(const unsigned char* p, int bytes, bool little) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= std::uint64_t{p[little ? i : bytes - 1 - i]} << (8 * i);
  return v;
}

double unpack_double(const unsigned char* p, bool little) {
  const std::uint64_t bits = unpack(p, 8, little);
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

// The raw bytes of a whole table HDU (the current one): small tables only.
std::vector<unsigned char> table_bytes(const FitsFile& f, long long rows, long long width) {
  std::vector<unsigned char> bytes(static_cast<std::size_t>(rows * width));
  int status = 0;
  if (!bytes.empty() && fits_read_tblbytes(f.get(), 1, 1, bytes.size(), bytes.data(), &status)) {
    fail(f.path(), "cannot read a kd-tree table", status);
  }
  return bytes;
}

void read_tree_header(const FitsFile& f, StarTree& t) {
  const std::string endian = card(f, "ENDIAN");
  if (endian == "04:03:02:01") t.little_endian = true;
  else if (endian == "01:02:03:04") t.little_endian = false;
  else fail(f.path(), "kdtree_header_stars has ENDIAN = '" + endian + "', not 04:03:02:01 or 01:02:03:04");
  if (integer_card(f, "KDT_NDIM") != 3) fail(f.path(), "the star kd-tree is not 3-dimensional (KDT_NDIM)");
  t.stars = integer_card(f, "KDT_NDAT");
  const std::string type = card(f, "KDT_DATA");
  if (type == "u32") t.bytes = 4;
  else if (type == "u16") t.bytes = 2;
  else if (type == "double") t.bytes = 8;
  else fail(f.path(), "KDT_DATA = '" + type + "' is not u32, u16 or double");
}

// kdtree_range_stars: min x, y, z, max x, y, z, scale (integer units per unit of the unit vector).
void read_tree_range(const FitsFile& f, StarTree& t) {
  const auto rows = integer_card(f, "NAXIS2"), width = integer_card(f, "NAXIS1");
  if (rows != 7 || width != 8) fail(f.path(), "kdtree_range_stars is not 7 doubles");
  const auto b = table_bytes(f, rows, width);
  for (int d = 0; d < 3; ++d) {
    t.min[d] = unpack_double(&b[8 * d], t.little_endian);
    t.max[d] = unpack_double(&b[8 * (3 + d)], t.little_endian);
  }
  t.scale = unpack_double(&b[48], t.little_endian);
  if (!(t.scale > 0)) fail(f.path(), "kdtree_range_stars has a scale that is not positive");
}

StarTree locate(const FitsFile& f) {
  StarTree t;
  int hdus = 0, status = 0, type = 0, header_hdu = 0, range_hdu = 0;
  if (fits_get_num_hdus(f.get(), &hdus, &status)) fail(f.path(), "cannot count its HDUs", status);
  for (int h = 2; h <= hdus; ++h) {
    if (fits_movabs_hdu(f.get(), h, &type, &status)) fail(f.path(), "cannot read HDU " + std::to_string(h), status);
    const std::string column = card(f, "TTYPE1");
    if (column == "kdtree_header_stars") header_hdu = h;
    else if (column == "kdtree_range_stars") range_hdu = h;
    else if (column == "kdtree_data_stars") t.data_hdu = h;
    if (card(f, "AN_FILE") == "TAGALONG") {
      t.tag_hdu = h;
      char name[] = "MAG_VT";
      if (fits_get_colnum(f.get(), CASEINSEN, name, &t.mag_column, &status)) {
        fail(f.path(), "its tag-along table has no MAG_VT column", status);
      }
    }
  }
  if (header_hdu == 0 || t.data_hdu == 0) fail(f.path(), "no star kd-tree (kdtree_header_stars, kdtree_data_stars)");
  if (t.tag_hdu == 0) fail(f.path(), "no tag-along table with the stars' magnitudes");
  if (fits_movabs_hdu(f.get(), header_hdu, &type, &status)) fail(f.path(), "cannot reach kdtree_header_stars", status);
  read_tree_header(f, t);
  if (t.bytes != 8) {  // integers need their range; doubles are the unit vectors themselves
    if (range_hdu == 0) fail(f.path(), "integer star kd-tree without kdtree_range_stars");
    if (fits_movabs_hdu(f.get(), range_hdu, &type, &status)) fail(f.path(), "cannot reach kdtree_range_stars", status);
    read_tree_range(f, t);
  }
  return t;
}

struct Hit {
  long long row;
  std::array<double, 3> xyz;
};

// The rows within the cone, read in blocks: the whole data table is a few tens of MB at most.
std::vector<Hit> scan(const FitsFile& f, const StarTree& t, const std::array<double, 3>& centre, double min_dot) {
  int type = 0, status = 0;
  if (fits_movabs_hdu(f.get(), t.data_hdu, &type, &status)) fail(f.path(), "cannot reach kdtree_data_stars", status);
  const long long width = integer_card(f, "NAXIS1");
  if (width != 3 * t.bytes || integer_card(f, "NAXIS2") != t.stars) {
    fail(f.path(), "kdtree_data_stars does not hold KDT_NDAT rows of 3 x KDT_DATA");
  }
  constexpr long long kBlock = 1 << 16;
  std::vector<unsigned char> block(static_cast<std::size_t>(kBlock * width));
  std::vector<Hit> hits;
  for (long long first = 0; first < t.stars; first += kBlock) {
    const long long rows = std::min(kBlock, t.stars - first);
    if (fits_read_tblbytes(f.get(), first + 1, 1, rows * width, block.data(), &status)) {
      fail(f.path(), "cannot read kdtree_data_stars", status);
    }
    for (long long r = 0; r < rows; ++r) {
      std::array<double, 3> v{};
      for (int d = 0; d < 3; ++d) {
        const unsigned char* p = &block[static_cast<std::size_t>(r * width + d * t.bytes)];
        v[d] = t.bytes == 8 ? unpack_double(p, t.little_endian)
                            : t.min[d] + static_cast<double>(unpack(p, t.bytes, t.little_endian)) / t.scale;
      }
      const double norm = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
      if ((v[0] * centre[0] + v[1] * centre[1] + v[2] * centre[2]) >= min_dot * norm) {
        hits.push_back({first + r, v});
      }
    }
  }
  return hits;
}

std::array<double, 3> unit_vector(double ra_deg, double dec_deg) {
  const double a = ra_deg * kDeg, d = dec_deg * kDeg;
  return {std::cos(d) * std::cos(a), std::cos(d) * std::sin(a), std::sin(d)};
}

void check_cone(double ra_deg, double dec_deg, double radius_deg) {
  if (!std::isfinite(ra_deg) || !(dec_deg >= -90 && dec_deg <= 90) || !(radius_deg > 0 && radius_deg <= 180)) {
    throw CatalogueError("Tycho-2 cone (" + std::to_string(ra_deg) + ", " + std::to_string(dec_deg) + ", r " +
                         std::to_string(radius_deg) + "): RA must be finite, Dec within [-90, 90] and the "
                         "radius within (0, 180] degrees; a retry will not help");
  }
}

}  // namespace

CatalogueStars index_stars_around(const std::filesystem::path& index_file, double ra_deg,
                                  double dec_deg, double radius_deg) {
  check_cone(ra_deg, dec_deg, radius_deg);
  FitsFile f(index_file);
  const StarTree t = locate(f);
  const auto hits = scan(f, t, unit_vector(ra_deg, dec_deg), std::cos(radius_deg * kDeg));
  int type = 0, status = 0;
  if (fits_movabs_hdu(f.get(), t.tag_hdu, &type, &status)) fail(index_file, "cannot reach the tag-along table", status);
  if (integer_card(f, "NAXIS2") != t.stars) fail(index_file, "the tag-along table's rows differ from the stars'");
  CatalogueStars stars;
  stars.reserve(hits.size());
  const std::string stem = index_file.stem().string();
  for (const auto& h : hits) {
    float mag = 0;
    if (fits_read_col(f.get(), TFLOAT, t.mag_column, h.row + 1, 1, 1, nullptr, &mag, nullptr, &status)) {
      fail(index_file, "cannot read MAG_VT of row " + std::to_string(h.row), status);
    }
    const auto& v = h.xyz;
    double ra = std::atan2(v[1], v[0]) / kDeg;
    if (ra < 0) ra += 360.0;
    if (ra >= 360.0) ra -= 360.0;
    const double dec = std::atan2(v[2], std::hypot(v[0], v[1])) / kDeg;
    stars.push_back({stem + ":" + std::to_string(h.row), ra, dec, static_cast<double>(mag)});
  }
  return stars;
}

std::vector<std::filesystem::path> tycho2_index_files(const std::string& index_dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(index_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("index-tycho2-", 0) == 0 && it->path().extension() == ".fits") files.push_back(it->path());
  }
  if (files.empty()) {
    throw CatalogueError(index_dir + ": no Tycho-2 index files (index-tycho2-*.fits); install the Debian "
                         "packages astrometry-data-tycho2-*; a retry will not help");
  }
  std::sort(files.begin(), files.end());  // -07 (finest quads, most stars) first
  return files;
}

std::string tycho2_designation(double ra_deg, double dec_deg) {
  constexpr long long kDay = 24LL * 3600 * 100;  // RA in units of 0.01 s of time
  long long t = std::llround(ra_deg / 15.0 * 3600.0 * 100.0) % kDay;
  if (t < 0) t += kDay;
  const long long a = std::llround(std::abs(dec_deg) * 3600.0 * 10.0);  // 0.1"
  char text[48];
  std::snprintf(text, sizeof text, "TYC2 J%02lld%02lld%02lld.%02lld%c%02lld%02lld%02lld.%lld",
                t / 360000, t / 6000 % 60, t / 100 % 60, t % 100, dec_deg < 0 ? '-' : '+',
                a / 36000, a / 600 % 60, a / 10 % 60, a % 10);
  return text;
}

namespace {

struct Copy {
  CatalogueStar star;
  std::array<double, 3> xyz;
  std::size_t order;  // file rank then row: the finest file's copy wins
  bool dropped = false;
};

// Copies of one star in several files lie within 1e-4" (the files' integer quantisation); distinct
// Tycho-2 stars in one file are at least CUTDEDUP = 1" apart.
void drop_copies(std::vector<Copy>& copies) {
  const double chord = 1.0 * kArcsec;
  std::sort(copies.begin(), copies.end(), [](const Copy& a, const Copy& b) { return a.star.dec_deg < b.star.dec_deg; });
  for (std::size_t i = 0; i < copies.size(); ++i) {
    for (std::size_t j = i + 1; j < copies.size() && copies[j].star.dec_deg - copies[i].star.dec_deg < 1.0 / 3600; ++j) {
      double d2 = 0;
      for (int k = 0; k < 3; ++k) d2 += (copies[i].xyz[k] - copies[j].xyz[k]) * (copies[i].xyz[k] - copies[j].xyz[k]);
      if (d2 >= chord * chord) continue;
      (copies[i].order < copies[j].order ? copies[j] : copies[i]).dropped = true;
    }
  }
}

}  // namespace

CatalogueStars tycho2_stars_around(double ra_deg, double dec_deg, double radius_deg,
                                   const std::string& index_dir) {
  check_cone(ra_deg, dec_deg, radius_deg);
  std::vector<Copy> copies;
  std::size_t rank = 0;
  for (const auto& file : tycho2_index_files(index_dir)) {
    for (auto& s : index_stars_around(file, ra_deg, dec_deg, radius_deg)) {
      const auto xyz = unit_vector(s.ra_deg, s.dec_deg);
      const std::size_t row = std::stoull(s.id.substr(s.id.rfind(':') + 1));
      copies.push_back({std::move(s), xyz, (rank << 32) + row});
    }
    ++rank;
  }
  drop_copies(copies);
  CatalogueStars stars;
  for (auto& c : copies) {
    if (c.dropped) continue;
    c.star.id = tycho2_designation(c.star.ra_deg, c.star.dec_deg);
    stars.push_back(std::move(c.star));
  }
  std::sort(stars.begin(), stars.end(), [](const CatalogueStar& a, const CatalogueStar& b) {
    return a.mag != b.mag ? a.mag < b.mag : a.id < b.id;
  });
  // Two stars 1" apart cannot round to one designation at 0.1"; should it ever happen, the
  // fainter gets a suffix rather than a shared id.
  std::map<std::string, int> seen;
  for (auto& s : stars) {
    const int n = ++seen[s.id];
    if (n > 1) s.id.append(1, '-').append(std::to_string(n));
  }
  return stars;
}

}  // namespace tianyu::pipeline::catalogues
