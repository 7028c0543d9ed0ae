// Alignment against exact shifts and against the simulator's true offsets.
#include "pipeline/alignment/align.h"

#include <cmath>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "pipeline/calibration/calibrate.h"
#include "pipeline/fits_io.h"
#include "pipeline/sim/night.h"
#include "support/sim_truth.h"

namespace tianyu::pipeline {
namespace {

namespace fs = std::filesystem;

std::vector<Source> random_field(int n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> pos(0, 1000), flux(100, 10000);
  std::vector<Source> out(n);
  for (auto& s : out) {
    s.x = pos(rng);
    s.y = pos(rng);
    s.flux = flux(rng);
  }
  std::sort(out.begin(), out.end(), [](const Source& a, const Source& b) { return a.flux > b.flux; });
  return out;
}

std::vector<Source> shifted(const std::vector<Source>& ref, double dx, double dy, double noise,
                            std::mt19937_64& rng) {
  std::normal_distribution<double> n01;
  std::bernoulli_distribution lost(0.2);
  std::vector<Source> out;
  for (const auto& s : ref) {
    if (lost(rng)) continue;  // fell off the frame, or under a cloud
    Source t = s;
    t.x += dx + noise * n01(rng);
    t.y += dy + noise * n01(rng);
    out.push_back(t);
  }
  for (const auto& spurious : random_field(20, rng)) out.push_back(spurious);  // cosmic rays, noise
  return out;
}

TEST(Align, IntegerVotingIsExactOnIntegerShifts) {
  std::mt19937_64 rng(1);
  const auto ref = random_field(200, rng);
  for (const auto& [dx, dy] : std::vector<std::pair<int, int>>{{37, -12}, {0, 0}, {-250, 3}, {1, 1}}) {
    const auto r = align_to_reference(ref, shifted(ref, dx, dy, 0.0, rng));
    ASSERT_TRUE(r.aligned) << r.reason;
    EXPECT_EQ(r.dx_integer, dx);
    EXPECT_EQ(r.dy_integer, dy);
    EXPECT_TRUE(r.transform.is_translation()) << "no rotation in an exact shift";
    EXPECT_NEAR(r.transform.dx, dx, 1e-9);
    EXPECT_NEAR(r.transform.dy, dy, 1e-9);
    EXPECT_NEAR(r.transparency, 1.0, 1e-12);
  }
}

// Two offsets with the same number of votes: the shorter wins, and between offsets of the same
// length the one that reached that number first (the published rule, kept by the flat table).
TEST(Align, TiedVotesGoToTheShorterOffsetThenToTheFirst) {
  std::mt19937_64 rng(5);
  const auto ref = random_field(12, rng);
  const auto frame_of = [&](std::pair<int, int> first, std::pair<int, int> second) {
    std::vector<Source> frame;
    for (std::size_t i = 0; i < ref.size(); ++i) {
      const auto [dx, dy] = i < ref.size() / 2 ? first : second;
      Source s = ref[i];
      s.x += dx;
      s.y += dy;
      frame.push_back(s);
    }
    return frame;
  };
  const auto offset = [&](const std::vector<Source>& frame) {
    const auto r = align_to_reference(ref, frame);
    return std::pair{r.dx_integer, r.dy_integer};
  };
  EXPECT_EQ(offset(frame_of({3, 4}, {5, 0})), std::pair(3, 4));
  EXPECT_EQ(offset(frame_of({5, 0}, {3, 4})), std::pair(5, 0));
  EXPECT_EQ(offset(frame_of({6, 0}, {0, -5})), std::pair(0, -5));
  EXPECT_EQ(offset(frame_of({0, -5}, {6, 0})), std::pair(0, -5));
  EXPECT_EQ(align_to_reference(ref, frame_of({3, 4}, {5, 0})).votes, 6);
}

TEST(Align, RefinesToSubPixel) {
  std::mt19937_64 rng(2);
  const auto ref = random_field(150, rng);
  const auto r = align_to_reference(ref, shifted(ref, 12.37, -4.81, 0.05, rng));
  ASSERT_TRUE(r.aligned) << r.reason;
  EXPECT_TRUE(r.transform.is_translation()) << "rotation " << r.transform.rotation_deg() << " deg fitted to noise";
  EXPECT_NEAR(r.transform.dx, 12.37, 0.02);
  EXPECT_NEAR(r.transform.dy, -4.81, 0.02);
  EXPECT_NEAR(r.rms_px, 0.05, 0.015);
}

// Field rotation of 0.3 degrees about the frame centre of a 1000-px field moves the corners by
// 3.7 px: a translation leaves metres of residual there; the affine fit recovers the rotation
// and puts every star within its noise.
TEST(Align, FitsAFieldRotation) {
  std::mt19937_64 rng(4);
  const auto ref = random_field(250, rng);
  const double angle = 0.3 * 3.14159265358979323846 / 180, c = std::cos(angle), s = std::sin(angle);
  const FrameTransform truth{-150.0 + 500 - (c * 500 - s * 500), 40.0 + 500 - (s * 500 + c * 500), c, -s, s, c};
  std::normal_distribution<double> n01;
  std::vector<Source> frame;
  for (const auto& star : ref) {
    Source t = star;
    std::tie(t.x, t.y) = truth.apply(star.x, star.y);
    t.x += 0.05 * n01(rng);
    t.y += 0.05 * n01(rng);
    t.flux *= 0.9;
    frame.push_back(t);
  }
  const auto r = align_to_reference(ref, frame);
  ASSERT_TRUE(r.aligned) << r.reason;
  EXPECT_FALSE(r.transform.is_translation());
  EXPECT_NEAR(r.transform.rotation_deg(), 0.3, 0.005);
  EXPECT_NEAR(r.transform.scale(), 1.0, 1e-4);
  EXPECT_GT(r.matched, 240);
  EXPECT_NEAR(r.rms_px, 0.05, 0.01);
  EXPECT_NEAR(r.transparency, 0.9, 1e-9);
  for (const auto& [x, y] : std::vector<std::pair<double, double>>{{0, 0}, {1000, 1000}, {0, 1000}, {500, 500}}) {
    const auto [ex, ey] = truth.apply(x, y);
    const auto [fx, fy] = r.transform.apply(x, y);
    EXPECT_LT(std::hypot(fx - ex, fy - ey), 0.05) << "at (" << x << ", " << y << ")";
  }
}

TEST(Align, AFrameWithoutEnoughStarsIsNotGivenOffsetZero) {
  std::mt19937_64 rng(3);
  const auto ref = random_field(100, rng);
  const std::vector<Source> few(ref.begin(), ref.begin() + 3);
  const auto r = align_to_reference(ref, few);
  EXPECT_FALSE(r.aligned);
  EXPECT_NE(r.reason.find("too few sources"), std::string::npos) << r.reason;
  // Plenty of sources, none of them the reference's: no offset gathers enough pairs.
  const auto r2 = align_to_reference(ref, random_field(100, rng));
  EXPECT_FALSE(r2.aligned) << "dx " << r2.transform.dx << " dy " << r2.transform.dy << " matched " << r2.matched;
}

struct TruthFrame {
  std::string file;
  double dx, dy;
  bool bad;
};

std::vector<TruthFrame> truth_frames(const fs::path& dir) {
  std::vector<TruthFrame> out;
  for (const auto& row : test::read_csv(dir / "truth" / "frames.csv")) {
    out.push_back({row.at("file"), std::stod(row.at("dx")), std::stod(row.at("dy")), row.at("bad") == "1"});
  }
  return out;
}

std::vector<Source> sources_of(const fs::path& file) {
  const auto raw = read_fits(file);
  const auto calibrated = calibrate(raw.image, 10.0, {});
  return extract_sources(calibrated.image, &calibrated.mask, calibrated.background_rms);
}

// Aligns every good frame of a simulated night to its first; returns the RMS error (px) of the
// fitted transform over a 3x3 grid of points spanning the frame.
double alignment_error(const sim::SimConfig& config, const std::string& name) {
  const auto dir = fs::temp_directory_path() / ("align_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  sim::simulate_night(config, dir, 2);
  const auto frames = truth_frames(dir);
  const auto reference = sources_of(dir / "raw" / frames.front().file);
  double ss = 0;
  int n = 0;
  for (const auto& f : frames) {
    if (f.bad) continue;
    const auto r = align_to_reference(reference, sources_of(dir / "raw" / f.file));
    EXPECT_TRUE(r.aligned) << f.file << ": " << r.reason;
    // The error over the field: the truth is a pure shift, the fit may have tilted a little.
    for (const double x : {0.0, config.width / 2.0, double(config.width)}) {
      for (const double y : {0.0, config.height / 2.0, double(config.height)}) {
        const auto [fx, fy] = r.transform.apply(x, y);
        const double ex = fx - (x + f.dx), ey = fy - (y + f.dy);
        if (std::hypot(ex, ey) > 0.2) ADD_FAILURE() << f.file << " at (" << x << ", " << y << ") off by " << ex << "," << ey << " (int " << r.dx_integer << "," << r.dy_integer << ", votes " << r.votes << ", matched " << r.matched << ")";
        ss += ex * ex + ey * ey;
        n += 2;
      }
    }
  }
  fs::remove_all(dir);
  return std::sqrt(ss / n);
}

TEST(Align, RecoversTheSimulatorsOffsetsOnTheDefaultNight) {
  sim::SimConfig c;
  c.width = c.height = 384;
  c.frames = 24;
  c.stars = 250;
  c.bias_frames = c.flat_frames = 0;
  EXPECT_LE(alignment_error(c, "default"), 0.05);
}

TEST(Align, RecoversThreeHundredPixelsOfDrift) {
  sim::SimConfig c;
  c.width = c.height = 512;
  c.frames = 4;
  c.stars = 600;
  c.drift_x_px = 100.0;
  c.drift_y_px = -40.0;
  c.bias_frames = c.flat_frames = 0;
  c.satellite_trails = c.cloud_outs = c.double_images = 0;
  EXPECT_LE(alignment_error(c, "drift"), 0.05);
}

}  // namespace
}  // namespace tianyu::pipeline
