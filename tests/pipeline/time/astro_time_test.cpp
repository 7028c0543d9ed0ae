// Exposure times from real-world headers and BJD_TDB against astropy (tests/data/time, made by
// make_bjd_vectors.py with python3-astropy's ERFA ephemeris).
#include "pipeline/time/astro_time.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tianyu::pipeline {
namespace {

constexpr double kDay = 86400.0;

TEST(AstroTime, JulianDateOfJ2000) {
  EXPECT_DOUBLE_EQ(julian_date(2000, 1, 1, 12, 0, 0), 2451545.0);
  EXPECT_EQ(iso_from_jd(2451545.0), "2000-01-01T12:00:00.000");
}

TEST(AstroTime, LeapSecondsFollowTheTable) {
  EXPECT_EQ(tai_minus_utc(julian_date(2016, 12, 31, 23, 59, 59)), 36);
  EXPECT_EQ(tai_minus_utc(julian_date(2017, 1, 1, 0, 0, 0)), 37);
  EXPECT_EQ(tai_minus_utc(julian_date(1999, 6, 1, 0, 0, 0)), 32);
  EXPECT_THROW(tai_minus_utc(julian_date(1970, 1, 1, 0, 0, 0)), TimeError);
}

TEST(AstroTime, ZoneOffsetsAreRemoved) {
  // HAT-P-32's headers: UT-OBS in UTC with a "-0000" suffix, DATE-OBS in local time (-0700).
  const double ut = parse_iso_utc("2017-12-20T01:33:43.317-0000", "UT-OBS");
  const double local = parse_iso_utc("2017-12-19T18:33:43.317-0700", "DATE-OBS");
  EXPECT_NEAR((ut - local) * kDay, 0.0, 1e-4);
  EXPECT_NEAR((ut - julian_date(2017, 12, 20, 1, 33, 43.317)) * kDay, 0.0, 1e-4);
  EXPECT_NEAR((parse_iso_utc("2017-12-20T03:03:43.317+01:30", "X") - ut) * kDay, 0.0, 1e-4);
  EXPECT_NEAR((parse_iso_utc("2017-12-20T01:33:43.317Z", "X") - ut) * kDay, 0.0, 1e-4);
}

TEST(AstroTime, MalformedTimesNameTheKeyword) {
  try {
    parse_iso_utc("2017-13-20T01:33:43", "UT-OBS");
    FAIL() << "month 13 accepted";
  } catch (const TimeError& e) {
    EXPECT_NE(std::string(e.what()).find("UT-OBS = '2017-13-20T01:33:43'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_iso_utc("2017-12-20T01:33", "DATE-OBS"), TimeError);
  EXPECT_THROW(parse_iso_utc("2017-12-20T01:33:43 PST", "DATE-OBS"), TimeError);
}

TEST(AstroTime, TheFinestHeaderTimeWins) {
  // All of HAT-P-32's first frame: UT-OBS to the millisecond beats MJD-OBS to 86 s.
  const std::map<std::string, std::string> hatp32{{"DATE-OBS", "2017-12-19T18:33:43.317-0700"},
                                                  {"UT-OBS", "2017-12-20T01:33:43.317-0000"},
                                                  {"MJD-OBS", "58107.065"}};
  const auto s = exposure_start(hatp32);
  EXPECT_EQ(s.source, "UT-OBS");
  EXPECT_NEAR(s.precision_s, 0.001, 1e-12);
  EXPECT_NEAR((s.jd_utc - julian_date(2017, 12, 20, 1, 33, 43.317)) * kDay, 0.0, 1e-4);
  // The MJD agrees to its own precision.
  EXPECT_NEAR((58107.065 + 2400000.5 - s.jd_utc) * kDay, 0.0, 86.4 / 2);

  const auto split = exposure_start({{"DATE-OBS", "2026-01-15"}, {"TIME-OBS", "13:00:05.5"}});
  EXPECT_EQ(split.source, "DATE-OBS+TIME-OBS");
  EXPECT_NEAR((split.jd_utc - julian_date(2026, 1, 15, 13, 0, 5.5)) * kDay, 0.0, 1e-4);

  const auto mjd = exposure_start({{"MJD-OBS", "61055.5421"}, {"FILTER", "r"}});
  EXPECT_EQ(mjd.source, "MJD-OBS");
  EXPECT_DOUBLE_EQ(mjd.jd_utc, 61055.5421 + 2400000.5);
  EXPECT_NEAR(mjd.precision_s, 8.64, 1e-9);
}

TEST(AstroTime, AMissingOrBadTimeSaysWhich) {
  try {
    exposure_start({{"EXPTIME", "10"}});
    FAIL() << "no time accepted";
  } catch (const TimeError& e) {
    EXPECT_NE(std::string(e.what()).find("DATE-OBS"), std::string::npos) << e.what();
  }
  try {
    exposure_start({{"MJD-OBS", "soon"}});
    FAIL() << "a word accepted as MJD";
  } catch (const TimeError& e) {
    EXPECT_NE(std::string(e.what()).find("MJD-OBS = 'soon'"), std::string::npos) << e.what();
  }
}

struct Vector {
  double jd_utc, ra, dec, jd_tdb, bjd_tdb;
};

std::vector<Vector> astropy_vectors() {
  std::ifstream in(std::string(TIANYU_SOURCE_DIR) + "/tests/data/time/bjd_vectors.csv");
  std::vector<Vector> out;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::replace(line.begin(), line.end(), ',', ' ');
    std::istringstream row(line);
    Vector v{};
    row >> v.jd_utc >> v.ra >> v.dec >> v.jd_tdb >> v.bjd_tdb;
    out.push_back(v);
  }
  return out;
}

TEST(AstroTime, BarycentricTimesMatchAstropy) {
  const auto vectors = astropy_vectors();
  ASSERT_GE(vectors.size(), 60u);
  double worst = 0, worst_tdb = 0;
  for (const auto& v : vectors) {
    const double tt = v.jd_utc + (tai_minus_utc(v.jd_utc) + 32.184) / kDay;
    const double tdb = tt + tdb_minus_tt(tt) / kDay;
    worst_tdb = std::max(worst_tdb, std::abs(tdb - v.jd_tdb) * kDay);
    const double ours = bjd_tdb(v.jd_utc, v.ra, v.dec);
    const double error = std::abs(ours - v.bjd_tdb) * kDay;
    worst = std::max(worst, error);
    // The bound is 2 s; the elements give ~0.1 s, so a real regression shows well before.
    EXPECT_LT(error, 0.5) << "JD " << v.jd_utc << " RA " << v.ra << " Dec " << v.dec;
  }
  EXPECT_LT(worst_tdb, 1e-3);  // TDB - TT to 1 ms (two terms of the series)
  RecordProperty("worst_bjd_error_s", std::to_string(worst));
  std::printf("worst |BJD - astropy| = %.3f s, worst |TDB - astropy| = %.2e s over %zu cases\n", worst,
              worst_tdb, vectors.size());
}

}  // namespace
}  // namespace tianyu::pipeline
