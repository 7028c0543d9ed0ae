// The Tycho-2 reader against astrometry.net's own query-starkd on the same index files, and
// against catalogue values of stars in HAT-P-32's field.
#include "pipeline/catalogues/tycho2.h"

#include <fitsio.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <array>
#include <iostream>
#include <map>
#include <set>

#include <gtest/gtest.h>

namespace tianyu::pipeline::catalogues {
namespace {

namespace fs = std::filesystem;
const std::string kDir = "/usr/share/astrometry";
constexpr double kDeg = 3.14159265358979323846 / 180.0;

double separation_arcsec(double ra1, double dec1, double ra2, double dec2) {
  // Through the chord between unit vectors: exact at the milliarcsecond separations compared here.
  const double dx = std::cos(dec1 * kDeg) * std::cos(ra1 * kDeg) - std::cos(dec2 * kDeg) * std::cos(ra2 * kDeg);
  const double dy = std::cos(dec1 * kDeg) * std::sin(ra1 * kDeg) - std::cos(dec2 * kDeg) * std::sin(ra2 * kDeg);
  const double dz = std::sin(dec1 * kDeg) - std::sin(dec2 * kDeg);
  return 2 * std::asin(std::sqrt(dx * dx + dy * dy + dz * dz) / 2) / kDeg * 3600;
}

fs::path scratch(const std::string& name) {
  const auto dir = fs::temp_directory_path() / ("tycho2_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// query-starkd -o writes a FITS table MAG_VT, RA, DEC (full double precision, unlike its text).
CatalogueStars query_starkd(const fs::path& index, double ra, double dec, double radius, const fs::path& out) {
  const std::string command = "query-starkd -r " + std::to_string(ra) + " -d " + std::to_string(dec) +
                              " -R " + std::to_string(radius) + " -T -o " + out.string() + " " +
                              index.string() + " >/dev/null 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  fitsfile* f = nullptr;
  int status = 0, type = 0, ra_col = 0, dec_col = 0, mag_col = 0;
  long rows = 0;
  fits_open_file(&f, out.c_str(), READONLY, &status);
  fits_movabs_hdu(f, 2, &type, &status);
  fits_get_num_rows(f, &rows, &status);
  char ra_name[] = "RA", dec_name[] = "DEC", mag_name[] = "MAG_VT";
  fits_get_colnum(f, CASEINSEN, ra_name, &ra_col, &status);
  fits_get_colnum(f, CASEINSEN, dec_name, &dec_col, &status);
  fits_get_colnum(f, CASEINSEN, mag_name, &mag_col, &status);
  CatalogueStars stars(rows);
  for (long r = 0; r < rows; ++r) {
    float mag = 0;
    fits_read_col(f, TDOUBLE, ra_col, r + 1, 1, 1, nullptr, &stars[r].ra_deg, nullptr, &status);
    fits_read_col(f, TDOUBLE, dec_col, r + 1, 1, 1, nullptr, &stars[r].dec_deg, nullptr, &status);
    fits_read_col(f, TFLOAT, mag_col, r + 1, 1, 1, nullptr, &mag, nullptr, &status);
    stars[r].mag = mag;
  }
  fits_close_file(f, &status);
  EXPECT_EQ(status, 0) << "reading " << out;
  return stars;
}

class Tycho2 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kDir + "/index-tycho2-10.littleendian.fits")) {
      GTEST_SKIP() << "astrometry-data-tycho2 is not installed (scripts/setup-deps.sh installs it)";
    }
  }
};

// Every star query-starkd finds, we find: same count, RA/Dec within 0.1", the same magnitude.
TEST_F(Tycho2, AgreesWithQueryStarkdOnTheSameCone) {
  const auto dir = scratch("starkd");
  for (const char* scale : {"07", "10", "13"}) {
    const fs::path index = kDir + "/index-tycho2-" + scale + ".littleendian.fits";
    for (const auto& [ra, dec, radius] : std::vector<std::array<double, 3>>{{31.04, 46.69, 0.5}, {359.8, -0.3, 1.0}, {120.0, 89.5, 2.0}}) {
      const auto theirs = query_starkd(index, ra, dec, radius, dir / "q.fits");
      const auto ours = index_stars_around(index, ra, dec, radius);
      ASSERT_EQ(ours.size(), theirs.size()) << scale << " at " << ra << " " << dec;
      ASSERT_GT(ours.size(), 0u);
      for (const auto& t : theirs) {
        double best = 1e9;
        const CatalogueStar* match = nullptr;
        for (const auto& o : ours) {
          const double d = separation_arcsec(t.ra_deg, t.dec_deg, o.ra_deg, o.dec_deg);
          if (d < best) best = d, match = &o;
        }
        EXPECT_LT(best, 0.1) << scale << ": query-starkd's star at " << t.ra_deg << " " << t.dec_deg;
        EXPECT_EQ(match->mag, t.mag) << match->id;
      }
    }
  }
  fs::remove_all(dir);
}

// The brightest Tycho-2 stars within 0.5 deg of HAT-P-32 (RA 31.04, Dec 46.69): VT, RA, Dec as
// query-starkd printed them from index-tycho2-07 (astrometry.net 0.93, Debian's
// astrometry-data-tycho2 2018 files): the catalogue's values, to check the union against.
TEST_F(Tycho2, TheBrightestStarsNearHatP32AreTheCataloguesOwn) {
  const auto stars = tycho2_stars_around(31.04, 46.69, 0.5, kDir);
  ASSERT_GE(stars.size(), 50u);  // index-07 alone holds 50 in this cone
  const struct { double vt, ra, dec; } known[] = {{7.066, 30.583377834, 46.842506399},
                                                  {7.502, 31.543409361, 46.859893813},
                                                  {7.828, 30.766502373, 46.351898210},
                                                  {8.432, 31.250165945, 46.574996963}};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(stars[i].mag, known[i].vt, 0.0005) << i;
    EXPECT_LT(separation_arcsec(stars[i].ra_deg, stars[i].dec_deg, known[i].ra, known[i].dec), 0.01) << i;
  }
  EXPECT_EQ(stars[0].id, "TYC2 J020220.01+465033.0");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < stars.size(); ++i) {
    EXPECT_TRUE(ids.insert(stars[i].id).second) << "shared id " << stars[i].id;
    if (i > 0) {
      EXPECT_LE(stars[i - 1].mag, stars[i].mag);
    }
    EXPECT_LE(separation_arcsec(31.04, 46.69, stars[i].ra_deg, stars[i].dec_deg), 0.5 * 3600 + 1e-6);
  }
}

// The union holds every star of every file once, and a star's id does not depend on the radius.
TEST_F(Tycho2, TheUnionKeepsEachStarOnceWithIdsThatDoNotDependOnTheRadius) {
  const auto small = tycho2_stars_around(31.04, 46.69, 0.3, kDir);
  const auto large = tycho2_stars_around(31.04, 46.69, 1.0, kDir);
  std::map<std::string, CatalogueStar> by_id;
  for (const auto& s : large) by_id[s.id] = s;
  for (const auto& s : small) {
    ASSERT_TRUE(by_id.count(s.id)) << s.id;
    EXPECT_EQ(by_id[s.id].ra_deg, s.ra_deg);
  }
  std::size_t finest = 0;
  for (const auto& file : tycho2_index_files(kDir)) {
    const auto stars = index_stars_around(file, 31.04, 46.69, 1.0);
    finest = std::max(finest, stars.size());
    for (const auto& s : stars) EXPECT_TRUE(by_id.count(tycho2_designation(s.ra_deg, s.dec_deg))) << file << " " << s.id;
  }
  EXPECT_GE(large.size(), finest);
}

TEST(Tycho2Designation, RoundsToTheCataloguesPrecisionAndWrapsRa) {
  EXPECT_EQ(tycho2_designation(31.042825, 46.687836), "TYC2 J020410.28+464116.2");
  EXPECT_EQ(tycho2_designation(359.99999999, -0.00001), "TYC2 J000000.00-000000.0");
  EXPECT_EQ(tycho2_designation(180.0, -89.5), "TYC2 J120000.00-893000.0");
}

TEST_F(Tycho2, ASquareDegreeIsReadInUnderFiveSeconds) {
  const auto start = std::chrono::steady_clock::now();
  const auto stars = tycho2_stars_around(108.0, 46.0, 1.0, kDir);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GT(stars.size(), 100u);
  EXPECT_LT(seconds, 5.0);
  std::cout << stars.size() << " stars within 1 deg in " << seconds << " s\n";
}

TEST(Tycho2Errors, NameTheMissingDirectoryAndTheBadFile) {
  try {
    tycho2_stars_around(10, 10, 1, "/nonexistent/astrometry");
    FAIL() << "no error";
  } catch (const CatalogueError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/astrometry"), std::string::npos) << e.what();
    EXPECT_FALSE(e.retryable());
  }
  const auto dir = scratch("bad");
  std::ofstream(dir / "index-tycho2-07.fits") << "not a FITS file at all";
  try {
    tycho2_stars_around(10, 10, 1, dir.string());
    FAIL() << "no error";
  } catch (const CatalogueError& e) {
    EXPECT_NE(std::string(e.what()).find("index-tycho2-07.fits"), std::string::npos) << e.what();
    EXPECT_FALSE(e.retryable());
  }
  try {
    index_stars_around(dir / "index-tycho2-99.fits", 10, 10, 1);
    FAIL() << "no error";
  } catch (const CatalogueError& e) {
    EXPECT_NE(std::string(e.what()).find("index-tycho2-99.fits: no such index file"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tycho2_stars_around(10, 95, 1, kDir), CatalogueError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tianyu::pipeline::catalogues
