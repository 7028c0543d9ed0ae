// The gain from the simulator's own flat and bias files (FITS as it writes them: 16-bit, bias
// offset, column pattern, vignetting, pixel response, twilight stars), paired by level as the
// relative_flux step pairs them: within 5 % of the camera's gain the simulator used.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "pipeline/fits_io.h"
#include "pipeline/noise/gain.h"
#include "pipeline/noise/night_noise.h"
#include "pipeline/sim/night.h"

namespace tianyu {
namespace {

namespace fs = std::filesystem;

std::vector<pipeline::Image> read_all(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<pipeline::Image> out;
  for (const auto& f : files) out.push_back(pipeline::read_fits(f).image);
  return out;
}

TEST(SimulatedFlats, GiveTheCamerasGainWithinFivePercent) {
  pipeline::sim::SimConfig c;
  c.frames = 3;
  c.flat_frames = 12;
  c.bias_frames = 2;
  c.satellite_trails = c.cloud_outs = c.double_images = 0;
  c.gain = 1.7;  // not the default, so a default cannot pass by accident
  const fs::path dir = fs::temp_directory_path() / ("sim_flat_gain_" + std::to_string(std::random_device{}()));
  pipeline::sim::simulate_night(c, dir, 1);
  const auto flats = read_all(dir / "calib", "flat_");
  const auto biases = read_all(dir / "calib", "bias_");
  ASSERT_EQ(flats.size(), 12u);
  ASSERT_EQ(biases.size(), 2u);
  const auto pairs = pipeline::pair_flats_by_level(flats);
  ASSERT_GE(pairs.size(), 2u);
  const auto e = pipeline::gain_from_flat_pairs(pairs, {&biases[0], &biases[1]});
  EXPECT_EQ(e.source, pipeline::GainSource::flat_photon_transfer);
  EXPECT_NEAR(e.gain_e_per_adu / c.gain, 1.0, 0.05) << e.detail;
  EXPECT_LT(e.gain_err / e.gain_e_per_adu, 0.05);
  EXPECT_NEAR(e.read_noise_e / c.read_noise_e, 1.0, 0.15) << e.detail;
  fs::remove_all(dir);
}

// Flats are paired with their neighbour in level, never across a step larger than the tolerance.
TEST(SimulatedFlats, ArePairedByLevel) {
  std::vector<pipeline::Image> flats;
  for (const float level : {10000.f, 20000.f, 10500.f, 30000.f, 20600.f}) flats.emplace_back(16, 16, level);
  const auto pairs = pipeline::pair_flats_by_level(flats, 0.1);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].first, &flats[0]);
  EXPECT_EQ(pairs[0].second, &flats[2]);
  EXPECT_EQ(pairs[1].first, &flats[1]);
  EXPECT_EQ(pairs[1].second, &flats[4]);
}

// The curve of growth of a Gaussian: FWHM 3 px holds 1 - exp(-4 ln2 r^2 / FWHM^2) within r.
TEST(CurveOfGrowth, GivesTheGaussiansFwhm) {
  const auto inside = [](double r, double fwhm) { return 1 - std::exp(-4 * std::log(2.0) * r * r / (fwhm * fwhm)); };
  for (const double fwhm : {2.0, 3.0, 4.5}) {
    EXPECT_NEAR(pipeline::gaussian_fwhm_from_fraction(inside(2, fwhm) / inside(8, fwhm), 2, 8), fwhm, 1e-6);
  }
  EXPECT_TRUE(std::isnan(pipeline::gaussian_fwhm_from_fraction(1.2, 2, 8)));
}

}  // namespace
}  // namespace tianyu
