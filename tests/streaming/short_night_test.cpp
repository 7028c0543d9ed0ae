// A short-exposure night end to end (issue 17): the simulator's `tianyu` preset made honest
// (0.3-s frames, 174 a minute, 24 minutes, scaled to 160 x 160) run by scripts/run-local.sh
// against the live MariaDB and RabbitMQ. The publisher sees 0.3-s exposures and co-adds each
// minute (coadd_minute); every later step takes the minutes as the night's frames. Known
// answers: the minute count from the frame times, one product per minute and none per short
// frame, light-curve points 60 s apart at the mean time of each minute's frames (the
// simulator's BJD), and the target's transit depth from the simulator's truth, averaged over
// each minute's frames.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/db.h"
#include "pipeline/sim/night.h"
#include "publisher/observation_dag.h"
#include "pipeline/transit/trapezoid_fit.h"
#include "support/live_services.h"
#include "support/run_local_script.h"
#include "support/sim_truth.h"

namespace tianyu {
namespace {

namespace fs = std::filesystem;
constexpr int kPerMinute = 174, kMinutes = 24;

pipeline::sim::SimConfig short_night() {
  auto c = pipeline::sim::preset("tianyu");
  c.width = c.height = 160;
  c.stars = 160;
  c.frames = kPerMinute * kMinutes;
  c.hot_pixels = 30;
  c.flat_frames = 10;
  // A master bias is subtracted from each of a minute's 174 frames: its own noise adds up
  // coherently (174 x its rms), so short exposures need many more bias frames than a minute.
  c.bias_frames = 200;
  c.transit_depth = 0.02;
  c.transit_duration_d = 0.006;  // 8.6 minutes in the middle of the 24
  c.satellite_trails = c.cloud_outs = c.double_images = 0;
  // The preset's tracking drift (~2 px a minute) is nothing on 8120 px but a third of a 160-px
  // field over the night: the mount holds still here, and the variables that would be most of a
  // small field's bright stars are quiet (this is a test of the short-exposure path).
  c.drift_x_px = c.drift_y_px = 0;
  c.drift_jitter_px = 0.02;
  c.ew_amplitude = c.rr_amplitude = c.flare_amplitude = 0;
  return c;
}

// flux = a (1 - depth x shape) by least squares: the depth.
double fitted_depth(const std::vector<double>& shape, const std::vector<double>& flux) {
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < flux.size(); ++i) {
    n += 1, sx += shape[i], sy += flux[i], sxx += shape[i] * shape[i], sxy += shape[i] * flux[i];
  }
  const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx), a = (sy - slope * sx) / n;
  return -slope / a;
}

class ShortNight : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::live_config()) return;
    dir_ = fs::temp_directory_path() / test::unique_name("short_night");
    pipeline::sim::simulate_night(short_night(), dir_ / "night", 2);
    db_ = std::make_unique<test::ScratchDatabase>(test::live_config()->db);
    run_ = test::run_local_script(dir_ / "night", dir_ / "out", db_->name(),
                                  "--consumers 2 --target SIM-FIELD-1 --target-ra 108 --target-dec 46");
  }
  static void TearDownTestSuite() {
    db_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    TIANYU_REQUIRE_LIVE_SERVICES();
    ASSERT_EQ(run_.exit_code, 0) << run_.log;
    c_ = std::make_unique<db::Connection>(db_->settings());
  }
  // The truth: each minute's frames' mean BJD, and the transit shape averaged over them.
  struct Minute {
    double bjd = 0, shape = 0;
  };
  static std::vector<Minute> true_minutes() {
    const auto signals = nlohmann::json::parse(std::ifstream(dir_ / "night" / "truth" / "signals.json"));
    const auto& t = signals.at("transit");
    std::vector<Minute> out(kMinutes);
    const auto frames = test::read_csv(dir_ / "night" / "truth" / "frames.csv");
    for (std::size_t k = 0; k < frames.size(); ++k) {
      const double bjd = std::stod(frames[k].at("bjd_tdb"));
      auto& m = out.at(k / kPerMinute);
      m.bjd += bjd / kPerMinute;
      m.shape += pipeline::trapezoid_shape(bjd, t.at("t_mid_bjd_tdb").get<double>(), t.at("duration_d").get<double>(),
                                           t.at("ingress_d").get<double>()) / kPerMinute;
    }
    return out;
  }

  static inline fs::path dir_;
  static inline std::unique_ptr<test::ScratchDatabase> db_;
  static inline test::RunLocalResult run_;
  std::unique_ptr<db::Connection> c_;
};

TEST_F(ShortNight, EachMinuteIsCoaddedOnceAndNothingIsWrittenPerShortFrame) {
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM raw_frame WHERE kind = 'science'").i64(0), kPerMinute * kMinutes);
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM process WHERE command = 'coadd_minute' AND state = 'success'").i64(0),
            kMinutes);
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM process WHERE command = 'calibrate'").i64(0), 0);
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM process WHERE state <> 'success'").i64(0), 0);
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM process WHERE command IN ('align', 'photometry')").i64(0),
            2 * kMinutes) << "one alignment and one photometry per minute";
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM image_product WHERE kind = 'minute_stack'").i64(0), kMinutes);
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM image_product WHERE kind = 'calibrated'").i64(0), 0);
  const auto minutes = c_->query("SELECT short_frames FROM minute_time ORDER BY frame_id");
  ASSERT_EQ(minutes.size(), static_cast<std::size_t>(kMinutes));
  for (const auto& m : minutes) EXPECT_EQ(m.i64(0), kPerMinute);
  // The night's diagnostics page is drawn although no frame has an airmass (no AIRMASS card,
  // no site location): that panel says so instead of losing the page.
  EXPECT_TRUE(fs::exists(dir_ / "out" / "diagnostics.png")) << run_.log;
  EXPECT_EQ(run_.log.find("no diagnostics plot"), std::string::npos) << run_.log;
}

// Several consumers share each minute (--minute-parts 3): the night's DAG co-adds each minute in
// three parts of 58 frames on the grid of its first frame, adds them up, and aligns the sum.
TEST_F(ShortNight, WithMinutePartsEachMinuteIsSharedAndAddedUpBeforeItsAlignment) {
  publisher::PipelineOptions o;
  o.observation_id = c_->query_one("SELECT observation_id FROM observation").u64(0);
  o.minute_parts = 3;
  const auto dag = publisher::observation_dag(*c_, o);
  std::map<std::uint64_t, std::vector<std::uint64_t>> parts_of;  // minute (first frame) -> its parts' frames
  int combines = 0;
  for (const auto& p : dag) {
    EXPECT_NE(p.command, "calibrate");
    if (p.command == "coadd_minute") {
      ASSERT_TRUE(p.params.contains("grid_frame_id")) << p.key;
      EXPECT_EQ(p.params.at("frame_ids").size(), static_cast<std::size_t>(kPerMinute / 3)) << p.key;
      auto& frames = parts_of[p.params.at("grid_frame_id").get<std::uint64_t>()];
      for (const auto& f : p.params.at("frame_ids")) frames.push_back(f.get<std::uint64_t>());
    }
    if (p.command == "combine_minute") {
      ++combines;
      EXPECT_EQ(p.depends_on.size(), 3u) << p.key;
      EXPECT_EQ(p.params.at("frame_ids").size(), static_cast<std::size_t>(kPerMinute)) << p.key;
    }
    if (p.command == "align") {
      const auto frame = p.params.at("frame_id").get<std::uint64_t>();
      EXPECT_EQ(std::get<std::string>(p.depends_on.front()), "combine_minute/" + std::to_string(frame));
    }
  }
  EXPECT_EQ(combines, kMinutes);
  ASSERT_EQ(parts_of.size(), static_cast<std::size_t>(kMinutes));
  for (const auto& [first, frames] : parts_of) {
    EXPECT_EQ(frames.size(), static_cast<std::size_t>(kPerMinute));
    EXPECT_EQ(frames.front(), first) << "the first part starts the minute";
    EXPECT_EQ(c_->query_one("SELECT short_frames FROM minute_time WHERE frame_id = ?", {first}).i64(0), kPerMinute)
        << "the same minutes as the night that ran";
  }
}

TEST_F(ShortNight, TheTargetsLightCurveHasAPointAMinuteAndTheTransitAtItsDepth) {
  const auto star = test::read_csv(dir_ / "night" / "truth" / "stars.csv").at(0);  // the transiting target
  ASSERT_EQ(star.at("variability"), "transit");
  const auto target = c_->query_one("SELECT source_id FROM source ORDER BY POW(x_px - ?, 2) + POW(y_px - ?, 2) LIMIT 1",
                                    {std::stod(star.at("x_first")), std::stod(star.at("y_first"))}).u64(0);
  const auto rows = test::read_csv(dir_ / "out" / "lightcurves" / (std::to_string(target) + ".csv"));
  const auto truth = true_minutes();
  std::vector<double> t, f, shape;
  for (const auto& r : rows) {
    if (r.at("flags") != "0" || r.at("rel_flux").empty()) {
      std::printf("target at %s: flags %s\n", r.at("bjd_tdb").c_str(), r.at("flags").c_str());
      continue;
    }
    t.push_back(std::stod(r.at("bjd_tdb")));
    f.push_back(std::stod(r.at("rel_flux")));
    const auto nearest = std::min_element(truth.begin(), truth.end(), [&](const Minute& a, const Minute& b) {
      return std::abs(a.bjd - t.back()) < std::abs(b.bjd - t.back());
    });
    EXPECT_NEAR((nearest->bjd - t.back()) * 86400, 0.0, 5.0) << "s: the minute's mean time (ephemeris +-5 s)";
    shape.push_back(nearest->shape);
  }
  ASSERT_GE(t.size(), static_cast<std::size_t>(kMinutes - 3)) << "a point a minute";
  for (std::size_t i = 1; i < t.size(); ++i) {
    const double seconds = (t[i] - t[i - 1]) * 86400;
    EXPECT_GE(std::lround(seconds / 60), 1);
    EXPECT_NEAR(seconds - 60 * std::lround(seconds / 60), 0.0, 0.05) << "s: points whole minutes apart";
  }
  // The night's relative flux (its references: groups of two on this small field) has the
  // transit at its depth, to the 0.3 % a minute those two references leave (2 sigma: 20 %).
  const double depth = fitted_depth(shape, f);
  std::printf("short night: %zu minute points, transit depth %.4f in the light curve (truth %.4f)\n", f.size(), depth,
              short_night().transit_depth);
  EXPECT_NEAR(depth / short_night().transit_depth, 1.0, 0.20);
}

// The minutes' photometry itself: the target's flux in each minute stack against the summed
// flux of the next ten brightest stars (constant in this night) shows the transit at its depth.
TEST_F(ShortNight, TheMinuteStacksPhotometryHasTheTransitAtItsDepth) {
  const auto star = test::read_csv(dir_ / "night" / "truth" / "stars.csv").at(0);
  const auto target = c_->query_one("SELECT source_id FROM source ORDER BY POW(x_px - ?, 2) + POW(y_px - ?, 2) LIMIT 1",
                                    {std::stod(star.at("x_first")), std::stod(star.at("y_first"))}).u64(0);
  const auto truth = true_minutes();
  std::vector<double> shape, f;
  for (const auto& minute : c_->query("SELECT m.frame_id, m.bjd_tdb_mid FROM minute_time m JOIN frame_quality q ON "
                                      "q.frame_id = m.frame_id WHERE q.good = 1 ORDER BY m.bjd_tdb_mid")) {
    double target_flux = 0, others = 0;
    int counted = 0;
    for (const auto& r : c_->query("SELECT source_id, flux FROM raw_flux WHERE frame_id = ? AND aperture_index = 1 "
                                   "AND flags = 0 AND flux IS NOT NULL ORDER BY source_id",
                                   {minute.u64(0)})) {
      if (r.u64(0) == target) {
        target_flux = r.f64(1);
      } else if (counted < 10) {
        others += r.f64(1);  // source ids are brightest first
        ++counted;
      }
    }
    ASSERT_EQ(counted, 10);
    ASSERT_GT(target_flux, 0);
    f.push_back(target_flux / others);
    const double t = minute.f64(1);
    shape.push_back(std::min_element(truth.begin(), truth.end(), [&](const Minute& a, const Minute& b) {
                      return std::abs(a.bjd - t) < std::abs(b.bjd - t);
                    })->shape);
  }
  const double depth = fitted_depth(shape, f);
  std::printf("short night: transit depth %.4f in the minute stacks' photometry (truth %.4f)\n", depth,
              short_night().transit_depth);
  EXPECT_NEAR(depth / short_night().transit_depth, 1.0, 0.10);
}

}  // namespace
}  // namespace tianyu
