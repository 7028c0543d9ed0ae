// Sources on the sky end to end (issue 16): three simulated nights of one real-sky field (Tycho-2
// stars plus synthetic ones; each night its own pointing offset and rotation) through
// scripts/run-local.sh into one database. Every night is solved by solve-field; the sources'
// RA/Dec agree with the simulator's truth; a star keeps one field source id across the nights,
// and no id is shared by two stars; a constant star's three-night light curve comes back from one
// SQL query and as a FITS table. A 10' field (which the Tycho-2 indexes cannot solve) still
// completes, with pixel-only sources and the reason stored.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "pipeline/astrometry/wcs.h"
#include "pipeline/lightcurve/fits_light_curve.h"
#include "pipeline/sim/night.h"
#include "support/live_services.h"
#include "support/run_local_script.h"
#include "support/sim_truth.h"

namespace tianyu {
namespace {

namespace fs = std::filesystem;

constexpr int kNights = 3;

pipeline::sim::SimConfig sky_night_config() {
  auto config = pipeline::sim::preset("sky");
  config.frames = 30;  // the transit search wants 20 clean points; the suite's time is shared
  return config;
}

std::string target_args(const pipeline::sim::SimConfig& c) {
  return "--consumers 2 --target SKY-FIELD --target-ra " + std::to_string(c.ra_deg) + " --target-dec " +
         std::to_string(c.dec_deg);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * (v.size() - 1))];
}

class SkyNights : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::live_config()) return;
    dir_ = fs::temp_directory_path() / test::unique_name("sky_nights");
    config_ = sky_night_config();
    pipeline::sim::simulate_nights(config_, dir_ / "field", kNights, 2, nullptr);
    db_ = std::make_unique<test::ScratchDatabase>(test::live_config()->db);
    for (int n = 1; n <= kNights; ++n) {
      runs_.push_back(test::run_local_script(night(n), out(n), db_->name(), target_args(config_)));
    }
  }
  static void TearDownTestSuite() {
    db_.reset();
    runs_.clear();
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    TIANYU_REQUIRE_LIVE_SERVICES();
    for (const auto& r : runs_) ASSERT_EQ(r.exit_code, 0) << r.log;
    c_ = std::make_unique<db::Connection>(db_->settings());
  }
  static fs::path night(int n) { return dir_ / "field" / ("night-" + std::to_string(n)); }
  static fs::path out(int n) { return dir_ / ("out-" + std::to_string(n)); }

  // The observation of night n (run-local ingests each night as its own observation).
  std::uint64_t observation(int n) {
    return c_->query_one("SELECT observation_id FROM observation ORDER BY observation_id LIMIT 1 OFFSET ?",
                         {std::int64_t{n - 1}}).u64(0);
  }

  struct Found {
    std::uint64_t source_id = 0;
    double ra = 0, dec = 0;
    std::optional<std::uint64_t> field_source;
  };
  // Truth star id -> the source detected within 1.5 px of its first-frame position.
  std::map<int, Found> detected(int n) {
    std::map<int, Found> found;
    std::map<int, double> distance;
    const auto obs = observation(n);
    for (const auto& row : test::read_csv(night(n) / "truth" / "stars.csv")) {
      if (row.at("in_frame") != "1") continue;
      const double x = std::stod(row.at("x_first")), y = std::stod(row.at("y_first"));
      const auto r = c_->query(
          "SELECT s.source_id, s.ra_deg, s.dec_deg, m.field_source_id, s.x_px, s.y_px FROM source s "
          "LEFT JOIN source_field_match m "
          "ON m.observation_id = s.observation_id AND m.source_id = s.source_id WHERE s.observation_id = ? AND "
          "POW(s.x_px - ?, 2) + POW(s.y_px - ?, 2) < 2.25 ORDER BY POW(s.x_px - ?, 2) + POW(s.y_px - ?, 2) LIMIT 1",
          {obs, x, y, x, y});
      if (r.empty() || r.front().is_null(1)) continue;
      Found f{r.front().u64(0), r.front().f64(1), r.front().f64(2), std::nullopt};
      if (!r.front().is_null(3)) f.field_source = r.front().u64(3);
      found[std::stoi(row.at("star_id"))] = f;
      distance[std::stoi(row.at("star_id"))] = std::hypot(x - r.front().f64(4), y - r.front().f64(5));
    }
    return one_star_per_source(found, distance);
  }

  // Two truth stars closer than the seeing are one detection: the detection is the nearer one's.
  static std::map<int, Found> one_star_per_source(const std::map<int, Found>& found, const std::map<int, double>& distance) {
    std::map<std::uint64_t, int> owner;
    for (const auto& [star, f] : found) {
      const auto it = owner.find(f.source_id);
      if (it == owner.end() || distance.at(star) < distance.at(it->second)) owner[f.source_id] = star;
    }
    std::map<int, Found> kept;
    for (const auto& [source, star] : owner) kept[star] = found.at(star);
    return kept;
  }

  static inline fs::path dir_;
  static inline pipeline::sim::SimConfig config_;
  static inline std::unique_ptr<test::ScratchDatabase> db_;
  static inline std::vector<test::RunLocalResult> runs_;
  std::unique_ptr<db::Connection> c_;
};

TEST_F(SkyNights, EveryNightIsSolvedNearTheTruePointing) {
  for (int n = 1; n <= kNights; ++n) {
    const auto w = c_->query_one("SELECT solved, method, pixel_scale_arcsec, catalogue_stars, rms_arcsec, reason "
                                 "FROM observation_wcs WHERE observation_id = ?",
                                 {observation(n)});
    ASSERT_EQ(w.i64(0), 1) << "night " << n << ": " << w.opt_str(5).value_or("");
    EXPECT_EQ(w.str(1), "solve-field");
    EXPECT_NEAR(w.f64(2), config_.pixel_scale_arcsec, 0.002 * config_.pixel_scale_arcsec) << "night " << n;
    EXPECT_GE(w.i64(3), 10) << "night " << n;
    std::printf("night %d: solved, %lld catalogue stars, rms %.3f\"\n", n, static_cast<long long>(w.i64(3)), w.f64(4));
  }
}

// The exported template carries the solution as FITS WCS cards: any source's pixel position
// through them gives its stored RA/Dec.
TEST_F(SkyNights, TheExportedTemplateCarriesTheWcs) {
  const auto wcs = pipeline::astrometry::read_wcs_file(out(1) / "template.fits");
  const auto s = c_->query_one("SELECT x_px, y_px, ra_deg, dec_deg FROM source WHERE observation_id = ? "
                               "ORDER BY source_id LIMIT 1", {observation(1)});
  const auto sky = wcs.pixel_to_sky(s.f64(0), s.f64(1));
  EXPECT_NEAR(sky.ra_deg, s.f64(2), 1e-7);
  EXPECT_NEAR(sky.dec_deg, s.f64(3), 1e-7);
}

TEST_F(SkyNights, SourcePositionsMatchTheTruthToATenthOfAPixel) {
  const auto truth = test::read_csv(night(1) / "truth" / "stars.csv");
  std::map<int, std::pair<double, double>> sky;
  for (const auto& row : truth) sky[std::stoi(row.at("star_id"))] = {std::stod(row.at("ra_deg")), std::stod(row.at("dec_deg"))};
  std::vector<double> offsets_px;
  for (const auto& [star, f] : detected(1)) {
    const auto [ra, dec] = sky.at(star);
    const double dra = (f.ra - ra) * std::cos(dec * M_PI / 180), ddec = f.dec - dec;
    offsets_px.push_back(std::hypot(dra, ddec) * 3600 / config_.pixel_scale_arcsec);
  }
  ASSERT_GT(offsets_px.size(), 100u);
  const double median = percentile(offsets_px, 0.5), p95 = percentile(offsets_px, 0.95);
  std::printf("%zu matched sources: offset from truth median %.3f px (%.3f\"), 95th percentile %.3f px (%.3f\")\n",
              offsets_px.size(), median, median * config_.pixel_scale_arcsec, p95, p95 * config_.pixel_scale_arcsec);
  EXPECT_LE(median, 0.1);
  EXPECT_LE(p95, 0.3);
}

TEST_F(SkyNights, AStarKeepsOneFieldIdAcrossTheNightsAndNoIdIsShared) {
  std::map<int, std::set<std::uint64_t>> ids_of_star;
  std::map<int, int> nights_of_star;
  std::map<std::uint64_t, std::set<int>> stars_of_id;
  for (int n = 1; n <= kNights; ++n) {
    for (const auto& [star, f] : detected(n)) {
      ASSERT_TRUE(f.field_source) << "night " << n << " source " << f.source_id << " was not matched";
      ids_of_star[star].insert(*f.field_source);
      ++nights_of_star[star];
      stars_of_id[*f.field_source].insert(star);
    }
  }
  int on_every_night = 0, one_id = 0;
  for (const auto& [star, nights] : nights_of_star) {
    if (nights != kNights) continue;
    ++on_every_night;
    one_id += ids_of_star[star].size() == 1;
  }
  std::printf("%d truth stars detected on all %d nights, %d with one id\n", on_every_night, kNights, one_id);
  ASSERT_GT(on_every_night, 100);
  EXPECT_GE(one_id, 0.99 * on_every_night);
  for (const auto& [id, stars] : stars_of_id) EXPECT_EQ(stars.size(), 1u) << "field source " << id << " is shared";
}

TEST_F(SkyNights, AConstantStarsLightCurveAcrossNightsIsOneQueryAndOneFitsTable) {
  const auto truth = test::read_csv(night(1) / "truth" / "stars.csv");
  std::optional<std::uint64_t> id;
  const auto first = detected(1), last = detected(kNights);
  for (const auto& row : truth) {  // the brightest constant star seen on the first and last nights
    const int star = std::stoi(row.at("star_id"));
    if (row.at("variability") != "none" || !first.count(star) || !last.count(star)) continue;
    if (first.at(star).field_source && std::stod(row.at("mag")) > 10) { id = first.at(star).field_source; break; }
  }
  ASSERT_TRUE(id);
  const auto nights = c_->query_one("SELECT COUNT(DISTINCT observation_id), COUNT(*) FROM field_light_curve "
                                    "WHERE field_source_id = ?", {*id});
  const auto expected = c_->query_one(
      "SELECT COUNT(*) FROM relative_flux r JOIN source_field_match m ON m.observation_id = r.observation_id "
      "AND m.source_id = r.source_id WHERE m.field_source_id = ?", {*id});
  EXPECT_EQ(nights.i64(0), kNights);
  EXPECT_EQ(nights.i64(1), expected.i64(0));
  EXPECT_GE(nights.i64(1), kNights * config_.frames * 3 / 4);
  const auto export_dir = dir_ / "export";
  const std::string command = "TIANYU_DB_NAME='" + db_->name() + "' " + test::this_bin_dir() +
                              "/tianyu-publish export --field SKY-FIELD --field-source " + std::to_string(*id) +
                              " --out '" + export_dir.string() + "' > '" + export_dir.string() + ".log' 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << read_text(export_dir.string() + ".log");
  const auto fits = pipeline::lightcurve::read_fits_light_curve(
      export_dir / "lightcurves" / ("field1_source" + std::to_string(*id) + ".fits"));
  EXPECT_EQ(static_cast<std::int64_t>(fits.bjd_tdb.size()), nights.i64(1));
}

// A 10' crop of the same sky: too small for the Tycho-2 indexes. The night completes by pixel.
TEST(SkyUnsolvable, ATenArcminuteFieldCompletesWithPixelOnlySourcesAndTheReason) {
  TIANYU_REQUIRE_LIVE_SERVICES();
  const auto dir = fs::temp_directory_path() / test::unique_name("sky_small");
  auto config = sky_night_config();
  config.width = config.height = 512;
  config.sky.synthetic_per_deg2 = 30000;  // enough stars on 10' to align the frames
  pipeline::sim::simulate_night(config, dir / "night", 2);
  test::ScratchDatabase db(test::live_config()->db);
  const auto run = test::run_local_script(dir / "night", dir / "out", db.name(), target_args(config));
  ASSERT_EQ(run.exit_code, 0) << run.log;
  db::Connection c(db.settings());
  const auto w = c.query_one("SELECT solved, method, reason FROM observation_wcs");
  EXPECT_EQ(w.i64(0), 0);
  EXPECT_EQ(w.str(1), "none");
  EXPECT_FALSE(w.str(2).empty());
  EXPECT_GT(c.query_one("SELECT COUNT(*) FROM source WHERE ra_deg IS NULL").i64(0), 20);
  EXPECT_EQ(c.query_one("SELECT COUNT(*) FROM source WHERE ra_deg IS NOT NULL").i64(0), 0);
  EXPECT_EQ(c.query_one("SELECT COUNT(*) FROM source_field_match").i64(0), 0);
  EXPECT_GT(c.query_one("SELECT COUNT(*) FROM relative_flux").i64(0), 0);
  EXPECT_NE(run.log.find(w.str(2).substr(0, 40)), std::string::npos) << "the reason is not in the status:\n" << run.log;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tianyu
