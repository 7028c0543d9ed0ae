#include "pipeline/lightcurve/fits_light_curve.h"

#include <fitsio.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>

#include "pipeline/fits_io.h"
#include "pipeline/transit/lightcurve_io.h"

namespace lc = tianyu::pipeline::lightcurve;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
  const auto dir = fs::temp_directory_path() / ("tianyu_lightcurve_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

lc::FitsLightCurve example(int points) {
  lc::FitsLightCurve out;
  out.target = {"field 3 source 17", 359.99, -89.5, "Tianyu", "tests", 3, 17};
  for (int i = 0; i < points; ++i) {
    out.bjd_tdb.push_back(2460123.25 + i * 0.00123456789);
    out.flux.push_back(i == 2 ? std::nan("") : 1.0 + 1e-4 * i);
    out.flux_err.push_back(0.001);
    out.quality.push_back(i == 2 ? 1 : 0);
    out.observation_id.push_back(7);
    out.frame_id.push_back(100 + i);
  }
  return out;
}

// A card of HDU `hdu` (1 = primary) as CFITSIO reads it, unquoted.
std::string card(const fs::path& path, int hdu, const char* key) {
  fitsfile* f = nullptr;
  int status = 0, type = 0;
  char value[FLEN_VALUE] = {0};
  fits_open_file(&f, path.string().c_str(), READONLY, &status);
  fits_movabs_hdu(f, hdu, &type, &status);
  fits_read_key(f, TSTRING, key, value, nullptr, &status);
  fits_close_file(f, &status);
  return status == 0 ? value : "<missing>";
}

}  // namespace

TEST(FitsLightCurve, RoundTripsEveryColumnAndTheTarget) {
  const auto path = scratch("round_trip.fits");
  const auto written = example(20);
  lc::write_fits_light_curve(path, written);
  const auto back = lc::read_fits_light_curve(path);
  ASSERT_EQ(back.bjd_tdb.size(), 20u);
  for (std::size_t i = 0; i < 20; ++i) {
    EXPECT_NEAR(back.bjd_tdb[i], written.bjd_tdb[i], 1e-9);  // BTJD in a double: ~1e-13 d
    if (i == 2) EXPECT_TRUE(std::isnan(back.flux[i]));
    else EXPECT_EQ(back.flux[i], written.flux[i]);
    EXPECT_EQ(back.flux_err[i], written.flux_err[i]);
    EXPECT_EQ(back.quality[i], written.quality[i]);
    EXPECT_EQ(back.frame_id[i], 100 + static_cast<long>(i));
    EXPECT_EQ(back.observation_id[i], 7);
  }
  EXPECT_EQ(back.target.object, "field 3 source 17");
  EXPECT_DOUBLE_EQ(back.target.ra_deg, 359.99);
  EXPECT_DOUBLE_EQ(back.target.dec_deg, -89.5);
  EXPECT_EQ(back.target.field_id, 3);
  EXPECT_EQ(back.target.field_source_id, 17);
}

TEST(FitsLightCurve, CarriesTheTessTimeKeywordsAndUnits) {
  const auto path = scratch("keywords.fits");
  lc::write_fits_light_curve(path, example(5));
  EXPECT_EQ(card(path, 2, "EXTNAME"), "LIGHTCURVE");
  EXPECT_EQ(card(path, 2, "BJDREFI"), "2457000");
  EXPECT_EQ(card(path, 2, "TIMESYS"), "TDB");
  EXPECT_EQ(card(path, 2, "TIMEUNIT"), "d");
  EXPECT_EQ(card(path, 2, "TTYPE1"), "TIME");
  EXPECT_EQ(card(path, 2, "TUNIT1"), "d");
  EXPECT_EQ(card(path, 2, "TFORM4"), "J");
  EXPECT_EQ(card(path, 2, "TUNIT2"), "<missing>");  // relative flux: dimensionless
  EXPECT_NEAR(std::stod(card(path, 2, "TSTART")), 3123.25, 1e-9);
  EXPECT_EQ(card(path, 1, "OBJECT"), "field 3 source 17");
  EXPECT_NEAR(std::stod(card(path, 1, "RA_OBJ")), 359.99, 1e-12);
  EXPECT_EQ(card(path, 1, "RADESYS"), "ICRS");
}

TEST(FitsLightCurve, RefusesInconsistentColumnsLeavingNoFile) {
  const auto path = scratch("refused.fits");
  fs::remove(path);
  auto bad = example(5);
  bad.flux.pop_back();
  EXPECT_THROW(lc::write_fits_light_curve(path, bad), tianyu::pipeline::FitsError);
  bad = example(5);
  bad.bjd_tdb[1] = std::nan("");
  try {
    lc::write_fits_light_curve(path, bad);
    FAIL() << "a NaN time was written";
  } catch (const tianyu::pipeline::FitsError& e) {
    EXPECT_NE(std::string(e.what()).find("point 2 has no finite time"), std::string::npos) << e.what();
    EXPECT_FALSE(e.retryable());
  }
  EXPECT_FALSE(fs::exists(path));
  for (const auto& entry : fs::directory_iterator(path.parent_path())) {
    EXPECT_EQ(entry.path().filename().string().find(".refused.fits.tmp"), std::string::npos) << entry.path();
  }
}

TEST(FitsLightCurve, ReadingSomethingElseNamesTheFile) {
  const auto image = scratch("image.fits");
  tianyu::pipeline::Image pixels;
  pixels.width = pixels.height = 4;
  pixels.pixels.assign(16, 1.0f);
  tianyu::pipeline::write_fits(image, pixels, {});
  try {
    lc::read_fits_light_curve(image);
    FAIL() << "an image was read as a light curve";
  } catch (const tianyu::pipeline::FitsError& e) {
    EXPECT_NE(std::string(e.what()).find(image.string() + ": no binary table named LIGHTCURVE"), std::string::npos) << e.what();
  }
}

TEST(FitsLightCurve, TheTransitReaderKnowsItByItsFirstBytesAndKeepsBjd) {
  const auto path = scratch("no_extension_lc");
  lc::write_fits_light_curve(path, example(20));
  EXPECT_TRUE(lc::starts_like_fits(path));
  EXPECT_TRUE(tianyu::pipeline::is_fits_light_curve(path));
  const auto points = tianyu::pipeline::read_fits_light_curve_points(path);
  ASSERT_EQ(points.time.size(), 19u);  // the flagged NaN point left out
  EXPECT_NEAR(points.time[0], 2460123.25, 1e-9);
  EXPECT_DOUBLE_EQ(points.flux[1], 1.0001);
  const auto normalised = tianyu::pipeline::read_light_curve(path);
  EXPECT_NEAR(normalised.time[0], 2460123.25, 1e-9);
  ASSERT_EQ(normalised.flux.size(), 19u);
  EXPECT_NEAR(normalised.flux[0], 1.0 / 1.001, 1e-12);  // median of 1, 1.0001, 1.0003 ... 1.0019
}
