// WASP-4 b in a real TESS sector through the survey's own candidate code
// (pipeline::survey::search_field_source, what the field_search step runs on every field
// source): the published period (1.33823170 d from 41 transit times), odd and even transits of
// one depth, no eclipse at phase 0.5, and no flag. Skips when ../shared/data/tess is absent.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <gtest/gtest.h>

#include "pipeline/survey/field_search.h"
#include "pipeline/transit/lightcurve_io.h"

namespace tianyu::pipeline::survey {
namespace {

constexpr double kPeriod = 1.33823170, kDepth = 0.024;

// The sector as a survey sees it: 10-minute bins (the survey's cadence, a fifth of the points
// to search) and each TESS day as a "night" with its own free offset, as the field search gives
// every ground night one.
FieldCurve as_survey_nights(const LightCurveData& lc) {
  std::vector<LightCurveData> nights;
  const double bin = 10.0 / 1440;
  double day_start = lc.time.front(), bin_start = lc.time.front();
  double sum_t = 0, sum_f = 0, sum_v = 0;
  int n = 0;
  auto flush = [&] {
    if (n == 0) return;
    auto& night = nights.back();
    night.time.push_back(sum_t / n);
    night.flux.push_back(sum_f / n);
    night.flux_err.push_back(std::sqrt(sum_v) / n);
    sum_t = sum_f = sum_v = 0, n = 0;
  };
  nights.emplace_back();
  for (std::size_t i = 0; i < lc.time.size(); ++i) {
    const double t = lc.time[i];
    if (t - bin_start >= bin || t - day_start >= 1.0) flush(), bin_start = t;
    if (t - day_start >= 1.0) {
      if (!nights.back().time.empty()) nights.emplace_back();
      day_start = t;
    }
    sum_t += t, sum_f += lc.flux[i], sum_v += lc.flux_err[i] * lc.flux_err[i], ++n;
  }
  flush();
  if (nights.back().time.empty()) nights.pop_back();
  return join_nights(nights);
}

TEST(Wasp4bThroughTheFieldSearch, PeriodOddEvenAndNoSecondary) {
  const auto file = std::filesystem::path(TIANYU_SOURCE_DIR) / ".." / "shared" / "data" / "tess" /
                    "tess2018234235059-s0002-0000000402026209-0121-s_lc.fits";
  if (!std::filesystem::exists(file)) GTEST_SKIP() << file << " is absent: the WASP-4 b check is skipped";
  const auto curve = as_survey_nights(read_light_curve(file));
  ASSERT_GT(curve.lc.time.size(), 3000u);
  FieldSearchOptions o;  // the step's defaults, but for the signals asked for and the threads
  o.max_signals = 1;
  o.threads = 0;
  const auto started = std::chrono::steady_clock::now();
  const auto found = search_field_source(curve, o);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(found.size(), 1u);
  const auto& k = found[0];
  std::printf("WASP-4 b (%zu points in %d days, %.0f s): P %.6f d (published %.6f, %+.4f %%), depth %.3f +- %.3f %%, "
              "duration %.1f h, SNR %.1f, %d transits over %d days, odd-even %.3f %% (%.1f sigma), secondary %.3f %% "
              "(%.1f sigma), single ln BF %.1f, flags: '%s'\n",
              curve.lc.time.size(), curve.night.back() + 1, seconds, k.fit.period, kPeriod,
              100 * (k.fit.period / kPeriod - 1), 100 * k.fit.depth, 100 * k.fit.depth_err, 24 * k.fit.duration,
              k.fit.snr, k.fit.transits, k.nights_covered, 100 * k.odd_even_diff, k.odd_even_sigma,
              100 * k.secondary_depth, k.secondary_sigma, k.single_ln_bf, k.flags_text().c_str());
  EXPECT_LT(std::abs(k.fit.period / kPeriod - 1), 0.001);
  EXPECT_NEAR(k.fit.depth, kDepth, 0.004);
  EXPECT_GE(k.fit.transits, 15);  // 27.4 d with a mid-sector gap: about 18 transits with data
  EXPECT_GT(k.fit.snr, 50);
  EXPECT_LT(k.odd_even_sigma, 3) << "odd and even transits of a planet have one depth";
  EXPECT_LT(std::abs(k.secondary_sigma), 3) << "a planet shows no eclipse at phase 0.5 at this precision";
  EXPECT_GT(k.single_ln_bf, 20) << "one TESS transit of WASP-4 b is a clear single event";
  EXPECT_TRUE(k.flags.empty()) << k.flags_text();
}

}  // namespace
}  // namespace tianyu::pipeline::survey
