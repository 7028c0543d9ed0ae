// The photometry chain on the simulator's default night, judged against its truth: raw frames
// -> masters -> calibration -> alignment -> selection -> a template stack -> the production
// detect_sources recipe -> apertures in every good frame -> the production relative_flux
// recipe (pipeline/recipes), with the consumer's defaults: the same functions the consumer
// runs, so these checks judge the recipe the pipeline runs. Constant bright stars reach their
// theoretical noise, the target shows the injected transit depth, and the variables come back
// with their true shapes.
#include <algorithm>
#include <cmath>
#include <cstdio>
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
#include "pipeline/recipes/detect_sources.h"
#include "pipeline/recipes/relative_flux.h"
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
    read_truth();
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // Calibration, alignment and the quality selection of every frame, as the frame steps do.
  static void reduce_frames() {
    const auto bias = master_bias(FitsFrameSet(test::calib_files(dir_, "bias", config_.bias_frames)));
    const auto dark = master_dark_rate(FitsFrameSet(test::calib_files(dir_, "dark", config_.dark_frames), true), bias);
    const auto flat = master_flat(FitsFrameSet(test::calib_files(dir_, "flat", config_.flat_frames)), bias, &dark);
    std::vector<Source> reference;
    std::vector<FrameQuality> quality;
    for (const auto& row : test::read_csv(dir_ / "truth" / "frames.csv")) {
      const auto raw = read_fits(dir_ / "raw" / row.at("file"));
      CalibrationOptions options;
      options.saturation_adu = std::stod(raw.header.at("SATURATE"));  // stars past it must not be references
      frames_.push_back(calibrate(raw.image, config_.exptime_s, {&bias, &dark, &flat}, options));
      const auto& cal = frames_.back();
      const auto sources = extract_sources(cal.image, &cal.mask, cal.background_rms);
      if (reference.empty()) reference = sources;
      const auto a = align_to_reference(reference, sources);
      transforms_.push_back(a.transform);
      quality.push_back({static_cast<int>(sources.size()), cal.background_rms, a.aligned, a.reason,
                         a.transparency, longest_trail(sources)});
      all_time_.push_back(std::stod(row.at("bjd_tdb")));
      all_transparency_.push_back(std::stod(row.at("transparency")));
    }
    const auto verdicts = select_frames(quality);
    for (std::size_t f = 0; f < verdicts.size(); ++f) {
      if (verdicts[f].good) good_frames_.push_back(static_cast<int>(f));
    }
  }

  // The flux tables as the relative_flux step loads them: good frames only, by time; a point
  // whose flux or error is not finite stored as missing.
  static std::vector<FluxTable> measure(const recipes::TemplateCatalogue& catalogue) {
    ApertureOptions options;
    options.radii_px = catalogue.aperture_radii_px;
    options.gain_e_per_adu = config_.gain;
    const int radii = static_cast<int>(options.radii_px.size()), frames = static_cast<int>(good_frames_.size());
    std::vector<double> x, y;
    std::vector<bool> blended;
    for (const auto& s : catalogue.sources) {
      x.push_back(s.x);
      y.push_back(s.y);
      blended.push_back(!s.isolated);
    }
    std::vector<FluxTable> tables(radii);
    for (auto& t : tables) {
      t.stars = static_cast<int>(x.size());
      t.frames = frames;
      t.flux.assign(static_cast<std::size_t>(t.stars) * frames, std::nan(""));
      t.flux_err.assign(t.flux.size(), std::nan(""));
      t.flags.assign(t.flux.size(), 0);
      t.x = x;
      t.y = y;
      t.blended = blended;
      t.good_frame.assign(frames, true);
    }
    for (int g = 0; g < frames; ++g) {
      const auto& frame = frames_[good_frames_[g]];
      const auto p = measure_apertures(frame.image, &frame.mask, frame.background_rms, x, y,
                                       transforms_[good_frames_[g]], options);
      for (int s = 0; s < p.stars; ++s) {
        for (int r = 0; r < radii; ++r) {
          const std::size_t k = static_cast<std::size_t>(s) * frames + g, q = static_cast<std::size_t>(s) * radii + r;
          if (std::isfinite(p.flux[q]) && std::isfinite(p.flux_err[q])) {
            tables[r].flux[k] = p.flux[q];
            tables[r].flux_err[k] = p.flux_err[q];
          }
          tables[r].flags[k] = p.flags[q];
        }
      }
    }
    return tables;
  }

  static void reduce() {
    reduce_frames();
    // The template: every good frame on the first frame's grid, in one node, with its weights.
    std::vector<StackInput> inputs;
    for (std::size_t f = 0; f < frames_.size(); ++f) {
      const bool good = std::find(good_frames_.begin(), good_frames_.end(), static_cast<int>(f)) != good_frames_.end();
      inputs.push_back({&frames_[f].image, good ? 1.0 : 0.0, transforms_[f], &frames_[f].mask});
    }
    const auto stack = stack_node(inputs, config_.width, config_.height);
    catalogue_ = recipes::detect_sources(stack.image, &stack.weight_map);
    std::printf("template: %zu sources, median FWHM %.3f px (simulated seeing %.2f px)\n", catalogue_.sources.size(),
                catalogue_.median_fwhm_px, config_.seeing_fwhm_px);
    for (const auto& s : catalogue_.sources) {
      template_x_.push_back(s.x);
      template_y_.push_back(s.y);
    }
    std::vector<double> bjd;
    for (const int f : good_frames_) {
      bjd.push_back(all_time_[f]);
      time_.push_back(all_time_[f]);
    }
    light_curves_ = recipes::relative_flux(measure(catalogue_), bjd, config_.exptime_s);
    frames_.clear();
  }

  // Truth: each star's position in the first frame and its flux in the good frames.
  static void read_truth() {
    for (const auto& row : test::read_csv(dir_ / "truth" / "stars.csv")) {
      truth_.push_back({std::stoi(row.at("star_id")), std::stod(row.at("x_first")),
                        std::stod(row.at("y_first")), std::stod(row.at("mag")), row.at("variability")});
    }
    std::map<int, std::vector<double>> all;
    for (const auto& row : test::read_csv(dir_ / "truth" / "flux.csv")) {
      all[std::stoi(row.at("star_id"))].push_back(std::stod(row.at("flux_e")));
    }
    for (const auto& [id, flux] : all) {
      for (const int f : good_frames_) true_flux_[id].push_back(flux[f]);
    }
  }

  // The template source of truth star `id` (nearest within 1.5 px in the first frame), or -1.
  static int source_of(int id) {
    const auto& t = truth_[id];
    for (std::size_t s = 0; s < template_x_.size(); ++s) {
      if (std::hypot(template_x_[s] - t.x, template_y_[s] - t.y) < 1.5) return static_cast<int>(s);
    }
    return -1;
  }
  // The calibration of the radius the source's curve was taken at.
  static const RelativeFluxResult& radius_of(int source) {
    const int b = light_curves_.sources[source].best_aperture;
    return light_curves_.per_radius[b >= 0 ? b : light_curves_.main_aperture];
  }
  static std::vector<double> curve(int source) {
    const auto& c = light_curves_.sources[source];
    std::vector<double> out;
    // A light curve shows its clean points: a saturated or masked measurement is flagged out.
    for (std::size_t f = 0; f < c.rel_flux.size(); ++f) out.push_back(c.flags[f] == 0 ? c.rel_flux[f] : std::nan(""));
    return out;
  }
  // The star's own light in the good frames, free of the atmosphere: flux_e / transparency.
  static std::vector<double> intrinsic(int id) {
    std::vector<double> c;
    for (std::size_t g = 0; g < good_frames_.size(); ++g) c.push_back(true_flux_[id][g] / all_transparency_[good_frames_[g]]);
    return c;
  }

  static inline sim::SimConfig config_;
  static inline fs::path dir_;
  static inline std::vector<CalibratedFrame> frames_;
  static inline std::vector<FrameTransform> transforms_;
  static inline std::vector<double> all_time_, all_transparency_;
  static inline std::vector<int> good_frames_;
  static inline std::vector<double> time_;  // of the good frames
  static inline std::vector<double> template_x_, template_y_;
  static inline recipes::TemplateCatalogue catalogue_;
  static inline recipes::ObservationLightCurves light_curves_;
  static inline std::vector<TruthStar> truth_;
  static inline std::map<int, std::vector<double>> true_flux_;  // in the good frames
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
  double worst = 0;
  for (const auto& t : truth_) {
    if (t.variability != "none" || t.mag > 16.0) continue;
    const int s = source_of(t.id);
    if (s < 0) continue;
    const auto& lc = light_curves_.sources[s];
    if (lc.decision.find("no positive flux") != std::string::npos) continue;  // drifted off the frame
    if (lc.decision.find("blended") != std::string::npos) continue;  // a neighbour's light in it
    bool saturated = false;
    for (const double v : true_flux_[t.id]) saturated |= v * 0.1 > config_.full_well_e;  // peak ~ 7 % of the flux
    if (saturated) continue;
    const auto c = curve(s);
    // Theory: photon, sky and read noise of the star and its references (propagated into the
    // errors), plus the simulator's scintillation for the star and for the reference sum.
    std::vector<double> relative_error;
    for (std::size_t f = 0; f < c.size(); ++f) {
      if (std::isfinite(c[f])) relative_error.push_back(lc.rel_flux_err[f] / c[f]);
    }
    const auto& group = radius_of(s).groups[lc.group];
    const double scint = config_.scintillation_rms * std::sqrt(1.0 + 1.0 / group.references.size());
    // Frames differ in noise (twilight triples the sky of the first ones): the expected RMS of
    // the curve is the quadratic mean of the per-frame errors, not their median.
    double mean_square = 0;
    for (const double e : relative_error) mean_square += e * e / relative_error.size();
    const double theory = std::hypot(std::sqrt(mean_square), scint);
    const double measured = relative_rms(c);
    worst = std::max(worst, measured / theory);
    EXPECT_LE(measured, 1.2 * theory) << "star " << t.id << " mag " << t.mag << ": rms " << measured
                                      << " theory " << theory << " (" << lc.decision << ")";
    ++checked;
  }
  std::printf("theoretical noise: %d stars checked, worst rms / theory %.3f\n", checked, worst);
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
  std::printf("the target's transit depth: %.5f measured, %.5f injected (%+.1f %%)\n", measured, depth,
              100 * (measured / depth - 1));
  EXPECT_NEAR(measured, depth, 0.05 * depth);
}

TEST_F(SimNightPhotometry, VariablesAreNeverReferences) {
  for (const auto& t : truth_) {
    if (t.variability == "none" || t.variability == "transit") continue;
    const int s = source_of(t.id);
    ASSERT_GE(s, 0) << t.variability << " star " << t.id << " was not detected";
    // At every radius: one set of references serves them all.
    for (const auto& r : light_curves_.per_radius) {
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
    const double r = correlation(binned(curve(s), 10), binned(intrinsic(t.id), 10));
    std::printf("%s star %d: correlation with its true shape %.4f\n", t.variability.c_str(), t.id, r);
    EXPECT_GE(r, 0.95) << t.variability << " star " << t.id;
  }
}

}  // namespace
}  // namespace tianyu::pipeline
