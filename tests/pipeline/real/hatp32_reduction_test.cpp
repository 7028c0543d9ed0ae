// The real HAT-P-32 night (../shared/data/hatp32, never committed): every clear frame aligned
// to the first, checked on three known stars. Skips when the data folder is absent.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "pipeline/alignment/align.h"
#include "pipeline/calibration/calibrate.h"
#include "pipeline/detection/extract.h"
#include "pipeline/fits_io.h"

namespace tianyu::pipeline {
namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(TIANYU_SOURCE_DIR) / ".." / "shared" / "data" / "hatp32";

struct Reduced {
  std::string file;
  int hhmmss;
  std::vector<Source> sources;
};

TEST(HatP32, AlignsEveryClearFrameToTheFirst) {
  if (!fs::is_directory(kData)) GTEST_SKIP() << kData << " is absent: the real-data check is skipped";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(kData)) {
    if (e.path().filename().string().ends_with(".FITS.gz")) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 142u);
  CalibrationOptions options;
  options.saturation_adu = 4095;  // the 12-bit ADC: hot pixels sit there
  std::vector<Reduced> frames;
  for (const auto& f : files) {
    const auto raw = read_fits(f);
    ASSERT_EQ(raw.image.width, 650) << f;
    const auto cal = calibrate(raw.image, 60.0, {}, options);
    Reduced r;
    r.file = f.filename().string();
    r.hhmmss = std::stoi(r.file.substr(13, 6));
    r.sources = extract_sources(cal.image, &cal.mask, cal.background_rms);
    frames.push_back(std::move(r));
  }
  // Alignment: every clear frame (before 07:55 UT) to the first.
  std::vector<double> dx, dy;
  for (const auto& f : frames) {
    if (f.hhmmss >= 75500) continue;
    const auto r = align_to_reference(frames.front().sources, f.sources);
    ASSERT_TRUE(r.aligned) << f.file << ": " << r.reason;
    dx.push_back(r.dx);
    dy.push_back(r.dy);
  }
  EXPECT_GT(dx.size(), 125u);
  // The field drifts ~250 px in x and ~60 px in y over the night.
  const double drift_x = *std::min_element(dx.begin(), dx.end());
  const double drift_y = *std::max_element(dy.begin(), dy.end());
  EXPECT_NEAR(std::abs(drift_x), 250, 40);
  EXPECT_NEAR(std::abs(drift_y), 60, 25);
  // Each offset is right: the target and two comparison stars (positions in the first frame
  // from a public reduction) are found where the offset predicts, frame after frame. (The track
  // itself is not smooth: the mount corrects in steps of up to ~13 px.) Within 1.5 px, not 0.1:
  // late in the night the residuals of individual stars reach 1.2 px, as a small field rotation
  // would give over 250 px of drift; alignment is translation-only so far.
  auto nearest = [](const std::vector<Source>& sources, double x, double y) {
    const Source* best = nullptr;
    double d = 1e9;
    for (const auto& s : sources) {
      if (std::hypot(s.x - x, s.y - y) < d) { d = std::hypot(s.x - x, s.y - y); best = &s; }
    }
    return std::pair{best, d};
  };
  std::vector<std::pair<double, double>> stars;
  for (const auto& [x, y] : std::vector<std::pair<double, double>>{{423, 286}, {464, 182}, {513, 261}}) {
    const auto [s, d] = nearest(frames.front().sources, x, y);
    ASSERT_LT(d, 3.0) << "no source near (" << x << ", " << y << ") in the first frame";
    stars.emplace_back(s->x, s->y);
  }
  std::size_t k = 0;
  for (const auto& f : frames) {
    if (f.hhmmss >= 75500) continue;
    for (const auto& [x, y] : stars) {
      const auto [s, d] = nearest(f.sources, x + dx[k], y + dy[k]);
      EXPECT_LT(d, 1.5) << f.file << ": star of (" << x << ", " << y << ") not where the offset puts it";
    }
    ++k;
  }
  // Known gap: the published two rules (star count, background RMS) do not reject the last
  // frames here: this wide field keeps ~870 detections and the RMS moves by 3 %. The selection
  // of those frames needs another rule (see the closing note of this increment).
}

}  // namespace
}  // namespace tianyu::pipeline
