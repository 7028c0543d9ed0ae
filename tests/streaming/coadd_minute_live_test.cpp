// The coadd_minute step on the real services (issue 17, short-exposure mode): a minute of the
// tianyu preset's 0.3-s frames (512 x 512, 174 frames, and two of the next minute) written as
// FITS under a site root and ingested with bias, dark and flat frames; the masters and the
// minutes run by a real tianyu-manager and tianyu-consumer. The known answers: the minute stack
// is the sum of the calibrated frames (with the masters the master steps made), a star's flux in
// it is the sum of its per-frame fluxes from the simulator's truth, one product row per minute
// and no product per short frame; a truncated frame or one of another exposure fails its minute
// at attempt 1 naming the file and the field, leaving no row and no file.
#include <cmath>
#include <cstdio>
#include <limits>

#include "process/flow_fixture.h"
#include "publisher/ingest.h"
#include "streaming/minute_on_disk.h"
#include "support/ingest_test_options.h"

namespace tianyu {
namespace {

using streaming_test::ShortMinute;

class ShortMinuteLive : public ProcessFlow {
 protected:
  // The science frames k (of the simulation) written under raw/<night>/, plus n of each
  // calibration frame, ingested as one observation; returns it and the frame ids by k.
  std::uint64_t write_and_ingest(const std::string& night, const ShortMinute& m, const pipeline::sim::SimConfig& c,
                                 int calibration_frames, const std::map<int, double>& foreign_exptime = {}) {
    const auto dir = root_ / "raw" / night;
    fs::create_directories(dir);
    for (int k = 0; k < m.frames(); ++k) {
      const auto foreign = foreign_exptime.find(k);
      streaming_test::write_short_frame(dir, m, c, k, foreign == foreign_exptime.end() ? 0 : foreign->second);
    }
    if (calibration_frames > 0) streaming_test::write_calibration_frames(dir, m, c, calibration_frames);
    const auto report = publisher::ingest(*c_, test::ingest_options(site_, dir, night, {"TIANYU-MINUTE", 120.0, 30.0}));
    EXPECT_EQ(report.added.at("science"), m.frames());
    EXPECT_TRUE(report.skipped.empty());
    for (int k = 0; k < m.frames(); ++k) {
      const auto path = fs::relative(streaming_test::short_frame_path(dir, k), root_).generic_string();
      frame_ids_[k] = c_->query_one("SELECT frame_id FROM raw_frame WHERE path = ?", {path}).u64(0);
    }
    return report.observation_id;
  }
  ProcessSpec coadd(const std::string& key, std::uint64_t obs, nlohmann::json params,
                    std::vector<publisher::Dependency> deps = {}) {
    auto s = spec(key, "coadd_minute", std::move(deps));
    params["observation_id"] = obs;
    s.params = std::move(params);
    s.observation_id = obs;
    return s;
  }
  ProcessSpec master(const std::string& kind, std::uint64_t obs, std::vector<publisher::Dependency> deps) {
    auto s = spec(kind, kind, std::move(deps));
    s.params = {{"observation_id", obs}};
    s.observation_id = obs;
    return s;
  }
  std::string error_of(std::uint64_t id) {
    return c_->query_one("SELECT COALESCE(error, '') FROM process WHERE process_id = ?", {id}).str(0);
  }
  std::vector<std::string> product_files() {
    std::vector<std::string> out;
    if (!fs::exists(root_ / "products")) return out;
    for (const auto& f : fs::recursive_directory_iterator(root_ / "products")) {
      if (f.is_regular_file()) out.push_back(fs::relative(f.path(), root_).generic_string());
    }
    return out;
  }
  pipeline::Image product_image(std::uint64_t process_id, const char* column) {
    const auto path = c_->query_one(fmt::format("SELECT {} FROM image_product WHERE process_id = ?", column),
                                    {process_id}).str(0);
    return pipeline::read_fits(root_ / path).image;
  }

  std::map<int, std::uint64_t> frame_ids_;
};

// The stack against the sum of the calibrated frames, pixel by pixel where every frame
// calibrated the pixel (exposure map full); returns how many pixels were compared.
std::size_t expect_sum_of_calibrated(const pipeline::Image& stack, const pipeline::Image& exposure,
                                     const streaming_test::KnownSum& known, float full_exposure_s) {
  std::size_t compared = 0, off = 0;
  double worst = 0;
  for (std::size_t i = 0; i < known.sum.pixels.size(); ++i) {
    if (!known.every[i] || std::abs(exposure.pixels[i] - full_exposure_s) > 1e-3f) continue;
    ++compared;
    const double scaled = std::abs(stack.pixels[i] - known.sum.pixels[i]) / (1e-5 * std::abs(known.sum.pixels[i]) + 0.2);
    worst = std::max(worst, scaled);
    off += scaled > 1;
  }
  EXPECT_EQ(off, 0u) << "pixels of the stack that are not the sum of the calibrated frames (worst " << worst << ")";
  return compared;
}

TEST_F(ShortMinuteLive, AMinuteOfShortFramesBecomesOneStackEqualToTheSumOfItsCalibratedFrames) {
  constexpr int kMinute = 174, kSize = 512;
  const auto c = streaming_test::scaled_minute(kSize, kMinute + 2);  // two frames of the next minute
  ShortMinute m(c);
  streaming_test::walk_in_whole_pixels(m);
  const auto obs = write_and_ingest("minute", m, c, 5);
  const auto id = publisher::publish(
      *c_,
      {master("master_bias", obs, {}), master("master_dark", obs, {"master_bias"}),
       master("master_flat", obs, {"master_bias", "master_dark"}),
       coadd("minute0", obs, {{"minute", 0}}, {"master_bias", "master_dark", "master_flat"}),
       coadd("minute1", obs, {{"minute", 1}}, {"master_bias", "master_dark", "master_flat"})},
      ids_);
  start("tianyu-manager");
  start("tianyu-consumer");
  ASSERT_TRUE(settle(240s)) << stuck_report();
  for (const auto& [key, pid] : id) EXPECT_EQ(state_of(pid), "success") << key << ": " << error_of(pid);
  daemons_.clear();
  // A figure for the record (not asserted: the machine is shared): the step's wall time.
  const double seconds = c_->query_one("SELECT TIMESTAMPDIFF(MICROSECOND, started_at, finished_at) / 1e6 "
                                       "FROM process WHERE process_id = ?", {id.at("minute0")}).f64(0);
  std::printf("coadd_minute: %d frames of %dx%d in %.2f s (%.1f Mpix/s through FITS, read, calibrate, register, add)\n",
              kMinute, kSize, kSize, seconds, kMinute * double(kSize) * kSize / seconds / 1e6);

  // One product row per minute, of its frames; none per short frame.
  const auto rows = c_->query("SELECT process_id, frames, frame_id FROM image_product WHERE kind = 'minute_stack' "
                              "ORDER BY frame_id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].u64(0), id.at("minute0"));
  EXPECT_EQ(rows[0].i64(1), kMinute);
  EXPECT_EQ(rows[0].u64(2), frame_ids_.at(0));
  EXPECT_EQ(rows[1].i64(1), 2);
  EXPECT_EQ(rows[1].u64(2), frame_ids_.at(kMinute));
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM image_product").i64(0), 5) << "3 masters + 2 minutes";
  EXPECT_EQ(product_files().size(), 3u + 2u * 3u) << "masters, and each minute's stack, exposure map and catalogue";
  // Each minute's place in time: its frames' mean mid-exposure time and summed exposure.
  const auto minute = c_->query_one(
      "SELECT short_frames, last_frame_id, exptime_s, jd_utc_mid FROM minute_time WHERE frame_id = ?",
      {frame_ids_.at(0)});
  double mean_jd = 0;
  for (int k = 0; k < kMinute; ++k) {
    mean_jd += c_->query_one("SELECT jd_utc_mid FROM raw_frame WHERE frame_id = ?", {frame_ids_.at(k)}).f64(0) / kMinute;
  }
  EXPECT_EQ(minute.i64(0), kMinute);
  EXPECT_EQ(minute.u64(1), frame_ids_.at(kMinute - 1));
  EXPECT_NEAR(minute.f64(2), kMinute * c.exptime_s, 1e-9);
  EXPECT_NEAR((minute.f64(3) - mean_jd) * 86400, 0.0, 1e-3) << "s";
  EXPECT_NEAR((minute.f64(3) - c_->query_one("SELECT jd_utc_mid FROM raw_frame WHERE frame_id = ?",
                                             {frame_ids_.at(0)}).f64(0)) * 86400,
              (kMinute - 1) / 2.0 * 60.0 / 174, 0.01) << "s after the first frame: half the minute";

  // The known answer: the sum of the calibrated frames with the masters the steps made.
  const auto bias = product_image(id.at("master_bias"), "path");
  const auto dark = product_image(id.at("master_dark"), "path");
  const auto flat = product_image(id.at("master_flat"), "path");
  std::vector<fs::path> files;
  std::vector<std::pair<int, int>> shifts;
  for (int k = 0; k < kMinute; ++k) {
    files.push_back(streaming_test::short_frame_path(root_ / "raw" / "minute", k));
    shifts.emplace_back(static_cast<int>(m.true_dx(k)), static_cast<int>(m.true_dy(k)));
  }
  const auto known = streaming_test::sum_of_calibrated(files, shifts, {&bias, &dark, &flat}, c.exptime_s,
                                                       std::numeric_limits<float>::infinity());
  const auto stack = product_image(id.at("minute0"), "path");
  const auto exposure = product_image(id.at("minute0"), "weight_path");
  const auto compared = expect_sum_of_calibrated(stack, exposure, known, static_cast<float>(kMinute * c.exptime_s));
  EXPECT_GT(compared, 0.95 * (kSize - 3) * (kSize - 2));

  // The simulator's truth: a lone bright star's light in the stack is 174 times its per-frame
  // electrons (through the ratio of the true flat to the master flat at the star).
  const auto* star = streaming_test::lone_bright_star(m, 40);
  ASSERT_NE(star, nullptr);
  const int sx = static_cast<int>(std::lround(star->x)), sy = static_cast<int>(std::lround(star->y));
  const double flat_ratio = m.flat().at(sx, sy) / flat.at(sx, sy);
  const double truth = kMinute * star->electrons / c.gain * 0.994 * flat_ratio;  // Moffat beta 3 within 10 px
  const double sky_e = c.sky_e_per_s * c.exptime_s;
  const double sigma = std::sqrt(kMinute * (star->electrons + 314 * (sky_e + c.read_noise_e * c.read_noise_e))) / c.gain;
  const double in_stack = streaming_test::aperture_flux(stack, star->x, star->y, 10);
  EXPECT_NEAR(in_stack, truth, 4 * sigma + 0.01 * truth);
  EXPECT_GT(in_stack, 100 * sigma) << "a real star, not two zeros agreeing";
}

// Several consumers share a minute: three coadd_minute parts on the grid of its first frame,
// run by two consumers, and combine_minute adding them up give the minute one process makes
// of the same frames (published in the same DAG): same pixels, same exposure, same row.
TEST_F(ShortMinuteLive, AMinuteSharedByConsumersEqualsTheMinuteMadeWhole) {
  constexpr int kFrames = 60;
  const auto c = streaming_test::scaled_minute(256, kFrames);
  ShortMinute m(c);
  const auto obs = write_and_ingest("shared", m, c, 5);
  std::vector<std::uint64_t> all;
  for (int k = 0; k < kFrames; ++k) all.push_back(frame_ids_.at(k));
  const auto part = [&](int first, int end) {
    return nlohmann::json{{"frame_ids", std::vector<std::uint64_t>(all.begin() + first, all.begin() + end)},
                          {"grid_frame_id", all.front()}};
  };
  const std::vector<publisher::Dependency> masters{"master_bias", "master_flat"};
  auto combine = spec("combined", "combine_minute", {"part0", "part1", "part2"});
  combine.params = {{"observation_id", obs}, {"frame_ids", all}};
  combine.observation_id = obs;
  const auto id = publisher::publish(
      *c_,
      {master("master_bias", obs, {}), master("master_flat", obs, {"master_bias"}),
       coadd("part0", obs, part(0, 20), masters), coadd("part1", obs, part(20, 40), masters),
       coadd("part2", obs, part(40, 60), masters), combine, coadd("whole", obs, {{"frame_ids", all}}, masters)},
      ids_);
  start("tianyu-manager");
  start("tianyu-consumer");
  start("tianyu-consumer");
  ASSERT_TRUE(settle(240s)) << stuck_report();
  for (const auto& [key, pid] : id) EXPECT_EQ(state_of(pid), "success") << key << ": " << error_of(pid);
  daemons_.clear();
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM image_product WHERE kind = 'minute_part'").i64(0), 3);
  const auto rows = c_->query("SELECT process_id, frames, frame_id, background_rms_adu FROM image_product "
                              "WHERE kind = 'minute_stack' ORDER BY process_id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].i64(1), rows[1].i64(1));
  EXPECT_EQ(rows[0].u64(2), rows[1].u64(2));
  EXPECT_NEAR(rows[0].f64(3) / rows[1].f64(3), 1.0, 1e-3);
  const auto whole = product_image(id.at("whole"), "path"), combined = product_image(id.at("combined"), "path");
  const auto whole_exposure = product_image(id.at("whole"), "weight_path");
  const auto combined_exposure = product_image(id.at("combined"), "weight_path");
  double worst = 0;
  for (std::size_t i = 0; i < whole.pixels.size(); ++i) {
    worst = std::max(worst, std::abs(double(combined.pixels[i]) - whole.pixels[i]) /
                                (1e-5 * std::abs(whole.pixels[i]) + 1e-2));
    ASSERT_FLOAT_EQ(combined_exposure.pixels[i], whole_exposure.pixels[i]) << "pixel " << i;
  }
  EXPECT_LE(worst, 1.0) << "the shared minute differs from the minute made whole";
  EXPECT_EQ(c_->query_one("SELECT short_frames FROM minute_time WHERE frame_id = ?", {all.front()}).i64(0), kFrames);
}

TEST_F(ShortMinuteLive, ATruncatedFrameOrOneOfAnotherExposureFailsItsMinuteAtAttemptOneNamingIt) {
  const auto c = streaming_test::scaled_minute(256, 8);
  ShortMinute m(c);
  const auto obs = write_and_ingest("faults", m, c, 0, {{6, 0.6}});
  const auto truncated = streaming_test::short_frame_path(root_ / "raw" / "faults", 3);
  fs::resize_file(truncated, fs::file_size(truncated) / 2);  // after ingest read its header
  const auto ids = [&](std::initializer_list<int> ks) {
    std::vector<std::uint64_t> out;
    for (const int k : ks) out.push_back(frame_ids_.at(k));
    return out;
  };
  const auto id = publisher::publish(*c_,
                                     {coadd("truncated", obs, {{"frame_ids", ids({0, 1, 2, 3})}}),
                                      coadd("exposure", obs, {{"frame_ids", ids({4, 5, 6, 7})}}),
                                      coadd("good", obs, {{"frame_ids", ids({0, 1, 2})}})},
                                     ids_);
  start("tianyu-manager");
  start("tianyu-consumer");
  ASSERT_TRUE(settle(120s)) << stuck_report();
  daemons_.clear();
  EXPECT_EQ(state_of(id.at("good")), "success") << error_of(id.at("good"));
  for (const char* key : {"truncated", "exposure"}) {
    EXPECT_EQ(state_of(id.at(key)), "failed") << key;
    EXPECT_EQ(attempt_of(id.at(key)), 1) << key << ": bad input is never retried";
  }
  const auto truncated_error = error_of(id.at("truncated"));
  EXPECT_NE(truncated_error.find("raw/faults/short_0003.fits: FITS data"), std::string::npos) << truncated_error;
  const auto exposure_error = error_of(id.at("exposure"));
  std::printf("truncated: %s\nexposure: %s\n", truncated_error.c_str(), exposure_error.c_str());
  EXPECT_NE(exposure_error.find("raw/faults/short_0006.fits: exptime_s: 0.600000 s, the minute's frames are 0.300000 s"),
            std::string::npos) << exposure_error;
  // Only the good minute left a row and files.
  const auto rows = c_->query("SELECT process_id FROM image_product");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].u64(0), id.at("good"));
  const auto files = product_files();
  EXPECT_EQ(files.size(), 3u);
  for (const auto& f : files) {
    EXPECT_NE(f.find(fmt::format(".p{}a1.", id.at("good"))), std::string::npos) << f << " was left by a failed minute";
  }
}

}  // namespace
}  // namespace tianyu
