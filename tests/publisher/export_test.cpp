// tianyu-publish export: the operator's --out directory reaches gnuplot only as a quoted string,
// so a quote or backslash in it can neither break the plot nor run a command, and a line break
// (which no gnuplot string can hold) is refused naming the path before anything is written.
#include "publisher/export.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/errors.h"
#include "common/migrations.h"
#include "publisher/publisher.h"
#include "support/live_scratch_db.h"

namespace tianyu::publisher {
namespace {

namespace fs = std::filesystem;

constexpr int kFrames = 12;

// One observation with one source whose relative flux is known in every frame.
class LiveExport : public test::LiveScratchDb {
 protected:
  void SetUp() override {
    LiveScratchDb::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    base_ = fs::temp_directory_path() / test::unique_name("export_test");
    fs::create_directories(base_);
    ensure_site(*c_, "lab", base_.string());
    c_->execute("INSERT INTO target (name) VALUES ('WASP-4')");
    c_->execute("INSERT INTO observation (site_id, target_id, name) SELECT s.site_id, t.target_id, 'n1' "
                "FROM site s, target t WHERE s.name = 'lab'");
    observation_ = c_->query_one("SELECT observation_id FROM observation").u64(0);
    for (int i = 0; i < kFrames; ++i) {
      c_->execute("INSERT INTO raw_frame (observation_id, site_id, path, kind, width, height, jd_utc_mid, bjd_tdb_mid) "
                  "SELECT ?, site_id, ?, 'science', 64, 64, ?, ? FROM site WHERE name = 'lab'",
                  {observation_, "raw/sci_" + std::to_string(i) + ".fits", 2460000.5 + i * 0.01,
                   2460000.5 + i * 0.01});
    }
    c_->execute("INSERT INTO source (observation_id, source_id, x_px, y_px, template_flux, fwhm_px, a_px, b_px, "
                "theta_rad, sep_flag, isolated) VALUES (?, 7, 10, 20, 1000, 2, 1, 1, 0, 0, 1)",
                {observation_});
    c_->execute("INSERT INTO source_photometry (observation_id, source_id, is_reference, decision, "
                "instrumental_mag, rms, points) VALUES (?, 7, 0, 'target', 12.5, 0.001, ?)",
                {observation_, std::int64_t{kFrames}});
    c_->execute("INSERT INTO relative_flux (observation_id, source_id, frame_id, rel_flux, rel_flux_err, flags) "
                "SELECT ?, 7, frame_id, 1 + 0.001 * (frame_id % 3), 0.001, 0 FROM raw_frame",
                {observation_});
  }
  void TearDown() override {
    if (!base_.empty() && !HasFailure()) fs::remove_all(base_);
  }

  ExportOptions options(const fs::path& out) {
    ExportOptions o;
    o.observation_id = observation_;
    o.out = out;
    o.plot_near = {{10.5, 19.5}};
    o.bin = 3;
    return o;
  }

  fs::path base_;
  std::uint64_t observation_ = 0;
};

std::string head(const fs::path& p, std::size_t n) {
  std::ifstream in(p, std::ios::binary);
  std::string s(n, '\0');
  in.read(s.data(), static_cast<std::streamsize>(n));
  return s.substr(0, static_cast<std::size_t>(in.gcount()));
}

TEST_F(LiveExport, QuoteAndBackslashInOutPathNeitherBreakNorInjectTheGnuplotScript) {
  // Unquoted, this path would end gnuplot's string and run `system 'touch INJECTED'`.
  const fs::path out = base_ / "a \\ dir'; system 'touch INJECTED'; print '";
  const fs::path injected = fs::current_path() / "INJECTED";
  fs::remove(injected);
  const auto report = export_observation(*c_, options(out));
  EXPECT_EQ(report.sources, 1);
  EXPECT_EQ(report.light_curves, 1);
  ASSERT_EQ(report.plots.size(), 1u);
  EXPECT_EQ(report.plots[0], out / "lightcurve_7.png");
  EXPECT_EQ(head(out / "lightcurve_7.png", 8), "\x89PNG\r\n\x1a\n");
  EXPECT_FALSE(fs::exists(injected)) << "a quote in --out ran a gnuplot command";
  EXPECT_FALSE(fs::exists(out / ".plot_7.dat")) << "the plot's data files are removed";
  EXPECT_EQ(head(out / "sources.csv", 54), "source_id,x,y,mag,is_reference,group_id,rms,cdpp_ppm\n7");
}

TEST_F(LiveExport, LineBreakInOutPathIsRefusedBeforeWriting) {
  const fs::path out = base_ / "two\nlines";
  try {
    export_observation(*c_, options(out));
    FAIL() << "a line break in --out was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "export: output path '" + out.string() +
                                         "' contains a line break or NUL, which a gnuplot script cannot name; "
                                         "choose another --out directory");
    EXPECT_FALSE(e.retryable());
  }
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace tianyu::publisher
