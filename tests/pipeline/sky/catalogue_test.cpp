#include "pipeline/sky/catalogue_extract.h"
#include "pipeline/sky/catalogue_neighbours.h"

#include <fitsio.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include "pipeline/fits_io.h"

namespace sky = tianyu::pipeline::sky;
namespace fs = std::filesystem;
using tianyu::pipeline::catalogues::CatalogueStar;
using tianyu::pipeline::catalogues::CatalogueStars;

namespace {

fs::path scratch(const std::string& name) {
  const auto dir = fs::temp_directory_path() / ("tianyu_sky_catalogue_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

fs::path write_text(const std::string& name, const std::string& text) {
  const auto path = scratch(name);
  std::ofstream(path) << text;
  return path;
}

// The message of the refusal `read` throws, or "" when it does not.
template <typename Read>
std::string refusal(Read&& read) {
  try {
    read();
  } catch (const tianyu::pipeline::FileError& e) {
    EXPECT_FALSE(e.retryable()) << e.what();
    return e.what();
  }
  return "";
}

}  // namespace

TEST(NearestCatalogueStars, AgreeWithBruteForceAcrossRaZero) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(-0.3, 0.3);
  CatalogueStars stars;
  for (int i = 0; i < 2000; ++i) stars.push_back({"s" + std::to_string(i), std::fmod(360 + u(rng), 360), 45 + u(rng), 10});
  std::vector<sky::RaDec> positions;
  for (int i = 0; i < 300; ++i) positions.push_back({std::fmod(360 + u(rng), 360), 45 + u(rng)});
  const auto got = sky::nearest_catalogue_stars(positions, stars);
  ASSERT_EQ(got.size(), positions.size());
  for (std::size_t p = 0; p < positions.size(); ++p) {
    std::vector<std::pair<double, std::size_t>> all;
    for (std::size_t s = 0; s < stars.size(); ++s) {
      all.push_back({sky::separation_arcsec(positions[p].ra_deg, positions[p].dec_deg, stars[s].ra_deg, stars[s].dec_deg), s});
    }
    std::partial_sort(all.begin(), all.begin() + 3, all.end());
    ASSERT_EQ(got[p].size(), 3u);
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(got[p][k].star, all[k].second);
      EXPECT_NEAR(got[p][k].distance_arcsec, all[k].first, 1e-9);
    }
  }
  // A cut-off drops the farther ones; field sources work the same way.
  const auto near = sky::nearest_catalogue_stars(std::vector<sky::FieldSource>{{1, stars[0].ra_deg, stars[0].dec_deg, 1}}, stars, 3, 1e-6);
  ASSERT_EQ(near[0].size(), 1u);
  EXPECT_EQ(near[0][0].star, 0u);
}

TEST(CatalogueExtract, ReadsAGaiaCsv) {
  const auto path = write_text("gaia.csv",
                               "# Gaia DR3 around HAT-P-32\n"
                               "SOURCE_ID,designation,ra,dec,phot_g_mean_mag\n"
                               "4295806720,\"Gaia DR3 4295806720\",31.042825,46.687836,11.19\n"
                               "\n"
                               "34361129088,\"Gaia DR3, odd\",359.999,-0.5,17.5\n");
  const auto stars = sky::read_catalogue_extract(path);
  ASSERT_EQ(stars.size(), 2u);
  EXPECT_EQ(stars[0].id, "4295806720");
  EXPECT_DOUBLE_EQ(stars[0].ra_deg, 31.042825);
  EXPECT_DOUBLE_EQ(stars[0].dec_deg, 46.687836);
  EXPECT_DOUBLE_EQ(stars[0].mag, 11.19);
  EXPECT_DOUBLE_EQ(stars[1].ra_deg, 359.999);
  sky::CatalogueExtractOptions by_name;
  by_name.id_column = "designation";
  EXPECT_EQ(sky::read_catalogue_extract(path, by_name)[1].id, "Gaia DR3, odd");
}

TEST(CatalogueExtract, CsvWithoutIdsNumbersTheRows) {
  const auto path = write_text("extract.csv", "RA_deg,Dec_deg,Vmag\n10,20,9.5\n11,21,9.6\n");
  const auto stars = sky::read_catalogue_extract(path);
  ASSERT_EQ(stars.size(), 2u);
  EXPECT_EQ(stars[1].id, "extract:2");
  EXPECT_DOUBLE_EQ(stars[1].mag, 9.6);
}

TEST(CatalogueExtract, BadCsvNamesTheFileLineAndColumn) {
  const auto nan = write_text("nan.csv", "ra,dec,mag\n10,20,9\n10,nan,9\n");
  EXPECT_NE(refusal([&] { sky::read_catalogue_extract(nan); }).find(nan.string() + ":3: column 'dec'"), std::string::npos);
  const auto empty = write_text("empty_cell.csv", "ra,dec,mag\n10,20,\n");
  EXPECT_NE(refusal([&] { sky::read_catalogue_extract(empty); }).find(":2: column 'mag' is empty"), std::string::npos);
  const auto text = write_text("text.csv", "ra,dec,mag\n10x,20,9\n");
  EXPECT_NE(refusal([&] { sky::read_catalogue_extract(text); }).find(":2: column 'ra' value '10x' is not a number"), std::string::npos);
  const auto no_mag = write_text("no_mag.csv", "ra,dec,flux\n10,20,9\n");
  EXPECT_NE(refusal([&] { sky::read_catalogue_extract(no_mag); }).find("no_mag.csv:1: no magnitude column"), std::string::npos);
  const auto range = write_text("range.csv", "ra,dec,mag\n10,95,9\n");
  EXPECT_NE(refusal([&] { sky::read_catalogue_extract(range); }).find(":2: Dec 95"), std::string::npos);
  const auto short_row = write_text("short.csv", "ra,dec,mag\n10,20\n");
  EXPECT_NE(refusal([&] { sky::read_catalogue_extract(short_row); }).find(":2: 2 cells, the header has 3"), std::string::npos);
  EXPECT_NE(refusal([&] { sky::read_catalogue_extract(scratch("missing.csv")); }).find("missing.csv: cannot open"), std::string::npos);
}

namespace {

// A Gaia-like FITS extract written with CFITSIO directly: SOURCE_ID (K), RA, DEC (D), PHOT_G_MEAN_MAG (E).
fs::path write_fits_extract(const std::string& name, std::vector<double> mag) {
  const auto path = scratch(name);
  fs::remove(path);
  fitsfile* f = nullptr;
  int status = 0;
  fits_create_file(&f, path.string().c_str(), &status);
  const char* names[] = {"SOURCE_ID", "RA", "DEC", "PHOT_G_MEAN_MAG"};
  const char* forms[] = {"K", "D", "D", "E"};
  fits_create_tbl(f, BINARY_TBL, 0, 4, const_cast<char**>(names), const_cast<char**>(forms), nullptr, "GAIA", &status);
  LONGLONG ids[] = {4295806720LL, 9007199254740993LL};  // the second is beyond a double's integers
  double ra[] = {31.042825, 31.1}, dec[] = {46.687836, 46.7};
  std::vector<float> g(mag.begin(), mag.end());
  fits_write_col(f, TLONGLONG, 1, 1, 1, 2, ids, &status);
  fits_write_col(f, TDOUBLE, 2, 1, 1, 2, ra, &status);
  fits_write_col(f, TDOUBLE, 3, 1, 1, 2, dec, &status);
  fits_write_col(f, TFLOAT, 4, 1, 1, 2, g.data(), &status);
  fits_close_file(f, &status);
  EXPECT_EQ(status, 0);
  return path;
}

}  // namespace

TEST(CatalogueExtract, ReadsAGaiaFitsTable) {
  const auto stars = sky::read_catalogue_extract(write_fits_extract("gaia.fits", {11.19, 15.5}));
  ASSERT_EQ(stars.size(), 2u);
  EXPECT_EQ(stars[0].id, "4295806720");
  EXPECT_EQ(stars[1].id, "9007199254740993");
  EXPECT_DOUBLE_EQ(stars[0].ra_deg, 31.042825);
  EXPECT_DOUBLE_EQ(stars[1].dec_deg, 46.7);
  EXPECT_NEAR(stars[0].mag, 11.19, 1e-5);
}

TEST(CatalogueExtract, BadFitsNamesTheFileRowAndColumn) {
  const auto path = write_fits_extract("gaia_nan.fits", {11.19, std::nan("")});
  const auto message = refusal([&] { sky::read_catalogue_extract(path); });
  EXPECT_NE(message.find(path.string() + ": row 2: the magnitude is not finite"), std::string::npos) << message;
  EXPECT_NE(message.find("PHOT_G_MEAN_MAG"), std::string::npos) << message;
  sky::CatalogueExtractOptions other;
  other.mag_column = "bp_rp";
  EXPECT_NE(refusal([&] { sky::read_catalogue_extract(path, other); }).find("no column 'bp_rp'"), std::string::npos);
  const auto not_fits = write_text("not.fits", "ra,dec,mag\n");
  EXPECT_NE(refusal([&] { sky::read_catalogue_extract(not_fits); }).find("not.fits: opening"), std::string::npos);
}
