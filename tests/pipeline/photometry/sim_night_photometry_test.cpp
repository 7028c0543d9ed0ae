// The photometry chain on the simulator's default night, judged against its truth: raw frames
// -> masters -> calibration -> alignment -> selection -> a template stack -> template sources
// -> apertures in every frame -> relative flux at the best radius. Constant bright stars reach
// their theoretical noise, the target shows the injected transit depth, and the variables
// come back with their true shapes.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/alignment/align.h"
#include "pipeline/calibration/calibrate.h"
#include "pipeline/calibration/masters.h"
#include "pipeline/detection/extract.h"
#include "pipeline/fits_io.h"
#include "pipeline/photometry/aperture.h"
#include "pipeline/photometry/precision.h"
#include "pipeline/photometry/relative_flux.h"
#include "pipeline/photometry/template_sources.h"
#include "pipeline/robust_stats.h"
#include "pipeline/selection/quality.h"
#include "pipeline/sim/night.h"
#include "pipeline/stacking/stack_node.h"
#include "support/long_night.h"
#include "support/sim_truth.h"

namespace tianyu::pipeline {
namespace {

namespace fs = std::filesystem;

struct TruthStar {
  int id;
  double x, y, mag;
  std::string variability;
};

class SimNightPhotometry : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("sim_night_photometry_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    config_ = test::long_transit_night();
    sim::simulate_night(config_, dir_, 2);
    reduce();
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static void reduce() {
    const auto bias = master_bias(FitsFrameSet(test::calib_files(dir_, "bias", config_.bias_frames)));
    const auto dark = master_dark_rate(FitsFrameSet(test::calib_files(dir_, "dark", config_.dark_frames), true), bias);
    const auto flat = master_flat(FitsFrameSet(test::calib_files(dir_, "flat", config_.flat_frames)), bias, &dark);
    const auto rows = test::read_csv(dir_ / "truth" / "frames.csv");
    std::vector<CalibratedFrame> frames;
    std::vector<Source> reference;
    std::vector<FrameQuality> quality;
    for (const auto& row : rows) {
      const auto raw = read_fits(dir_ / "raw" / row.at("file"));
      CalibrationOptions options;
      options.saturation_adu = std::stod(raw.header.at("SATURATE"));  // stars past it must not be references
      frames.push_back(calibrate(raw.image, config_.exptime_s, {&bias, &dark, &flat}, options));
        const auto& cal = frames.back();
      const auto sources = extract_sources(cal.image, &cal.mask, cal.background_rms);
      if (reference.empty()) reference = sources;
      const auto a = align_to_reference(reference, sources);
      transforms_.push_back(a.transform);
      quality.push_back({static_cast<int>(sources.size()), cal.background_rms, a.aligned, a.reason,
                         a.transparency, longest_trail(sources)});
      time_.push_back(std::stod(row.at("bjd_tdb")));
      transparency_.push_back(std::stod(row.at("transparency")));
    }
    for (const auto& v : select_frames(quality)) good_.push_back(v.good);
    // The template: every good frame on the first frame's grid, in one node.
    std::vector<StackInput> inputs;
    for (std::size_t f = 0; f < frames.size(); ++f) {
      inputs.push_back({&frames[f].image, good_[f] ? 1.0 : 0.0, transforms_[f], &frames[f].mask});
    }
    const auto stack = stack_node(inputs, config_.width, config_.height);
    const auto flat_template = calibrate(stack.image, 1.0, {});
    // Isolation within 5 FWHM (the largest aperture and two more FWHM): a neighbour there with
    // over 10 % of a star's flux keeps the star from the references. (Out to the annulus, 9 FWHM,
    // left 249 of ~270 stars "blended" and the groups too small to trust.)
    const auto found = detect_template_sources(flat_template.image, &flat_template.mask,
                                               flat_template.background_rms, 5.0 * config_.seeing_fwhm_px);
    std::vector<bool> blended;
    for (const auto& s : found) {
      template_x_.push_back(s.x);
      template_y_.push_back(s.y);
      blended.push_back(!s.isolated);
    }
    // Apertures of 1.5, 2 and 3 seeing FWHM, measured in every frame.
    ApertureOptions options;
    options.radii_px = {1.5 * config_.seeing_fwhm_px, 2.0 * config_.seeing_fwhm_px, 3.0 * config_.seeing_fwhm_px};
    options.gain_e_per_adu = config_.gain;
    const int radii = static_cast<int>(options.radii_px.size());
    std::vector<FluxTable> tables(radii);
    for (auto& t : tables) {
      t.stars = static_cast<int>(found.size());
      t.frames = static_cast<int>(frames.size());
      t.flux.resize(static_cast<std::size_t>(t.stars) * t.frames);
      t.flux_err.resize(t.flux.size());
      t.flags.resize(t.flux.size());
      t.x = template_x_;
      t.y = template_y_;
      t.good_frame = good_;
      t.blended = blended;
    }
    for (std::size_t f = 0; f < frames.size(); ++f) {
      const auto p = measure_apertures(frames[f].image, &frames[f].mask, frames[f].background_rms,
                                       template_x_, template_y_, transforms_[f], options);
      for (int s = 0; s < p.stars; ++s) {
        for (int r = 0; r < radii; ++r) {
          const std::size_t k = static_cast<std::size_t>(s) * frames.size() + f;
          const std::size_t q = static_cast<std::size_t>(s) * radii + r;
          tables[r].flux[k] = p.flux[q];
          tables[r].flux_err[k] = p.flux_err[q];
          tables[r].flags[k] = p.flags[q];
        }
      }
    }
    // Truth: each template source's star (nearest within 1.5 px in the first frame).
    for (const auto& row : test::read_csv(dir_ / "truth" / "stars.csv")) {
      truth_.push_back({std::stoi(row.at("star_id")), std::stod(row.at("x_first")),
                        std::stod(row.at("y_first")), std::stod(row.at("mag")), row.at("variability")});
    }
    for (const auto& row : test::read_csv(dir_ / "truth" / "flux.csv")) {
      true_flux_[std::stoi(row.at("star_id"))].push_back(std::stod(row.at("flux_e")));
    }
    results_ = calibrate_relative_flux_radii(tables);
    std::vector<const RelativeFluxResult*> pointers;
    for (const auto& r : results_) pointers.push_back(&r);
    best_ = best_radius_by_scatter(pointers);
  }

  // The template source of truth star `id`, or -1.
  static int source_of(int id) {
    const auto& t = truth_[id];
    for (std::size_t s = 0; s < template_x_.size(); ++s) {
      if (std::hypot(template_x_[s] - t.x, template_y_[s] - t.y) < 1.5) return static_cast<int>(s);
    }
    return -1;
  }
  static std::vector<double> curve(int source) {
    const auto& r = results_[best_[source]];
    std::vector<double> c;
    // A light curve shows its clean points: a saturated or masked measurement is flagged out.
    for (int f = 0; f < r.frames; ++f) {
      const bool clean = good_[f] && r.flags[static_cast<std::size_t>(source) * r.frames + f] == 0;
      c.push_back(clean ? r.value(source, f) : std::nan(""));
    }
    return c;
  }
  // The star's own light, free of the atmosphere: flux_e / transparency.
  static std::vector<double> intrinsic(int id) {
    std::vector<double> c;
    for (std::size_t f = 0; f < time_.size(); ++f) c.push_back(good_[f] ? true_flux_[id][f] / transparency_[f] : std::nan(""));
    return c;
  }

  static inline sim::SimConfig config_;
  static inline fs::path dir_;
  static inline std::vector<FrameTransform> transforms_;
  static inline std::vector<double> time_, transparency_;
  static inline std::vector<bool> good_;
  static inline std::vector<double> template_x_, template_y_;
  static inline std::vector<RelativeFluxResult> results_;
  static inline std::vector<int> best_;
  static inline std::vector<TruthStar> truth_;
  static inline std::map<int, std::vector<double>> true_flux_;
};

double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  double ma = 0, mb = 0;
  int n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isfinite(a[i]) && std::isfinite(b[i])) { ma += a[i]; mb += b[i]; ++n; }
  }
  ma /= n;
  mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) continue;
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

// Means of consecutive runs of n finite points.
std::vector<double> binned(const std::vector<double>& v, int n) {
  std::vector<double> out;
  double sum = 0;
  int count = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isfinite(v[i])) { sum += v[i]; ++count; }
    if (count == n) { out.push_back(sum / n); sum = 0; count = 0; }
  }
  return out;
}

TEST_F(SimNightPhotometry, ConstantBrightStarsReachTheirTheoreticalNoise) {
  int checked = 0;
  for (const auto& t : truth_) {
    if (t.variability != "none" || t.mag > 16.0) continue;
    const int s = source_of(t.id);
    if (s < 0) continue;
    const auto& r = results_[best_[s]];
    if (r.decision[s].find("no positive flux") != std::string::npos) continue;  // drifted off the frame
    if (r.decision[s].find("blended") != std::string::npos) continue;  // a neighbour's light in it
    bool saturated = false;
    for (const double v : true_flux_[t.id]) saturated |= v * 0.1 > config_.full_well_e;  // peak ~ 7 % of the flux
    if (saturated) continue;
    const auto c = curve(s);
    // Theory: photon, sky and read noise of the star and its references (propagated into the
    // errors), plus the simulator's scintillation for the star and for the reference sum.
    std::vector<double> relative_error;
    for (int f = 0; f < r.frames; ++f) {
      if (std::isfinite(c[f])) relative_error.push_back(r.rel_flux_err[static_cast<std::size_t>(s) * r.frames + f] / c[f]);
    }
    const auto& group = r.groups[r.group[s]];
    const double scint = config_.scintillation_rms * std::sqrt(1.0 + 1.0 / group.references.size());
    // Frames differ in noise (twilight triples the sky of the first ones): the expected RMS of
    // the curve is the quadratic mean of the per-frame errors, not their median.
    double mean_square = 0;
    for (const double e : relative_error) mean_square += e * e / relative_error.size();
    const double theory = std::hypot(std::sqrt(mean_square), scint);
    const double measured = relative_rms(c);
    EXPECT_LE(measured, 1.2 * theory) << "star " << t.id << " mag " << t.mag << ": rms " << measured
                                      << " theory " << theory << " (" << r.decision[s] << ")";
    ++checked;
  }
  EXPECT_GE(checked, 8);  // the isolated, unsaturated stars of 12.8 < mag < 16 present all night
}

TEST_F(SimNightPhotometry, TheTargetShowsTheInjectedTransitDepth) {
  const auto signals = nlohmann::json::parse(std::ifstream(dir_ / "truth" / "signals.json"));
  const double mid = signals["transit"]["t_mid_bjd_tdb"], duration = signals["transit"]["duration_d"];
  const double ingress = signals["transit"]["ingress_d"], depth = signals["transit"]["depth"];
  const int s = source_of(0);
  ASSERT_GE(s, 0) << "the target was not detected on the template";
  const auto c = curve(s);
  // A straight-line baseline through the out-of-transit points, as an observer fits one (the
  // field drifts across the flat's residual shape, the airmass changes).
  std::vector<double> ot, of;
  for (std::size_t f = 0; f < c.size(); ++f) {
    if (std::isfinite(c[f]) && std::abs(time_[f] - mid) > duration / 2 + 0.0005) {
      ot.push_back(time_[f] - mid);
      of.push_back(c[f]);
    }
  }
  ASSERT_GE(ot.size(), 20u);
  double st = 0, sf = 0, stt = 0, stf = 0;
  for (std::size_t i = 0; i < ot.size(); ++i) {
    st += ot[i]; sf += of[i]; stt += ot[i] * ot[i]; stf += ot[i] * of[i];
  }
  const double n = static_cast<double>(ot.size());
  const double slope = (n * stf - st * sf) / (n * stt - st * st), intercept = (sf - slope * st) / n;
  std::vector<double> outside, bottom;
  for (std::size_t f = 0; f < c.size(); ++f) {
    if (!std::isfinite(c[f])) continue;
    const double u = time_[f] - mid, normalised = c[f] / (intercept + slope * u);
    if (std::abs(u) > duration / 2 + 0.0005) outside.push_back(normalised);
    if (std::abs(u) < duration / 2 - ingress - 0.0005) bottom.push_back(normalised);
  }
  ASSERT_GE(bottom.size(), 20u);
  const double measured = 1.0 - sigma_clipped_stats(bottom).mean / sigma_clipped_stats(outside).mean;
  EXPECT_NEAR(measured, depth, 0.05 * depth);
}

TEST_F(SimNightPhotometry, VariablesAreNeverReferences) {
  for (const auto& t : truth_) {
    if (t.variability == "none" || t.variability == "transit") continue;
    const int s = source_of(t.id);
    ASSERT_GE(s, 0) << t.variability << " star " << t.id << " was not detected";
    // At every radius: one set of references serves them all.
    for (const auto& r : results_) {
      EXPECT_FALSE(r.is_reference[s]) << t.variability << " star " << t.id << ": " << r.decision[s];
    }
  }
}

TEST_F(SimNightPhotometry, VariablesComeBackWithTheirTrueShapes) {
  for (const auto& t : truth_) {
    if (t.variability == "none" || t.variability == "transit") continue;
    const int s = source_of(t.id);
    ASSERT_GE(s, 0) << t.variability << " star " << t.id << " was not detected";
    // In bins of 10 frames (2 min): the pulsator changes by a few per cent over the night, not
    // many times its per-frame noise, which alone would cap the correlation of unbinned curves.
    EXPECT_GE(correlation(binned(curve(s), 10), binned(intrinsic(t.id), 10)), 0.95) << t.variability << " star " << t.id;
  }
}

}  // namespace
}  // namespace tianyu::pipeline
