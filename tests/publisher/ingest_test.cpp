// Ingest reads each frame's header once into typed columns, with one policy for missing and
// malformed cards and an observation-level override; --copy never writes outside the site root.
#include "publisher/ingest.h"

#include <cmath>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "common/errors.h"
#include "common/migrations.h"
#include "pipeline/fits_io.h"
#include "pipeline/sim/night.h"
#include "publisher/publisher.h"
#include "support/ingest_test_options.h"
#include "support/live_scratch_db.h"

namespace tianyu::publisher {
namespace {

namespace fs = std::filesystem;
using pipeline::Header;

// Every file under `dir` with its size: what a "nothing written" check compares.
std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    out.insert(e.path().string() + (e.is_regular_file() ? ":" + std::to_string(e.file_size()) : "/"));
  }
  return out;
}

// A small science frame with the cards a camera writes; `change` replaces or adds cards.
void write_frame(const fs::path& path, int minute, const Header& change = {}) {
  Header h = {{"IMAGETYP", std::string("LIGHT"), ""},
              {"DATE-OBS", "2026-01-15T13:" + std::string(minute < 10 ? "0" : "") + std::to_string(minute) + ":00", ""},
              {"EXPTIME", 10.0, ""}, {"GAIN", 1.2, ""}, {"RDNOISE", 3.0, ""}, {"SATURATE", 50000.0, ""},
              {"FILTER", std::string("r"), ""}};
  for (const auto& c : change) {
    auto it = std::find_if(h.begin(), h.end(), [&](const auto& x) { return x.key == c.key; });
    if (it == h.end()) h.push_back(c); else *it = c;
  }
  pipeline::Image image(16, 16, 100.0f);
  pipeline::write_fits(path, image, h, pipeline::PixelType::uint16);
}

class LiveIngest : public test::LiveScratchDb {
 protected:
  void SetUp() override {
    LiveScratchDb::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    base_ = fs::temp_directory_path() / test::unique_name("ingest_test");
    root_ = base_ / "site";
    fs::create_directories(root_);
    ensure_site(*c_, "lab", root_.string());
  }
  void TearDown() override {
    if (!base_.empty()) fs::remove_all(base_);
  }
  IngestOptions options(const fs::path& dir, const std::string& observation = "obs") {
    return test::ingest_options("lab", dir, observation);
  }
  // The frames of the malformed-card night: 3 good, EXPTIME='5abc', GAIN='x', SATURATE=''.
  fs::path malformed_night() {
    const fs::path dir = root_ / "bad";
    fs::create_directories(dir);
    for (int i = 0; i < 3; ++i) write_frame(dir / ("good_" + std::to_string(i) + ".fits"), i);
    write_frame(dir / "exptime.fits", 5, {{"EXPTIME", std::string("5abc"), ""}});
    write_frame(dir / "gain.fits", 6, {{"GAIN", std::string("x"), ""}});
    write_frame(dir / "saturate.fits", 7, {{"SATURATE", std::string(""), ""}});
    return dir;
  }
  const IngestProblem* skipped(const IngestReport& r, const std::string& file) {
    for (const auto& p : r.skipped) {
      if (fs::path(p.path).filename() == file) return &p;
    }
    return nullptr;
  }

  fs::path base_, root_;
};

TEST_F(LiveIngest, TypedColumnsHoldTheSimulatedCamerasCards) {
  pipeline::sim::SimConfig sim = pipeline::sim::preset("default");
  sim.width = sim.height = 64;
  sim.frames = 3;
  sim.bias_frames = sim.flat_frames = 1;
  sim.stars = 20;
  sim.satellite_trails = sim.cloud_outs = sim.double_images = 0;
  sim.gain = 1.7;
  sim.read_noise_e = 4.5;
  sim.ra_deg = 123.25;
  sim.dec_deg = -12.5;
  pipeline::sim::simulate_night(sim, root_ / "night", 1);
  const auto report = ingest(*c_, options(root_ / "night"));
  EXPECT_EQ(report.added.at("science"), 3);
  EXPECT_EQ(report.added.at("bias"), 1);
  EXPECT_TRUE(report.skipped.empty());
  const double saturation = std::floor(sim.bias_adu + (sim.full_well_e - 3 * sim.read_noise_e) / sim.gain);
  const auto rows = c_->query("SELECT kind, exptime_s, gain_e_per_adu, read_noise_e, saturation_adu, filter, "
                              "pointing_ra_deg, pointing_dec_deg FROM raw_frame ORDER BY path");
  ASSERT_EQ(rows.size(), 5u);
  for (const auto& r : rows) {
    const std::string kind = r.str(0);
    EXPECT_DOUBLE_EQ(r.f64(1), kind == "science" ? sim.exptime_s : kind == "flat" ? 1.0 : 0.0) << kind;
    EXPECT_DOUBLE_EQ(r.f64(2), 1.7);
    EXPECT_DOUBLE_EQ(r.f64(3), 4.5);
    EXPECT_DOUBLE_EQ(r.f64(4), saturation);
    EXPECT_EQ(r.str(5), "r");
    if (kind == "science") {
      EXPECT_DOUBLE_EQ(r.f64(6), 123.25);
      EXPECT_DOUBLE_EQ(r.f64(7), -12.5);
    }
  }
  const auto view = c_->query_one("SELECT COUNT(*), SUM(gain_from = 'header'), SUM(gain_e_per_adu = 1.7) "
                                  "FROM frame_calibration WHERE observation_id = ?", {report.observation_id});
  EXPECT_EQ(view.i64(0), 5);
  EXPECT_EQ(view.i64(1), 5);
  EXPECT_EQ(view.i64(2), 5);
}

TEST_F(LiveIngest, MalformedCardsRefuseTheirFrameNamingFileAndCard) {
  const auto report = ingest(*c_, options(malformed_night()));
  EXPECT_EQ(report.added.at("science"), 3);
  ASSERT_EQ(report.skipped.size(), 3u);
  const auto* exptime = skipped(report, "exptime.fits");
  const auto* gain = skipped(report, "gain.fits");
  const auto* saturate = skipped(report, "saturate.fits");
  ASSERT_TRUE(exptime && gain && saturate);
  EXPECT_NE(exptime->error.find("card EXPTIME = '5abc'"), std::string::npos) << exptime->error;
  EXPECT_NE(gain->error.find("card GAIN = 'x'"), std::string::npos) << gain->error;
  EXPECT_NE(saturate->error.find("card SATURATE = ''"), std::string::npos) << saturate->error;
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM raw_frame").i64(0), 3);
}

TEST_F(LiveIngest, TheOverrideBeatsAMalformedCardAndIsWhatStepsSee) {
  auto o = options(malformed_night());
  o.calibration = CalibrationOverride::from_json({{"gain_e_per_adu", 1.3}, {"read_noise_e", 5}});
  const auto report = ingest(*c_, o);
  EXPECT_EQ(report.added.at("science"), 4);  // gain.fits now accepted
  EXPECT_EQ(report.skipped.size(), 2u);
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("gain.fits: ignoring card GAIN"), std::string::npos) << report.warnings[0];
  EXPECT_NE(report.calibration_change.find("gain_e_per_adu"), std::string::npos);
  const auto row = c_->query_one(
      "SELECT c.gain_e_per_adu, c.gain_from, f.gain_e_per_adu IS NULL, c.read_noise_e, c.saturation_adu, "
      "c.saturation_from FROM frame_calibration c JOIN raw_frame f ON f.frame_id = c.frame_id WHERE f.path = 'bad/gain.fits'");
  EXPECT_DOUBLE_EQ(row.f64(0), 1.3);
  EXPECT_EQ(row.str(1), "observation");
  EXPECT_EQ(row.i64(2), 1);  // the malformed card left its column NULL
  EXPECT_DOUBLE_EQ(row.f64(3), 5.0);
  EXPECT_DOUBLE_EQ(row.f64(4), 50000.0);
  EXPECT_EQ(row.str(5), "header");
  // A different override replaces the stored one and says so; the pipeline's function agrees.
  o.calibration = CalibrationOverride::from_json({{"gain_e_per_adu", 1.5}});
  const auto again = ingest(*c_, o);
  EXPECT_EQ(again.already_ingested, 4);
  EXPECT_NE(again.calibration_change.find("{\"gain_e_per_adu\":1.5}"), std::string::npos) << again.calibration_change;
  const auto change = set_calibration_override(*c_, again.observation_id, {{"saturation_adu", 4095}, {"radii", 2}}, true);
  EXPECT_TRUE(change.changed());
  EXPECT_EQ(change.after.to_json(), nlohmann::json({{"saturation_adu", 4095.0}}));
  EXPECT_DOUBLE_EQ(c_->query_one("SELECT saturation_adu FROM frame_calibration WHERE frame_id = "
                                 "(SELECT MIN(frame_id) FROM raw_frame)").f64(0), 4095.0);
}

TEST_F(LiveIngest, AnOverrideWithAnUnknownOrMistypedFieldIsRefusedNamingIt) {
  auto refused = [](const nlohmann::json& j, const std::string& needle) {
    try {
      CalibrationOverride::from_json(j);
      ADD_FAILURE() << j.dump() << " accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  refused({{"gain", 1.3}}, "--calibration.gain: unknown field");
  refused({{"gain_e_per_adu", "1.3"}}, "--calibration.gain_e_per_adu: expected a number");
  refused({{"saturation_adu", 0}}, "--calibration.saturation_adu: 0 is out of range");
  refused({{"filter", 3}}, "--calibration.filter: expected a string");
}

TEST_F(LiveIngest, CopyRefusesObservationNamesThatLeaveTheRoot) {
  const fs::path outside = base_ / "incoming";
  fs::create_directories(outside);
  for (int i = 0; i < 2; ++i) write_frame(outside / ("f" + std::to_string(i) + ".fits"), i);
  const auto before = listing(base_);
  for (const std::string name : {"../x", "/abs", "..", ".hidden", "a/b"}) {
    auto o = options(outside, name);
    o.copy = true;
    try {
      ingest(*c_, o);
      ADD_FAILURE() << "observation '" << name << "' accepted with --copy";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("'" + name + "'"), std::string::npos) << e.what();
    }
    EXPECT_EQ(listing(base_), before) << name;
    EXPECT_FALSE(fs::exists("/abs/f0.fits"));
  }
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM raw_frame").i64(0), 0);
  // A plain name copies into raw/<observation>/, stored relative to the root.
  auto o = options(outside, "night-1");
  o.copy = true;
  const auto report = ingest(*c_, o);
  EXPECT_EQ(report.added.at("science"), 2);
  EXPECT_TRUE(fs::exists(root_ / "raw" / "night-1" / "f0.fits"));
  EXPECT_EQ(c_->query_one("SELECT MIN(path) FROM raw_frame").str(0), "raw/night-1/f0.fits");
}

}  // namespace
}  // namespace tianyu::publisher
