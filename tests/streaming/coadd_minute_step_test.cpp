// The coadd_minute adapter without live services: which frames make a minute (pure), and the
// step itself over the in-memory observation store with a minute of short frames on disk.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "consumer/steps/coadd_minute.h"
#include "consumer/steps/observation_io.h"
#include "consumer/steps/step_test_fixture.h"
#include "streaming/minute_on_disk.h"

namespace tianyu::consumer::steps {
namespace {

namespace fs = std::filesystem;
namespace sim = pipeline::sim;
using streaming_test::ShortMinute;

// ---- the pure part

// Mid-exposure JDs of frames at the tianyu cadence (60 s / 174) from an arbitrary start.
std::vector<FrameTime> cadence(int n, std::uint64_t first_id = 100) {
  const double jd0 = 2461101.0833333335, step_s = 60.0 / 174;
  std::vector<FrameTime> out;
  for (int k = 0; k < n; ++k) out.push_back({first_id + k, jd0 + (k * step_s + 0.15) / 86400.0});
  return out;
}

TEST(FramesOfMinute, AMinuteIs174FramesAndTheFrameOnTheBoundaryStartsTheNext) {
  auto frames = cadence(400);
  std::reverse(frames.begin(), frames.end());  // the order of the rows does not matter
  const auto m0 = frames_of_minute(frames, 0);
  ASSERT_EQ(m0.size(), 174u);
  EXPECT_EQ(m0.front(), 100u);
  EXPECT_EQ(m0.back(), 273u);
  const auto m1 = frames_of_minute(frames, 1);
  ASSERT_EQ(m1.size(), 174u);
  EXPECT_EQ(m1.front(), 274u) << "frame 174 starts exactly 60 s after frame 0";
  const auto m2 = frames_of_minute(frames, 2);
  EXPECT_EQ(m2.size(), 400u - 348u);
  EXPECT_TRUE(frames_of_minute(frames, 3).empty());
  EXPECT_TRUE(frames_of_minute({}, 0).empty());
}

TEST(RequestedFrames, AreReturnedInTimeOrderAndAForeignOrRepeatedFrameIsNamed) {
  const std::vector<RawFrame> science = {{7, "raw/a.fits", 8, 8}, {3, "raw/b.fits", 8, 8}, {9, "raw/c.fits", 8, 8}};
  const auto got = requested_frames(science, {9, 7}, 1);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].frame_id, 7u);
  EXPECT_EQ(got[1].frame_id, 9u);
  try {
    requested_frames(science, {7, 4}, 1);
    FAIL() << "frame 4 is not one of the observation's";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'frame_ids': frame 4 is not a science frame of observation 1"),
              std::string::npos) << e.what();
  }
  EXPECT_THROW(requested_frames(science, {7, 7}, 1), InputError);
}

// ---- the adapter over the in-memory store

class CoaddMinuteStep : public test::StepTest {
 protected:
  static constexpr std::uint64_t kObs = 1, kProcess = 50;

  // A 256^2 minute of n frames on disk, frame ids 1..n, and the camera's true masters as the
  // master products of process kProcess's dependencies.
  void make_minute(int n) {
    config_ = streaming_test::scaled_minute(256, n);
    minute_ = std::make_unique<ShortMinute>(config_);
    streaming_test::walk_in_whole_pixels(*minute_);
    for (int k = 0; k < n; ++k) {
      std::vector<std::uint16_t> adu;
      minute_->render(k, adu);
      add_raw(kObs, k + 1, streaming_test::as_image(adu, 256, 256), 2461101.0 + k * 4e-6,
              {config_.exptime_s, 1.2, 3.0, 65000.0});
      ids_.push_back(k + 1);
    }
    const std::pair<const char*, const pipeline::Image*> masters[] = {
        {"master_bias", &minute_->bias()}, {"master_dark", &minute_->dark_rate()}, {"master_flat", &minute_->flat()}};
    for (const auto& [kind, image] : masters) {
      const std::string path = std::string("masters/") + kind + ".fits";
      fs::create_directories(root_ / "masters");
      pipeline::write_fits(root_ / path, *image, {});
      ImageProduct p;
      p.path = path;
      db_.dependencies[kProcess].push_back({kind, p});
    }
  }
  std::string error_of_run(const nlohmann::json& params) {
    try {
      run("coadd_minute", kProcess, params);
    } catch (const std::exception& e) {
      EXPECT_FALSE(retry_can_help(e)) << "bad input is never retried: " << e.what();
      return e.what();
    }
    return "(no error)";
  }
  std::vector<fs::path> product_files() const {
    std::vector<fs::path> out;
    if (!fs::exists(root_ / "products")) return out;
    for (const auto& f : fs::recursive_directory_iterator(root_ / "products")) {
      if (f.is_regular_file()) out.push_back(f.path());
    }
    return out;
  }

  sim::SimConfig config_;
  std::unique_ptr<ShortMinute> minute_;
  std::vector<std::uint64_t> ids_;
};

TEST_F(CoaddMinuteStep, TheMinuteIsOneProductEqualToTheSumOfItsCalibratedFrames) {
  constexpr int kFrames = 12;
  make_minute(kFrames);
  std::vector<std::uint64_t> shuffled(ids_.rbegin(), ids_.rend());  // any order: time order is used
  const auto ctx = run("coadd_minute", kProcess, {{"observation_id", kObs}, {"frame_ids", shuffled}, {"threads", 2}});
  ASSERT_EQ(db_.image_products.size(), 1u);
  const auto& record = db_.image_products.front();
  EXPECT_EQ(record.kind, "minute_stack");
  EXPECT_EQ(record.product.frames, kFrames);
  EXPECT_EQ(record.product.frame_id, std::optional<std::uint64_t>(1));
  EXPECT_EQ(ctx.written.size(), 3u);
  EXPECT_EQ(product_files().size(), 3u) << "the stack, its exposure map and its catalogue, nothing per short frame";
  // The minute stands for itself in the night under its first frame, with all its frames.
  ASSERT_EQ(db_.minutes.size(), 1u);
  EXPECT_EQ(db_.minutes.front().frame_id, 1u);
  EXPECT_EQ(db_.minutes.front().frame_ids, ids_) << "its frames in time order";
  // Its catalogue (the alignment's input) holds the brightest star where the simulator put it.
  const pipeline::streaming::MinuteStar* star = nullptr;
  for (const auto& s : minute_->stars()) {
    const bool inside = s.x > 20 && s.x < 236 && s.y > 20 && s.y < 236;
    if (inside && (!star || s.electrons > star->electrons)) star = &s;
  }
  ASSERT_NE(star, nullptr);
  const auto catalogue = read_catalog(root_ / record.product.catalog_path);
  ASSERT_FALSE(catalogue.empty());
  double nearest = 1e9;
  for (const auto& s : catalogue) nearest = std::min(nearest, std::hypot(s.x - star->x, s.y - star->y));
  EXPECT_LT(nearest, 0.3) << "px from the simulator's position";
  // The sky noise of a sum of 12 frames: sqrt(12 (sky + read^2)) electrons, in ADU.
  const double sky_e = config_.sky_e_per_s * config_.exptime_s;
  const double expected_rms =
      std::sqrt(kFrames * (sky_e + config_.read_noise_e * config_.read_noise_e)) / config_.gain;
  EXPECT_NEAR(record.product.background_rms / expected_rms, 1.0, 0.15);

  const auto stack = pipeline::read_fits(root_ / record.product.path);
  const auto exposure = pipeline::read_fits(root_ / record.product.weight_path).image;
  EXPECT_EQ(stack.header.at("NCOMBINE"), "12");
  std::vector<fs::path> files;
  std::vector<std::pair<int, int>> shifts;
  for (int k = 0; k < kFrames; ++k) {
    files.push_back(root_ / ("raw/f" + std::to_string(k + 1) + ".fits"));
    shifts.emplace_back(static_cast<int>(minute_->true_dx(k)), static_cast<int>(minute_->true_dy(k)));
  }
  const pipeline::Masters masters{&minute_->bias(), &minute_->dark_rate(), &minute_->flat()};
  const auto known = streaming_test::sum_of_calibrated(files, shifts, masters, config_.exptime_s,
                                                       std::numeric_limits<float>::infinity());
  const float full = static_cast<float>(kFrames * config_.exptime_s);
  std::size_t compared = 0;
  double worst = 0;
  for (std::size_t i = 0; i < known.sum.pixels.size(); ++i) {
    if (!known.every[i] || std::abs(exposure.pixels[i] - full) > 1e-4f) continue;
    ++compared;
    worst = std::max(worst, std::abs(stack.image.pixels[i] - known.sum.pixels[i]) /
                                (1e-5 * std::abs(known.sum.pixels[i]) + 0.05));
  }
  EXPECT_GT(compared, 0.95 * 253 * 254) << "the frames shifted by up to (3, -2) px cover the rest";
  EXPECT_LE(worst, 1.0) << "the stack differs from the sum of the calibrated frames";
}

TEST_F(CoaddMinuteStep, ATruncatedFrameFailsTheMinuteNamingItAndWritesNothing) {
  make_minute(6);
  const auto victim = root_ / "raw/f4.fits";
  fs::resize_file(victim, fs::file_size(victim) / 2);
  const auto error = error_of_run({{"observation_id", kObs}, {"frame_ids", ids_}});
  EXPECT_NE(error.find("raw/f4.fits: FITS data"), std::string::npos) << error;
  EXPECT_TRUE(db_.image_products.empty());
  EXPECT_TRUE(product_files().empty());
}

TEST_F(CoaddMinuteStep, AFrameOfAnotherExposureTimeIsNamedWithTheField) {
  make_minute(5);
  db_.frames[3].calibration.exptime_s = 0.6;
  const auto error = error_of_run({{"observation_id", kObs}, {"frame_ids", ids_}});
  EXPECT_NE(error.find("raw/f3.fits: exptime_s: 0.600000 s"), std::string::npos) << error;
  EXPECT_TRUE(db_.image_products.empty());
}

TEST_F(CoaddMinuteStep, NotANumberInAFrameIsNamedWithThePixel) {
  make_minute(4);
  auto image = pipeline::read_fits(root_ / "raw/f2.fits").image;
  image.at(17, 9) = std::numeric_limits<float>::quiet_NaN();
  pipeline::write_fits(root_ / "raw/f2.fits", image, {});
  const auto error = error_of_run({{"observation_id", kObs}, {"frame_ids", ids_}});
  EXPECT_NE(error.find("raw/f2.fits: pixels: not a number at pixel (17, 9)"), std::string::npos) << error;
}

TEST_F(CoaddMinuteStep, AFrameOfAnotherSizeIsNamed) {
  make_minute(4);
  add_raw(kObs, 99, pipeline::Image(128, 256, 300.0f), 2461101.0 + 5e-5,
          {config_.exptime_s, std::nullopt, std::nullopt, std::nullopt});
  const auto error = error_of_run({{"observation_id", kObs}, {"frame_ids", {1, 2, 99}}});
  EXPECT_NE(error.find("raw/f99.fits: width: the raw_frame row says 128 x 256"), std::string::npos) << error;
}

TEST_F(CoaddMinuteStep, TheMinuteIsNamedByFramesOrByIndexNotBoth) {
  make_minute(2);
  const auto error = error_of_run({{"observation_id", kObs}, {"frame_ids", ids_}, {"minute", 0}});
  EXPECT_NE(error.find("exactly one of the parameters 'frame_ids' and 'minute'"), std::string::npos) << error;
  EXPECT_NE(error_of_run({{"observation_id", kObs}}).find("exactly one"), std::string::npos);
}

}  // namespace
}  // namespace tianyu::consumer::steps
