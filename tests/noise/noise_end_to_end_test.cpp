// Real nights at their noise floor (issue 19), end to end: scripts/run-local.sh against the live
// MariaDB and RabbitMQ on the real HAT-P-32 night (../shared/data/hatp32: no GAIN card, no
// calibration frames; skipped when absent) and on a simulated night (GAIN in its headers).
// Known answers: HAT-P-32 b's published mid-time 2458107.714 BJD_TDB for these frames and its
// depth; the simulator's own gain; errors honest when constant stars' reduced chi2 is ~1 and
// the target's residual scatter matches its stated errors; a transit injected into constant
// stars' curves comes back at its depth through the same baseline choice (no over-fitting).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <gtest/gtest.h>

#include "common/db.h"
#include "pipeline/robust_stats.h"
#include "pipeline/sim/night.h"
#include "pipeline/time/airmass.h"
#include "pipeline/transit/limb_darkened_fit.h"
#include "pipeline/transit/trapezoid_fit.h"
#include "support/live_services.h"
#include "support/run_local_script.h"
#include "support/sim_truth.h"

namespace tianyu {
namespace {

namespace fs = std::filesystem;

// A light curve as export writes it, with its systematics columns as regressors.
struct Curve {
  std::vector<double> t, f, e;
  std::vector<pipeline::BaselineRegressor> systematics;
};

Curve read_curve(const fs::path& path) {
  Curve c;
  for (const char* name : {"airmass", "fwhm_px", "background_adu", "transparency", "x_px", "y_px"}) {
    c.systematics.push_back({name, {}});
  }
  for (const auto& row : test::read_csv(path)) {
    if (row.at("flags") != "0" || row.at("rel_flux").empty()) continue;
    c.t.push_back(std::stod(row.at("bjd_tdb")));
    c.f.push_back(std::stod(row.at("rel_flux")));
    c.e.push_back(std::stod(row.at("rel_flux_err")));
    for (auto& s : c.systematics) {
      const auto& v = row.at(s.name);
      s.values.push_back(v.empty() ? std::nan("") : std::stod(v));
    }
  }
  return c;
}

pipeline::TrapezoidFit fit(const Curve& c, bool systematics) {
  pipeline::TrapezoidFitOptions o;
  if (systematics) o.regressors = c.systematics;
  return pipeline::fit_trapezoid_transit(c.t, c.f, c.e, o);
}

constexpr double kMid = 2458107.714;  // HAT-P-32 b for these frames (published; EXOTIC agrees)

// HAT-P-32 b's transit as a known planet (limb-darkened, pipeline/transit/limb_darkened_fit.h):
// P, a/R* and b from Hartman et al. (2011) and Wang et al. (2019); searched within 0.02 d of
// the published ephemeris' prediction (T0 2455867.402743, P 2.1500082: 2458107.7113).
const pipeline::PlanetShape kHatP32b{2.1500082, 6.05, 0.12};
constexpr double kPredicted = 2455867.402743 + 1042 * 2.1500082;

pipeline::LimbDarkenedFit planet_fit(const Curve& c, bool systematics) {
  pipeline::LimbDarkenedFitOptions o;
  o.shape = kHatP32b;
  o.mid_time_guess = kPredicted;
  o.mid_time_window_d = 0.02;
  if (systematics) o.regressors = c.systematics;
  return pipeline::fit_limb_darkened_transit(c.t, c.f, c.e, o);
}


class HatP32Noise : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::live_config() || !fs::is_directory(data())) return;
    dir_ = fs::temp_directory_path() / test::unique_name("noise_hatp32");
    fs::create_directories(dir_);
    db_ = std::make_unique<test::ScratchDatabase>(test::live_config()->db);
    run_ = test::run_local_script(data(), dir_ / "out", db_->name(),
                                  "--target HAT-P-32 --target-ra 31.042825 --target-dec 46.687836 "
                                  "--calibration '{\"saturation_adu\": 4095}' --plot-near 423,286");
  }
  static void TearDownTestSuite() {
    db_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  static fs::path data() { return fs::path(TIANYU_SOURCE_DIR) / ".." / "shared" / "data" / "hatp32"; }
  void SetUp() override {
    TIANYU_REQUIRE_LIVE_SERVICES();
    if (!fs::is_directory(data())) GTEST_SKIP() << "../shared/data/hatp32 is absent: the real-data checks are skipped";
    ASSERT_EQ(run_.exit_code, 0) << run_.log;
    c_ = std::make_unique<db::Connection>(db_->settings());
    target_ = c_->query_one("SELECT source_id FROM source ORDER BY POW(x_px - 423, 2) + POW(y_px - 286, 2) LIMIT 1").u64(0);
  }
  fs::path curve_path(std::uint64_t source) const {
    return dir_ / "out" / "lightcurves" / (std::to_string(source) + ".csv");
  }

  static inline fs::path dir_;
  static inline std::unique_ptr<test::ScratchDatabase> db_;
  static inline test::RunLocalResult run_;
  std::unique_ptr<db::Connection> c_;
  std::uint64_t target_ = 0;
};

// No GAIN card and no flats: the gain comes from the constant stars, and with it the constant
// stars' curves scatter as their errors say (before: errors 3.5 x the scatter, chi2 ~0.1).
TEST_F(HatP32Noise, TheGainComesFromConstantStarsAndTheirErrorsMatchTheirScatter) {
  const auto n = c_->query_one(
      "SELECT gain_method, gain_e_per_adu, gain_err, gain_used_by_photometry, constant_stars, "
      "constant_stars_reduced_chi2 FROM observation_noise");
  std::printf("HAT-P-32: gain %.2f +- %.2f e-/ADU (%s), %lld constant stars' reduced chi2 %.3f\n", n.f64(1), n.f64(2),
              n.str(0).c_str(), static_cast<long long>(n.i64(4)), n.f64(5));
  EXPECT_EQ(n.str(0), "constant_star_scatter");
  EXPECT_DOUBLE_EQ(n.f64(3), 1.0);  // the photometry's default, which the errors were computed with
  EXPECT_GT(n.f64(1), 5.0);        // measured 14.9 +- 1.7
  EXPECT_LT(n.f64(2), 0.25 * n.f64(1));
  EXPECT_GE(n.i64(4), 40);
  EXPECT_GE(n.f64(5), 0.8);
  EXPECT_LE(n.f64(5), 1.25);
  EXPECT_TRUE(fs::exists(dir_ / "out" / "noise.json"));
}

// Every good frame has its systematics; the airmass from the header's telescope altitude (no
// AIRMASS card) runs through its minimum near the meridian, 1.03, and ends near 1.9.
TEST_F(HatP32Noise, EveryGoodFrameHasItsSystematics) {
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM frame_systematics").i64(0),
            c_->query_one("SELECT COUNT(*) FROM frame_quality WHERE good = 1").i64(0));
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM frame_systematics WHERE airmass_from <> 'altitude' OR airmass IS NULL "
                          "OR fwhm_px IS NULL OR background_adu IS NULL OR transparency IS NULL").i64(0), 0);
  const auto a = c_->query_one("SELECT MIN(airmass), MAX(airmass), MIN(fwhm_px), MAX(fwhm_px) FROM frame_systematics");
  EXPECT_NEAR(a.f64(0), 1.035, 0.01);
  EXPECT_NEAR(a.f64(1), 1.90, 0.05);
  EXPECT_GT(a.f64(2), 2.5);  // 5.2"/px: 3.3-4.1 px of seeing
  EXPECT_LT(a.f64(3), 5.0);
  // The header's altitude (at the exposure's start) against the airmass computed from the site
  // (the header's LATITUDE 31.68, LONGITUD 110.88 west), the mid-exposure time and the pointing:
  // within 1 % (30 s of the sky's turning is < 0.5 % of airmass at 1.9).
  const pipeline::Site whipple{31.68, -110.88, 2300};
  for (const auto& r : c_->query("SELECT s.airmass, f.jd_utc_mid, f.pointing_ra_deg, f.pointing_dec_deg "
                                 "FROM frame_systematics s JOIN raw_frame f ON f.frame_id = s.frame_id")) {
    EXPECT_NEAR(r.f64(0) / pipeline::airmass(whipple, r.f64(1), r.f64(2), r.f64(3)), 1.0, 0.01) << r.f64(1);
  }
  EXPECT_TRUE(fs::exists(dir_ / "out" / "diagnostics.png"));
  EXPECT_TRUE(fs::exists(dir_ / "out" / "frames.csv"));
}

// The target's transit. On a straight baseline: the published mid-time and depth, errors within
// 20 % of the residual scatter. With the systematics chosen by BIC the residual rms falls, but
// the airmass (its minimum 1.5 h before mid-transit) and the drift bend the baseline under the
// transit: the trapezoid comes out longer and deeper (measured 206 min, 2.93-2.96 %, against
// 172 min, 2.34 % on the line; HAT-P-32 b's T14 is 186 min). Asserted as measured.
TEST_F(HatP32Noise, TheTargetsTransitAndItsErrors) {
  const auto curve = read_curve(curve_path(target_));
  ASSERT_GT(curve.t.size(), 120u);
  const auto line = fit(curve, false);
  std::printf("HAT-P-32 line: mid %.5f depth %.3f %% rms %.3f %% scatter/errors %.2f\n", line.mid_time,
              100 * line.depth, 100 * line.residual_rms, line.error_scale);
  EXPECT_NEAR(line.mid_time, kMid, 0.0015);
  EXPECT_GE(line.depth, 0.021);
  EXPECT_LE(line.depth, 0.024);
  EXPECT_LE(line.residual_rms, 0.0053);  // measured 0.518 %: 0.43 % point-to-point plus red noise
  EXPECT_NEAR(line.error_scale, 1.0, 0.2);
  const auto chosen = fit(curve, true);
  std::string names;
  for (const auto& r : chosen.regressors) names += r + " ";
  std::printf("HAT-P-32 systematics: %s mid %.5f depth %.3f %% rms %.3f %% BIC %.1f (line %.1f)\n", names.c_str(),
              chosen.mid_time, 100 * chosen.depth, 100 * chosen.residual_rms, chosen.bic, chosen.baselines.front().bic);
  EXPECT_FALSE(chosen.regressors.empty());
  EXPECT_LT(chosen.bic, chosen.baselines.front().bic);
  EXPECT_LE(chosen.residual_rms, 0.0050);  // measured 0.494 %
  EXPECT_NEAR(chosen.mid_time, kMid, 0.003);
  EXPECT_NEAR(chosen.error_scale, 1.0, 0.2);
}

// A 2.3 % transit at HAT-P-32 b's time and shape injected into the 20 brightest constant stars'
// curves: through the same BIC choice of systematics the median depth comes back within 10 %.
TEST_F(HatP32Noise, AnInjectedTransitIsRecoveredAtItsDepth) {
  const auto refs = c_->query(
      "SELECT source_id FROM source_photometry WHERE is_reference = 1 AND source_id <> ? "
      "ORDER BY instrumental_mag LIMIT 20",
      {target_});
  ASSERT_EQ(refs.size(), 20u);
  std::vector<double> depth_line, depth_chosen;
  for (const auto& r : refs) {
    auto curve = read_curve(curve_path(r.u64(0)));
    for (std::size_t i = 0; i < curve.t.size(); ++i) {
      curve.f[i] *= 1 - 0.023 * pipeline::trapezoid_shape(curve.t[i], kMid, 0.1194, 0.015);
    }
    depth_line.push_back(fit(curve, false).depth);
    depth_chosen.push_back(fit(curve, true).depth);
  }
  const double line = pipeline::median(depth_line), chosen = pipeline::median(depth_chosen);
  std::printf("injected 2.3 %%: recovered %.3f %% (line), %.3f %% (systematics by BIC)\n", 100 * line, 100 * chosen);
  EXPECT_NEAR(line / 0.023, 1.0, 0.10);
  EXPECT_NEAR(chosen / 0.023, 1.0, 0.10);
}

// The known planet's limb-darkened transit: its shape fixed by the orbit, so the systematics
// chosen by BIC can flatten the baseline without lengthening and deepening the transit as they
// do the trapezoid's. Checked against the published values: mid-time 2458107.714 (+- 0.0015),
// (Rp/R*)^2 = 0.1508^2 = 2.27 % within 2 sigma of the fit's own error and in 2.1-2.4 %.
// Residual rms measured on the pipeline's curve of the target: 0.525 % (line), 0.505 % (y_px
// chosen); the 0.45 % is not reached (see the report of issue 19: a whole-field
// comparison ensemble at the smallest aperture reaches 0.444 % but moves the mid-time 2 min;
// apertures scaled to each frame's seeing (tried and not kept) 0.498 % with fwhm_px chosen,
// 0.507 % on a line, and they moved the trapezoid's mid-time on a line out of its window).
TEST_F(HatP32Noise, TheKnownPlanetsLimbDarkenedTransit) {
  const auto curve = read_curve(curve_path(target_));
  const auto line = planet_fit(curve, false);
  const auto chosen = planet_fit(curve, true);
  for (const auto* f : {&line, &chosen}) {
    std::string names;
    for (const auto& r : f->regressors) names += r + " ";
    std::printf("HAT-P-32 b limb-darkened [%s]: mid %.5f +- %.5f depth %.3f +- %.3f %% T14 %.0f min rms %.3f %% "
                "scatter/errors %.2f\n",
                names.c_str(), f->mid_time, f->mid_time_err, 100 * f->depth, 100 * f->depth_err, f->duration * 1440,
                100 * f->residual_rms, f->error_scale);
    EXPECT_NEAR(f->mid_time, kMid, 0.0015);
    EXPECT_LT(f->mid_time_err, 0.0015);
    EXPECT_NEAR(f->error_scale, 1.0, 0.2);
    EXPECT_NEAR(f->duration * 1440, 187, 3);
  }
  // On a line the airmass's curve under the transit is left in: measured 2.09 +- 0.09 %.
  EXPECT_GT(line.depth, 0.019);
  EXPECT_LE(line.residual_rms, 0.0053);
  EXPECT_FALSE(chosen.regressors.empty());
  EXPECT_LT(chosen.bic, chosen.baselines.front().bic);
  EXPECT_LE(chosen.residual_rms, 0.0051);
  // Measured 2.39 +- 0.12 % (the trapezoid on the same baseline: 2.96 %).
  EXPECT_GE(chosen.depth, 0.021);
  EXPECT_LE(chosen.depth, 0.024);
  EXPECT_NEAR(chosen.depth, 0.1508 * 0.1508, 2 * chosen.depth_err);
}

// The planet's transit (Rp/R* = sqrt 0.023) injected into the 20 brightest constant stars'
// curves comes back through the same BIC choice at its depth within 10 %.
TEST_F(HatP32Noise, AnInjectedPlanetIsRecoveredAtItsDepth) {
  const auto refs = c_->query(
      "SELECT source_id FROM source_photometry WHERE is_reference = 1 AND source_id <> ? "
      "ORDER BY instrumental_mag LIMIT 20",
      {target_});
  ASSERT_EQ(refs.size(), 20u);
  std::vector<double> depth_line, depth_chosen;
  for (const auto& r : refs) {
    auto curve = read_curve(curve_path(r.u64(0)));
    for (std::size_t i = 0; i < curve.t.size(); ++i) {
      curve.f[i] *= pipeline::limb_darkened_transit(curve.t[i], kMid, std::sqrt(0.023), kHatP32b);
    }
    depth_line.push_back(planet_fit(curve, false).depth);
    depth_chosen.push_back(planet_fit(curve, true).depth);
  }
  const double line = pipeline::median(depth_line), chosen = pipeline::median(depth_chosen);
  std::printf("injected planet (Rp/R*)^2 2.3 %%: recovered %.3f %% (line), %.3f %% (systematics by BIC)\n", 100 * line,
              100 * chosen);
  EXPECT_NEAR(line / 0.023, 1.0, 0.10);
  EXPECT_NEAR(chosen / 0.023, 1.0, 0.10);
}

// A simulated night (GAIN in its headers): the header's gain is kept, and the constant stars'
// errors match their scatter.
TEST(SimulatedNightNoise, TheHeadersGainIsKeptAndConstantStarsMatchTheirErrors) {
  TIANYU_REQUIRE_LIVE_SERVICES();
  const fs::path dir = fs::temp_directory_path() / test::unique_name("noise_sim");
  pipeline::sim::SimConfig config;
  config.flat_frames = 30;  // the master flat's own noise would otherwise follow each drifting star
  pipeline::sim::simulate_night(config, dir / "night", 2);
  test::ScratchDatabase db(test::live_config()->db);
  const auto run = test::run_local_script(dir / "night", dir / "out", db.name(),
                                          "--consumers 2 --target SIM-FIELD-1 --target-ra 108 --target-dec 46");
  ASSERT_EQ(run.exit_code, 0) << run.log;
  db::Connection c(db.settings());
  const auto n = c.query_one("SELECT gain_method, gain_e_per_adu, constant_stars_reduced_chi2 FROM observation_noise");
  std::printf("simulated night: gain %.2f (%s), constant stars' reduced chi2 %.3f\n", n.f64(1), n.str(0).c_str(),
              n.f64(2));
  EXPECT_EQ(n.str(0), "header");
  EXPECT_DOUBLE_EQ(n.f64(1), config.gain);
  EXPECT_GE(n.f64(2), 0.8);
  EXPECT_LE(n.f64(2), 1.25);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tianyu
