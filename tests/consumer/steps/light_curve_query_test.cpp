// read_light_curves against the light_curve view it stands for: the same points, each source's
// in time order, on a live scratch database (frames whose ids are not in time order, a minute's
// time, flagged and non-positive points, a frame of another observation, one with no row).
#include "consumer/steps/light_curve_query.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/errors.h"
#include "publisher/publisher.h"
#include "support/live_scratch_db.h"

namespace tianyu::consumer::steps {
namespace {

constexpr int kFrames = 9;

class LiveLightCurves : public test::LiveScratchDb {
 protected:
  void SetUp() override {
    LiveScratchDb::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    publisher::ensure_site(*c_, "lab", "/tmp/light_curve_query_test");
    c_->execute("INSERT INTO target (name) VALUES ('T')");
    for (const char* name : {"n1", "n2"}) {
      c_->execute("INSERT INTO observation (site_id, target_id, name) SELECT s.site_id, t.target_id, ? "
                  "FROM site s, target t WHERE s.name = 'lab'",
                  {std::string(name)});
    }
    observation_ = c_->query_one("SELECT observation_id FROM observation WHERE name = 'n1'").u64(0);
    const auto other = c_->query_one("SELECT observation_id FROM observation WHERE name = 'n2'").u64(0);
    // Times out of the frames' order (4i mod 9), as frames ingested from two folders are.
    for (int i = 0; i < kFrames; ++i) {
      add_frame(observation_, "raw/a" + std::to_string(i) + ".fits", 2460000.5 + ((4 * i) % kFrames) * 0.01);
    }
    add_frame(other, "raw/b0.fits", 2460000.555);  // a frame the first night's rows point at
    const auto first = c_->query_one("SELECT MIN(frame_id) FROM raw_frame").u64(0);
    // The third frame stands for a minute whose mean time is not its own.
    c_->execute("INSERT INTO minute_time (frame_id, observation_id, process_id, short_frames, last_frame_id, "
                "bjd_tdb_mid) VALUES (?, ?, 1, 3, ?, 2460000.5449)",
                {first + 2, observation_, first + 2});
    for (std::uint64_t source : {3, 5, 8}) {
      c_->execute("INSERT INTO relative_flux (observation_id, source_id, frame_id, rel_flux, rel_flux_err, flags) "
                  "SELECT ?, ?, frame_id, 1 + 0.001 * ((frame_id * ?) % 7), 0.001 * ?, 0 FROM raw_frame",
                  {observation_, source, source, source});
    }
    // Left out by the view's conditions, and a point whose frame has no raw_frame row.
    c_->execute("UPDATE relative_flux SET flags = 2 WHERE source_id = 3 AND frame_id = ?", {first + 1});
    c_->execute("UPDATE relative_flux SET rel_flux = NULL WHERE source_id = 5 AND frame_id = ?", {first + 4});
    c_->execute("UPDATE relative_flux SET rel_flux = -0.5 WHERE source_id = 8 AND frame_id = ?", {first + 6});
    c_->execute("INSERT INTO relative_flux VALUES (?, 5, ?, 1.0, 0.001, 0)", {observation_, first + 1000});
  }

  void add_frame(std::uint64_t observation, const std::string& path, double bjd) {
    c_->execute("INSERT INTO raw_frame (observation_id, site_id, path, kind, width, height, jd_utc_mid, bjd_tdb_mid) "
                "SELECT ?, site_id, ?, 'science', 64, 64, ?, ? FROM site WHERE name = 'lab'",
                {observation, path, bjd, bjd});
  }

  std::uint64_t observation_ = 0;
};

TEST_F(LiveLightCurves, ReadsWhatTheViewGivesInTimeOrder) {
  const auto curves = read_light_curves(*c_, observation_);
  const auto view = c_->query(
      "SELECT source_id, bjd_tdb, rel_flux, rel_flux_err FROM light_curve WHERE observation_id = ? AND flags = 0 "
      "AND rel_flux IS NOT NULL AND rel_flux > 0 ORDER BY source_id, bjd_tdb",
      {observation_});
  ASSERT_EQ(curves.size(), 3u);
  std::size_t row = 0;
  for (const auto& c : curves) {
    ASSERT_EQ(c.curve.time.size(), kFrames);  // nine frames and the other night's, less one each
    for (std::size_t i = 0; i < c.curve.time.size(); ++i, ++row) {
      ASSERT_LT(row, view.size());
      EXPECT_EQ(c.source_id, view[row].u64(0));
      EXPECT_EQ(c.curve.time[i], view[row].f64(1)) << "source " << c.source_id << " point " << i;
      EXPECT_EQ(c.curve.flux[i], view[row].f64(2));
      EXPECT_EQ(c.curve.flux_err[i], view[row].f64(3));
      if (i > 0) {
        EXPECT_LT(c.curve.time[i - 1], c.curve.time[i]);
      }
    }
  }
  EXPECT_EQ(row, view.size());
  EXPECT_EQ(curves[0].curve.time[4], 2460000.5449);  // the minute's time, not its first frame's
}

TEST_F(LiveLightCurves, AFrameWithoutATimeIsNamed) {
  const auto first = c_->query_one("SELECT MIN(frame_id) FROM raw_frame").u64(0);
  c_->execute("UPDATE raw_frame SET bjd_tdb_mid = NULL WHERE frame_id = ?", {first + 7});
  try {
    read_light_curves(*c_, observation_);
    FAIL() << "a point at a frame without a time was read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("frame " + std::to_string(first + 7)), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bjd_tdb_mid"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tianyu::consumer::steps
