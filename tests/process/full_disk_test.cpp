// A full disk costs time, not data (issue 15): a night's site root on a small tmpfs that is full
// before the masters, or fills in the middle of calibration. The steps cannot write (ENOSPC);
// their processes wait (at least the manager's back-off between tries) and run again beyond
// their attempt budget, nothing is failed or cancelled, and once the operator frees space the
// whole night completes to its light curves, every product there once and no temporary or
// orphaned file left behind. The figures go to stdout and the test's XML properties.
// Mounts a filesystem (root only; skipped with a message elsewhere), so ctest runs it serially;
// a failed run keeps the daemons' logs in /tmp/full_disk_*/logs.
#include <cstdio>
#include <cstdlib>
#include <regex>

#include "pipeline/sim/night.h"
#include "process/flow_fixture.h"
#include "publisher/ingest.h"
#include "support/private_tmpfs.h"

namespace tianyu {
namespace {

constexpr int kMaxAttempts = 2;
constexpr std::uint64_t kTmpfsBytes = 64ull << 20;  // the night's products take ~15 MB
constexpr std::uint64_t kLeftFree = 16 << 10;       // far less than one 256x256 master (~260 KB)
constexpr std::uint64_t kRoomForAFewFrames = 1536 << 10;  // the two masters and 2-3 calibrated frames
constexpr const char* kNoSpace = "No space left on device";
constexpr int kRetryBaseMs = 100;            // the manager's back-off before a retry, at least
constexpr auto kFullFor = std::chrono::seconds(5);  // long enough to see the back-off's pace

// What the full disk did while it was full.
struct FullDiskFigures {
  std::int64_t processes_hit = 0;    // processes whose own error says the disk was full
  std::int64_t attempts_full = 0;    // attempts of those processes while it was full
  std::int64_t max_attempt = 0;      // the highest attempt number of any of them
  std::int64_t failed = 0;           // processes failed for good meanwhile (must stay 0)
  std::int64_t cancelled = 0;
  std::int64_t max_attempt_floor = 0;  // how far the budget's floor was raised
  double seconds_full = 0;             // how long the disk was kept full
  std::string sample_error;
};

class FullDisk : public ProcessFlow {
 protected:
  void SetUp() override {
    ProcessFlow::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    work_ = fs::temp_directory_path() / test::unique_name("full_disk");
    fs::create_directories(work_ / "logs");
    // The site root (registered by the fixture) becomes the small disk.
    if (const auto why = tmpfs_.mount(root_, kTmpfsBytes); !why.empty()) {
      GTEST_SKIP() << "full-disk test skipped: " << why;
    }
  }
  void TearDown() override {
    daemons_.clear();  // nothing keeps a file open on the tmpfs
    tmpfs_.unmount();
    ProcessFlow::TearDown();
    std::error_code ec;
    if (!work_.empty()) fs::remove_all(HasFailure() ? work_ / "night" : work_, ec);
  }

  // Daemon logs beside the night, never on the disk that is full.
  test::Daemon& start_daemon(const std::string& exe) {
    const auto log = work_ / "logs" / (exe + "." + std::to_string(daemons_.size()) + ".log");
    daemons_.push_back(std::make_unique<test::Daemon>(exe, std::vector<std::string>{}, env_for("general"), log));
    return *daemons_.back();
  }

  // 30 science frames of 256x256 with bias and flats, no deliberately bad frame, outside the
  // tmpfs; the site's raw/ is a symlink to it (reads follow it, writes never). 30, not fewer:
  // transit_search needs 20 clean points per light curve after the twilight frames are dropped.
  std::uint64_t simulate_and_ingest() {
    pipeline::sim::SimConfig night;
    night.width = night.height = 256;
    night.frames = 30;
    night.stars = 60;
    night.bias_frames = night.flat_frames = 3;
    night.satellite_trails = night.cloud_outs = night.double_images = 0;
    pipeline::sim::simulate_night(night, work_ / "night", 2);
    fs::create_directory_symlink(work_ / "night", root_ / "raw");
    publisher::IngestOptions o;
    o.site = site_;
    o.directory = root_ / "raw";
    o.target = "SIM-FIELD-1";
    o.ra_deg = night.ra_deg;
    o.dec_deg = night.dec_deg;
    const auto report = publisher::ingest(*c_, o);
    EXPECT_EQ(report.added.at("science"), night.frames);
    return report.observation_id;
  }

  // `tianyu-publish pipeline` as an operator runs it, with a small attempt budget.
  void publish_pipeline(std::uint64_t observation) {
    const std::string command = "TIANYU_DB_NAME='" + scratch_->name() + "' '" + test::bin_dir() +
                                "/tianyu-publish' pipeline --observation " + std::to_string(observation) +
                                " --max-attempts " + std::to_string(kMaxAttempts) + " > '" +
                                (work_ / "logs" / "publish.log").string() + "' 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }

  FullDiskFigures figures() {
    FullDiskFigures f;
    const auto r = c_->query_one(
        "SELECT COUNT(*), COALESCE(SUM(attempt), 0), COALESCE(MAX(attempt), 0), "
        "COALESCE(MAX(error), ''), COALESCE(MAX(attempt_floor), 0) FROM process "
        "WHERE error LIKE ? AND state <> 'cancelled'",
        {std::string("%") + kNoSpace + "%"});
    f.processes_hit = r.i64(0);
    f.attempts_full = r.i64(1);
    f.max_attempt = r.i64(2);
    f.sample_error = r.str(3);
    f.max_attempt_floor = r.i64(4);
    f.failed = count("state = 'failed'");
    f.cancelled = count("state = 'cancelled'");
    return f;
  }

  // Keeps the disk full for kFullFor and until a process has met it on more attempts than its
  // budget allows (a full disk does not spend the budget); stops early when something fails
  // for good (the defect this test exists to catch); gives up after `timeout`.
  FullDiskFigures wait_while_full(std::chrono::seconds timeout) {
    const auto start = std::chrono::steady_clock::now();
    FullDiskFigures f = figures();
    while (std::chrono::steady_clock::now() < start + timeout) {
      f = figures();
      if (f.failed > 0 || f.cancelled > 0) break;
      if (f.max_attempt >= kMaxAttempts + 2 && std::chrono::steady_clock::now() >= start + kFullFor) break;
      std::this_thread::sleep_for(100ms);
    }
    f.seconds_full = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return f;
  }

  // Temporary names (".<name>.tmp<suffix>", staging directories) left anywhere on the tmpfs;
  // raw/ is a symlink and not followed.
  std::vector<std::string> leftovers() {
    std::vector<std::string> found;
    for (const auto& e : fs::recursive_directory_iterator(root_)) {
      const auto name = e.path().filename().string();
      if (name.find(".tmp") != std::string::npos || (name.front() == '.' && name != "raw")) {
        found.push_back(fs::relative(e.path(), root_).string());
      }
    }
    return found;
  }

  // Product files (`<stem>.p<process>a<attempt><ext>`) of an attempt that is not its process's
  // committed one: what a failed write left behind. And committed products whose file is gone.
  std::vector<std::string> orphans_and_missing() {
    std::vector<std::string> found;
    static const std::regex attempt_file(R"(\.p([0-9]+)a([0-9]+)\.)");
    for (const auto& e : fs::recursive_directory_iterator(root_)) {
      std::smatch m;
      const auto name = e.path().filename().string();
      if (!e.is_regular_file() || !std::regex_search(name, m, attempt_file)) continue;
      const auto row = c_->query("SELECT state, attempt FROM process WHERE process_id = ?", {std::stoull(m[1].str())});
      if (row.empty() || row.front().str(0) != "success" || row.front().i64(1) != std::stoll(m[2].str())) {
        found.push_back("orphan " + fs::relative(e.path(), root_).string());
      }
    }
    for (const auto& r : c_->query("SELECT path, mask_path, weight_path, catalog_path FROM image_product")) {
      for (int i = 0; i < 4; ++i) {
        if (!r.is_null(i) && !fs::exists(root_ / r.str(i))) found.push_back("missing " + r.str(i));
      }
    }
    return found;
  }

  // The night published, the tmpfs filled to `left_free` bytes, the daemons started; the
  // disk kept full until a process met it beyond its budget; then freed. The figures of the
  // full phase are checked and returned.
  FullDiskFigures run_with_a_full_disk(std::uint64_t left_free) {
    extra_env_ = {{"TIANYU_CONSUMER_LEASE_S", "10"},  // an expired lease would spend an attempt
                  {"TIANYU_MANAGER_RETRY_BASE_MS", std::to_string(kRetryBaseMs)},
                  {"TIANYU_MANAGER_RETRY_MAX_MS", "1000"}};
    const auto observation = simulate_and_ingest();
    if (HasFailure()) return {};
    publish_pipeline(observation);
    processes_ = count("1 = 1");
    EXPECT_GT(processes_, 90) << "the DAG of 30 frames";
    filler_ = tmpfs_.fill_leaving(left_free);
    EXPECT_LE(tmpfs_.free_bytes(), left_free) << "the tmpfs could not be filled";
    start_daemon("tianyu-manager");
    start_daemon("tianyu-consumer");
    const auto full = wait_while_full(30s);
    EXPECT_GT(full.processes_hit, 0) << "no process met the full disk" << stuck_report();
    EXPECT_EQ(full.failed, 0) << "a full disk failed a process for good: " << full.sample_error << stuck_report();
    EXPECT_EQ(full.cancelled, 0) << "a full disk cancelled part of the night";
    EXPECT_GT(full.max_attempt, kMaxAttempts) << "the full disk spent the attempt budget";
    // Each retry waits at least the base back-off: a full disk is not met in a tight loop.
    EXPECT_LE(full.max_attempt, 2 + full.seconds_full * 1000 / kRetryBaseMs);
    // The back-off grows to its cap while the disk stays full (resource_waits), so a long wait
    // does not re-run every step each base interval: 100, 200, 400, 800, 1000 ms, ... in ~5 s.
    EXPECT_LE(full.max_attempt, kMaxAttempts + 10) << "the back-off did not grow";
    EXPECT_NE(full.sample_error.find("errno 28"), std::string::npos) << full.sample_error;
    tmpfs_.free_filler();
    return full;
  }

  // Once space is freed: the whole night succeeds, its products all there, nothing left over.
  void expect_the_night_completes(const FullDiskFigures& full, std::uint64_t left_free) {
    const auto freed = std::chrono::steady_clock::now();
    ASSERT_TRUE(settle(120s)) << stuck_report();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - freed).count();
    EXPECT_EQ(count("state = 'success'"), processes_) << stuck_report();
    const auto failed = count("state = 'failed'"), cancelled = count("state = 'cancelled'");
    EXPECT_EQ(failed, 0);
    EXPECT_EQ(cancelled, 0);
    const auto light_curve_rows = c_->query_one("SELECT COUNT(*) FROM relative_flux").i64(0);
    EXPECT_GT(light_curve_rows, 0);
    const auto left = leftovers();
    EXPECT_TRUE(left.empty()) << left.size() << " left on the tmpfs, first: " << (left.empty() ? "" : left.front());
    const auto files = orphans_and_missing();
    EXPECT_TRUE(files.empty()) << files.size() << " product files wrong, first: " << (files.empty() ? "" : files.front());
    // One image product per master, calibrated frame and stack node: none lost.
    EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM image_product").i64(0),
              count("command IN ('master_bias', 'master_flat', 'calibrate', 'stack')"));
    const auto max_attempt = c_->query_one("SELECT MAX(attempt) FROM process").i64(0);

    RecordProperty("processes", static_cast<int>(processes_));
    RecordProperty("processes_that_met_the_full_disk", static_cast<int>(full.processes_hit));
    RecordProperty("attempts_while_full", static_cast<int>(full.attempts_full));
    RecordProperty("max_attempt_while_full", static_cast<int>(full.max_attempt));
    RecordProperty("max_attempt_floor_while_full", static_cast<int>(full.max_attempt_floor));
    RecordProperty("seconds_full", std::to_string(full.seconds_full));
    RecordProperty("max_attempt", static_cast<int>(max_attempt));
    RecordProperty("seconds_to_complete_after_freeing", std::to_string(seconds));
    RecordProperty("temp_files_left", static_cast<int>(left.size()));
    RecordProperty("orphan_or_missing_product_files", static_cast<int>(files.size()));
    std::printf("full disk (%llu bytes left free, filler %llu bytes%s): %lld processes (max_attempts %d); "
                "full for %.1f s: %lld met ENOSPC on %lld attempts, max attempt %lld (floor %lld); after freeing %.1f s to complete, "
                "%lld failed, %lld cancelled, max attempt %lld, %lld relative_flux rows, %zu temp files and "
                "%zu orphan or missing product files left\n  error while full: %s\n",
                static_cast<unsigned long long>(left_free), static_cast<unsigned long long>(filler_),
                tmpfs_.private_namespace() ? ", private mount namespace" : "", static_cast<long long>(processes_),
                kMaxAttempts, full.seconds_full, static_cast<long long>(full.processes_hit),
                static_cast<long long>(full.attempts_full), static_cast<long long>(full.max_attempt),
                static_cast<long long>(full.max_attempt_floor), seconds, static_cast<long long>(failed),
                static_cast<long long>(cancelled), static_cast<long long>(max_attempt),
                static_cast<long long>(light_curve_rows), left.size(), files.size(), full.sample_error.c_str());
  }

  test::PrivateTmpfs tmpfs_;
  fs::path work_;
  std::int64_t processes_ = 0;
  std::uint64_t filler_ = 0;
};

// Full before the first master is written: every master and calibration waits.
TEST_F(FullDisk, FullBeforeTheMastersTheNightWaitsAndCompletesOnceSpaceIsFreed) {
  const auto full = run_with_a_full_disk(kLeftFree);
  expect_the_night_completes(full, kLeftFree);
}

// Full in the middle of calibration: room for the masters and a few frames, so several
// calibrations meet the full disk at once, some after writing part of their products.
TEST_F(FullDisk, FullDuringCalibrationTheNightWaitsAndCompletesOnceSpaceIsFreed) {
  const auto full = run_with_a_full_disk(kRoomForAFewFrames);
  expect_the_night_completes(full, kRoomForAFewFrames);
  EXPECT_GT(c_->query_one("SELECT COUNT(*) FROM process WHERE command = 'calibrate' AND attempt > 1").i64(0), 1)
      << "the disk filled before calibration, not during it";
}

}  // namespace
}  // namespace tianyu
