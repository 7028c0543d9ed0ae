// The simulator on the real sky: its truth against an independent gnomonic projection, N nights
// of one field, a frame astrometry.net solves, and the default night's bytes unchanged.
#include <fitsio.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/catalogues/tycho2.h"
#include "pipeline/fits_io.h"
#include "pipeline/sim/night.h"
#include "pipeline/sim/sky.h"
#include "support/sim_truth.h"

namespace tianyu::pipeline::sim {
namespace {

namespace fs = std::filesystem;
using test::read_csv;
constexpr double kDeg = 3.14159265358979323846 / 180.0;

fs::path scratch(const std::string& name) {
  const auto dir = fs::temp_directory_path() / ("sky_night_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

bool have_tycho2() { return fs::exists("/usr/share/astrometry/index-tycho2-07.littleendian.fits"); }

// A quick real-sky night: two frames, no calibration, no faults.
SimConfig quick_sky(int size, double scale) {
  SimConfig c = preset("sky");
  c.width = c.height = size;
  c.pixel_scale_arcsec = scale;
  c.frames = 2;
  c.bias_frames = c.flat_frames = 0;
  c.satellite_trails = c.cloud_outs = c.double_images = 0;
  return c;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// The textbook gnomonic projection, written out here apart from the simulator's.
void project(const nlohmann::json& sky, double ra, double dec, double& x, double& y) {
  const double a0 = sky["pointing"]["ra_deg"].get<double>() * kDeg, d0 = sky["pointing"]["dec_deg"].get<double>() * kDeg;
  const double a = ra * kDeg, d = dec * kDeg;
  const double cos_c = std::sin(d0) * std::sin(d) + std::cos(d0) * std::cos(d) * std::cos(a - a0);
  const double xi = std::cos(d) * std::sin(a - a0) / cos_c / kDeg;
  const double eta = (std::cos(d0) * std::sin(d) - std::sin(d0) * std::cos(d) * std::cos(a - a0)) / cos_c / kDeg;
  const auto& cd = sky["cd"];
  const double c11 = cd[0][0], c12 = cd[0][1], c21 = cd[1][0], c22 = cd[1][1];
  const double det = c11 * c22 - c12 * c21;
  x = sky["crpix"][0].get<double>() + (c22 * xi - c12 * eta) / det;
  y = sky["crpix"][1].get<double>() + (-c21 * xi + c11 * eta) / det;
}

TEST(SkyNight, TruthPositionsAreTheTanProjectionOfTheirRaDec) {
  if (!have_tycho2()) GTEST_SKIP() << "astrometry-data-tycho2 is not installed";
  auto c = quick_sky(512, 1.2);  // a 10' field: too small to solve, as the issue's unsolvable case
  c.sky.rotation_deg = 0.7;
  c.sky.pointing_ra_deg = c.ra_deg + 0.02;
  c.sky.pointing_dec_deg = c.dec_deg - 0.03;
  const auto dir = scratch("tan");
  simulate_night(c, dir, 2);
  const auto sky = read_json(dir / "truth" / "sky.json");
  EXPECT_DOUBLE_EQ(sky["rotation_deg"].get<double>(), 0.7);
  EXPECT_NEAR(sky["cd"][0][0].get<double>(), -1.2 / 3600 * std::cos(0.7 * kDeg), 1e-15);
  const auto stars = read_csv(dir / "truth" / "stars.csv");
  ASSERT_GT(stars.size(), 50u);
  int tycho = 0, in_frame = 0;
  double worst = 0;
  for (const auto& s : stars) {
    double x, y;
    project(sky, std::stod(s.at("ra_deg")), std::stod(s.at("dec_deg")), x, y);
    worst = std::max({worst, std::abs(x - std::stod(s.at("x_first"))), std::abs(y - std::stod(s.at("y_first")))});
    tycho += s.at("catalogue_id").rfind("TYC2 J", 0) == 0;
    in_frame += s.at("in_frame") == "1";
  }
  EXPECT_LT(worst, 1e-6);
  EXPECT_GE(tycho, 1);  // HAT-P-32 itself, the transiting star 0
  EXPECT_EQ(stars[0].at("catalogue_id"), "TYC2 J020410.28+464116.2");
  EXPECT_EQ(stars[0].at("variability"), "transit");
  EXPECT_GT(in_frame, 30);
  // The frame says where it points and carries no WCS: the pipeline must solve it.
  const auto h = read_fits_info(dir / "raw" / "sci_0001.fits").header;
  EXPECT_NEAR(std::stod(h.at("RA")), c.sky.pointing_ra_deg, 1e-9);
  EXPECT_NEAR(std::stod(h.at("DEC")), c.sky.pointing_dec_deg, 1e-9);
  EXPECT_EQ(h.at("OBJCTDEC"), "+46 39 28.21");
  for (const char* key : {"CTYPE1", "CRVAL1", "CRPIX1", "CD1_1", "CDELT1"}) EXPECT_EQ(h.count(key), 0u) << key;
  fs::remove_all(dir);
}

TEST(SkyNight, ProjectionRoundTripsAndRejectsTheFarSide) {
  const auto p = night_projection(359.9, 88.0, 1.3, -0.8, 2048, 2048);
  for (const auto& [x, y] : std::vector<std::pair<double, double>>{{0, 0}, {2047, 13.5}, {1024, 1024}, {-300, 2500}}) {
    double ra, dec, x2, y2;
    pixel_to_sky(p, x, y, ra, dec);
    ASSERT_TRUE(sky_to_pixel(p, ra, dec, x2, y2));
    EXPECT_NEAR(x2, x, 1e-7);
    EXPECT_NEAR(y2, y, 1e-7);
  }
  double x, y;
  EXPECT_FALSE(sky_to_pixel(p, 179.9, -80.0, x, y));
}

TEST(SkyNights, ThreeNightsOfOneFieldKeepStarIdsAndMoveThePointingWithinBounds) {
  if (!have_tycho2()) GTEST_SKIP() << "astrometry-data-tycho2 is not installed";
  auto c = quick_sky(1024, 1.5);
  const auto dir = scratch("nights");
  const auto summary = simulate_nights(c, dir, 3, 2);
  EXPECT_EQ(summary.science_frames, 6);
  const auto field = night_projection(c.ra_deg, c.dec_deg, c.pixel_scale_arcsec, 0, c.width, c.height);
  std::map<std::string, std::string> name_of;  // star_id -> catalogue id and position, any night
  std::map<std::string, std::string> catalogue_of;  // star_id -> catalogue id
  std::set<std::string> pointings, starts;
  for (int n = 1; n <= 3; ++n) {
    const auto night = dir / ("night-" + std::to_string(n));
    const auto sky = read_json(night / "truth" / "sky.json");
    double ox, oy;
    ASSERT_TRUE(sky_to_pixel(field, sky["pointing"]["ra_deg"], sky["pointing"]["dec_deg"], ox, oy));
    EXPECT_LE(std::abs(ox - field.crpix_x), 0.25 * c.width + 1e-6) << n;
    EXPECT_LE(std::abs(oy - field.crpix_y), 0.25 * c.height + 1e-6) << n;
    EXPECT_LE(std::abs(sky["rotation_deg"].get<double>()), 1.0) << n;
    pointings.insert(sky["pointing"].dump());
    const auto frames = read_csv(night / "truth" / "frames.csv");
    starts.insert(read_fits_info(night / "raw" / frames[0].at("file")).header.at("DATE-OBS").substr(0, 10));
    std::set<std::string> ids_tonight;
    for (const auto& s : read_csv(night / "truth" / "stars.csv")) {
      const std::string who = s.at("catalogue_id") + " " + s.at("ra_deg") + " " + s.at("dec_deg");
      EXPECT_TRUE(ids_tonight.insert(s.at("catalogue_id")).second) << "night " << n << " repeats " << who;
      auto [it, fresh] = name_of.emplace(s.at("star_id"), who);
      EXPECT_EQ(it->second, who) << "star_id " << s.at("star_id") << " changed on night " << n;
      catalogue_of[s.at("star_id")] = s.at("catalogue_id");
    }
    EXPECT_TRUE(fs::exists(night / "truth" / "flux.csv"));
  }
  EXPECT_EQ(pointings.size(), 3u);
  EXPECT_EQ(starts, (std::set<std::string>{"2026-01-15", "2026-01-16", "2026-01-17"}));
  // The field's stars: ids unique across the field too (one catalogue id per star_id and back).
  std::set<std::string> names;
  for (const auto& [id, name] : catalogue_of) EXPECT_TRUE(names.insert(name).second) << name << " has two star_ids";
  fs::remove_all(dir);
}

double wcs_key(fitsfile* f, const char* key) {
  double v = 0;
  int status = 0;
  fits_read_key(f, TDOUBLE, key, &v, nullptr, &status);
  EXPECT_EQ(status, 0) << key;
  return v;
}

// The sky preset's frame solves with the installed indexes, hinted as the pipeline will hint it,
// and the solution puts the sky where the truth does.
TEST(SkyNight, AFrameOfTheSkyPresetSolvesWithAstrometryNet) {
  if (!have_tycho2() || std::system("command -v solve-field >/dev/null") != 0) GTEST_SKIP() << "no astrometry.net";
  auto c = quick_sky(1536, 1.2);
  c.frames = 1;
  const auto dir = scratch("solve");
  simulate_night(c, dir, 2);
  const std::string command = "solve-field --no-plots --overwrite --ra 31.04 --dec 46.69 --radius 1 "
                              "--scale-units arcsecperpix --scale-low 1.1 --scale-high 1.3 --cpulimit 60 --dir " +
                              (dir / "solve").string() + " " + (dir / "raw" / "sci_0001.fits").string() + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0);
  const auto wcs = dir / "solve" / "sci_0001.wcs";
  ASSERT_TRUE(fs::exists(wcs)) << "did not solve";
  fitsfile* f = nullptr;
  int status = 0;
  fits_open_file(&f, wcs.c_str(), READONLY, &status);
  ASSERT_EQ(status, 0);
  const double ra = wcs_key(f, "CRVAL1"), dec = wcs_key(f, "CRVAL2"), px = wcs_key(f, "CRPIX1"), py = wcs_key(f, "CRPIX2");
  fits_close_file(f, &status);
  const auto truth = night_projection(c.ra_deg, c.dec_deg, c.pixel_scale_arcsec, 0, c.width, c.height);
  double x, y;
  ASSERT_TRUE(sky_to_pixel(truth, ra, dec, x, y));
  EXPECT_NEAR(x, px - 1, 0.5);  // FITS pixels are 1-based
  EXPECT_NEAR(y, py - 1, 0.5);
  fs::remove_all(dir);
}

std::uint64_t fnv1a(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char ch; in.get(ch);) h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3ULL;
  return h;
}

// Checksums of a small default night written before the real sky existed (this toolchain's
// libstdc++ distributions): the option being off must leave every byte as it was.
TEST(DefaultNight, IsByteForByteWhatItWasBeforeTheRealSky) {
  SimConfig c = apply_json(preset("default"), nlohmann::json::parse(
      R"({"width":128,"height":128,"frames":3,"stars":40,"satellite_trails":0,"cloud_outs":0,)"
      R"("double_images":1,"bias_frames":1,"flat_frames":1,"seed":11})"));
  const auto dir = scratch("default");
  simulate_night(c, dir, 1);
  EXPECT_EQ(fnv1a(dir / "raw" / "sci_0002.fits"), 0x55916ca3f06d88fcULL);
  EXPECT_EQ(fnv1a(dir / "truth" / "stars.csv"), 0x78c98c3b13949c7eULL);
  EXPECT_FALSE(fs::exists(dir / "truth" / "sky.json"));
  fs::remove_all(dir);
}

TEST(SkyConfig, NamesTheBadField) {
  try {
    apply_json(preset("default"), nlohmann::json::parse(R"({"sky": {"max_offset_frac": 0.9}})"));
    FAIL() << "no error";
  } catch (const SimConfigError& e) {
    EXPECT_EQ(e.field(), "sky.max_offset_frac");
  }
  try {
    apply_json(preset("default"), nlohmann::json::parse(R"({"sky": {"colour": 1}})"));
    FAIL() << "no error";
  } catch (const SimConfigError& e) {
    EXPECT_EQ(e.field(), "sky.colour");
  }
  EXPECT_THROW(simulate_nights(preset("default"), scratch("never"), 2), SimConfigError);
}

}  // namespace
}  // namespace tianyu::pipeline::sim
