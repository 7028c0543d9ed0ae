// The alert documents and the AAVSO report with known answers: the VOEvent 2.0 XML parses
// (xmllint) and carries the ivorn, role, ids, position, times, depth and SNR it was given; the
// JSON twin holds the same values; the AAVSO report has the header EXOTIC users submit and one
// data line per point.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "common/alerts.h"
#include "publisher/aavso_report.h"

namespace tianyu {
namespace {

alerts::Alert periodic() {
  alerts::Alert a;
  a.kind = "periodic";
  a.role = "test";
  a.ivorn = "ivo://tianyu.survey/pipeline#periodic-f1-s42-n1-p20700";
  a.field_id = 1;
  a.field_source_id = 42;
  a.ra_deg = 31.0428250;
  a.dec_deg = 46.6878;
  a.position_err_arcsec = 0.36;
  a.event_bjd_tdb = 2461056.100123;
  a.event_utc = "2026-01-15T14:18:00.000Z";
  a.period_d = 2.07;
  a.duration_d = 0.1;
  a.depth = 0.008;
  a.depth_err = 0.0004;
  a.snr = 21.5;
  a.summary = "depth < 1 % & no flags";  // needs escaping
  return a;
}

std::string xmllint(const std::string& xml, const std::string& xpath) {
  const auto path = std::filesystem::temp_directory_path() / ("alert_" + std::to_string(::getpid()) + ".xml");
  std::ofstream(path) << xml;
  const std::string command = "xmllint --noout '" + path.string() + "' 2>&1 && xmllint --xpath '" + xpath + "' '" +
                              path.string() + "' 2>&1";
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, p)) out += buffer;
    EXPECT_EQ(::pclose(p), 0) << out;
  }
  std::filesystem::remove(path);
  while (!out.empty() && out.back() == '\n') out.pop_back();  // xmllint ends its answer with one
  return out;
}

TEST(AlertFormat, TheVoEventParsesAndCarriesTheAlertsValues) {
  const auto xml = alerts::voevent_xml(periodic(), "2026-02-01T00:00:00");
  EXPECT_EQ(xmllint(xml, "string(/*/@role)"), "test");
  EXPECT_EQ(xmllint(xml, "string(/*/@ivorn)"), "ivo://tianyu.survey/pipeline#periodic-f1-s42-n1-p20700");
  EXPECT_EQ(xmllint(xml, "string(/*/@version)"), "2.0");
  EXPECT_EQ(xmllint(xml, "string(//What/Param[@name=\"field_source_id\"]/@value)"), "42");
  EXPECT_EQ(xmllint(xml, "string(//What/Param[@name=\"event_bjd_tdb\"]/@value)"), "2461056.100123");
  EXPECT_EQ(xmllint(xml, "string(//What/Param[@name=\"depth\"]/@value)"), "0.008");
  EXPECT_EQ(xmllint(xml, "string(//What/Param[@name=\"depth_err\"]/@value)"), "0.0004");
  EXPECT_EQ(xmllint(xml, "string(//What/Param[@name=\"snr\"]/@value)"), "21.5");
  EXPECT_EQ(xmllint(xml, "string(//What/Param[@name=\"period\"]/@value)"), "2.07");
  EXPECT_EQ(xmllint(xml, "string(//WhereWhen//ISOTime)"), "2026-01-15T14:18:00.000Z");
  EXPECT_EQ(xmllint(xml, "string(//WhereWhen//Position2D/Value2/C1)"), "31.0428250");
  EXPECT_EQ(xmllint(xml, "string(//WhereWhen//Position2D/Value2/C2)"), "46.6878000");
  EXPECT_EQ(xmllint(xml, "string(//WhereWhen//Position2D/Error2Radius)"), "0.0001000");  // 0.36" in degrees
  EXPECT_EQ(xmllint(xml, "string(//Who/AuthorIVORN)"), "ivo://tianyu.survey/pipeline");
  EXPECT_EQ(xmllint(xml, "string(//Why/Description)"), "depth < 1 % & no flags");
  EXPECT_NE(xmllint(xml, "string(//How/Description)"), "");
}

TEST(AlertFormat, TheJsonTwinHoldsTheSameValues) {
  const auto j = alerts::alert_json(periodic(), "2026-02-01T00:00:00");
  EXPECT_EQ(j.at("ivorn"), "ivo://tianyu.survey/pipeline#periodic-f1-s42-n1-p20700");
  EXPECT_EQ(j.at("role"), "test");
  EXPECT_EQ(j.at("field_source_id"), 42);
  EXPECT_DOUBLE_EQ(j.at("event_bjd_tdb").get<double>(), 2461056.100123);
  EXPECT_DOUBLE_EQ(j.at("depth").get<double>(), 0.008);
  EXPECT_DOUBLE_EQ(j.at("snr").get<double>(), 21.5);
  EXPECT_FALSE(j.contains("ln_bayes_factor"));  // not given: absent, not 0
  EXPECT_FALSE(j.contains("observation_id"));
}

TEST(AlertFormat, AnUnsolvedNightsSingleTransitHasNoPosition) {
  alerts::Alert a;
  a.kind = "single_transit";
  a.role = "test";
  a.ivorn = "ivo://tianyu.survey/pipeline#single-o3-s45";
  a.observation_id = 3;
  a.source_id = 45;
  a.event_utc = "2026-01-15T14:18:00.000Z";
  a.ln_bayes_factor = 52.8;
  const auto xml = alerts::voevent_xml(a, "2026-02-01T00:00:00");
  EXPECT_EQ(xmllint(xml, "count(//Position2D)"), "0");
  EXPECT_EQ(xmllint(xml, "string(//What/Param[@name=\"ln_bayes_factor\"]/@value)"), "52.8");
}

TEST(AavsoReport, TheHeaderAndOneLinePerPoint) {
  publisher::AavsoReport r;
  r.obscode = "TYU";
  r.star_name = "HAT-P-32";
  r.exposure_s = 10;
  r.filter = "r";
  r.detrend_names = {"AIRMASS", "FWHM_PX"};
  r.points = {{2461056.1, 1.0012, 0.0021, {1.21, 3.1}}, {2461056.2, 0.9905, 0.0022, {1.25, 3.3}}};
  const std::string expected =
      "#TYPE=EXOPLANET\n#OBSCODE=TYU\n#SOFTWARE=Tianyu pipeline\n#DELIM=,\n#DATE_TYPE=BJD_TDB\n#OBSTYPE=CCD\n"
      "#STAR_NAME=HAT-P-32\n#EXPOSURE_TIME=10\n#FILTER=r\n#DETREND_PARAMETERS=AIRMASS,FWHM_PX\n"
      "#DATE,DIFF,ERR,DETREND_1,DETREND_2\n"
      "2461056.1000000,1.0012000,0.0021000,1.21,3.1\n"
      "2461056.2000000,0.9905000,0.0022000,1.25,3.3\n";
  EXPECT_EQ(publisher::format_aavso(r), expected);
}

}  // namespace
}  // namespace tianyu
