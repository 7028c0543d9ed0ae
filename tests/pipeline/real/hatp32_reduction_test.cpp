// The real HAT-P-32 night (../shared/data/hatp32, never committed): every frame aligned to the
// first, checked on three known stars, and the quality selection of the night. Skips when the
// data folder is absent.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <stdexcept>

#include <gtest/gtest.h>

#include "pipeline/alignment/align.h"
#include "pipeline/calibration/calibrate.h"
#include "pipeline/detection/extract.h"
#include "pipeline/fits_io.h"
#include "pipeline/selection/quality.h"

namespace tianyu::pipeline {
namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(TIANYU_SOURCE_DIR) / ".." / "shared" / "data" / "hatp32";

struct Reduced {
  std::string file;
  std::vector<Source> sources;
  double background_rms = 0;
};

// The night calibrated and extracted once for every test here (9 s of gz decoding and SEP).
const std::vector<Reduced>& night() {
  static const std::vector<Reduced> frames = [] {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(kData)) {
      if (e.path().filename().string().ends_with(".FITS.gz")) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    CalibrationOptions options;
    options.saturation_adu = 4095;  // the 12-bit ADC: hot pixels sit there
    std::vector<Reduced> out;
    for (const auto& f : files) {
      const auto raw = read_fits(f);
      if (raw.image.width != 650 || raw.image.height != 500) throw std::runtime_error(f.string() + ": not 650 x 500");
      const auto cal = calibrate(raw.image, 60.0, {}, options);
      out.push_back({f.filename().string(), extract_sources(cal.image, &cal.mask, cal.background_rms),
                     cal.background_rms});
    }
    return out;
  }();
  return frames;
}

TEST(HatP32, AlignsEveryFrameToTheFirst) {
  if (!fs::is_directory(kData)) GTEST_SKIP() << kData << " is absent: the real-data check is skipped";
  const auto& frames = night();
  ASSERT_EQ(frames.size(), 142u);
  // Alignment: every frame to the first.
  std::vector<FrameTransform> transforms;
  std::vector<double> dx, dy;
  for (const auto& f : frames) {
    const auto r = align_to_reference(frames.front().sources, f.sources);
    ASSERT_TRUE(r.aligned) << f.file << ": " << r.reason;
    transforms.push_back(r.transform);
    const auto [cx, cy] = r.transform.apply(325, 250);  // the drift of the frame centre
    dx.push_back(cx - 325);
    dy.push_back(cy - 250);
  }
  // The field drifts ~250 px in x and ~60 px in y over the night.
  const double drift_x = *std::min_element(dx.begin(), dx.end());
  const double drift_y = *std::max_element(dy.begin(), dy.end());
  EXPECT_NEAR(std::abs(drift_x), 250, 40);
  EXPECT_NEAR(std::abs(drift_y), 60, 25);
  // Each transform is right: the target and two comparison stars (positions in the first frame
  // from a public reduction) are found where it predicts, frame after frame, to 0.3 px. (The
  // track itself is not smooth: the mount corrects in steps of up to ~13 px. A translation
  // alone left 1.2 px late in the night: the field rotates by 0.57 degrees.)
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
    for (const auto& [x, y] : stars) {
      const auto [px, py] = transforms[k].apply(x, y);
      const auto [s, d] = nearest(f.sources, px, py);
      EXPECT_LT(d, 0.3) << f.file << ": star of (" << x << ", " << y << ") not where the offset puts it";
    }
    ++k;
  }
}

// The whole night through alignment and selection. The data's README expects the last ~10
// frames (after 07:55 UT) to be lost to clouds; measured here they are not: every one aligns
// with ~145 matched stars at 0.06 px, and their transparency (0.91-0.94 of the first frame)
// follows the airmass (1.1 -> 1.9; 0.15 mag/airmass of extinction gives 0.89). The target
// and both comparison stars keep their fluxes. So the selection keeps them, and this test
// says so, rather than inventing a rule that would throw good frames away.
TEST(HatP32, SelectionKeepsTheClearNightAndFollowsTheFieldRotation) {
  if (!fs::is_directory(kData)) GTEST_SKIP() << kData << " is absent: the real-data check is skipped";
  const auto& frames = night();
  std::vector<FrameQuality> quality;
  std::vector<AlignResult> alignments;
  for (const auto& f : frames) {
    alignments.push_back(align_to_reference(frames.front().sources, f.sources));
    const auto& a = alignments.back();
    quality.push_back({static_cast<int>(f.sources.size()), f.background_rms, a.aligned, a.reason,
                       a.transparency, longest_trail(f.sources)});
  }
  const auto verdicts = select_frames(quality);
  int rejected = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    ASSERT_TRUE(alignments[i].aligned) << frames[i].file << ": " << alignments[i].reason;
    EXPECT_LT(alignments[i].rms_px, 0.1) << frames[i].file;
    if (!verdicts[i].good) {
      ++rejected;
      std::cout << "rejected " << frames[i].file << ": " << verdicts[i].reason << "\n";
    }
  }
  EXPECT_LE(rejected, 3) << "a clear night: only the odd frame should go";
  for (std::size_t i = frames.size() - 10; i < frames.size(); ++i) {
    EXPECT_GT(alignments[i].transparency, 0.88) << frames[i].file;
    EXPECT_GT(alignments[i].matched, 120) << frames[i].file;
  }
  // The field rotates steadily through the night (an equatorial mount off the pole, or a
  // de-rotator that is not running): about -0.57 degrees by the last frame.
  EXPECT_NEAR(alignments.back().transform.rotation_deg(), -0.57, 0.05);
  EXPECT_NEAR(alignments.back().transform.scale(), 1.0, 1e-3);
}

}  // namespace
}  // namespace tianyu::pipeline
