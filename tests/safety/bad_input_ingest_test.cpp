// The bad-input suite, cases met at ingest: files that are not FITS, truncated, with malformed
// or absurd header cards, non-UTF-8 bytes, a symlink out of the site root, and --copy
// observation names that would write outside it. A bad frame is skipped naming the file and
// the card while the good frame beside it is ingested; a refused option writes nothing.
#include <functional>

#include "publisher/ingest.h"
#include "safety/bad_input_fixture.h"
#include "support/ingest_test_options.h"

namespace tianyu::safety {
namespace {

class BadIngestInput : public BadInput {
 protected:
  publisher::IngestOptions options(const fs::path& dir, const std::string& observation) {
    return test::ingest_options(site_, dir, observation);
  }
  // The target's row, so a case's new rows are only its observation and frames.
  void ingest_baseline() {
    const auto dir = root_ / "raw" / "baseline";
    fs::create_directories(dir);
    write_frame(dir / "good.fits", 0);
    publisher::ingest(*c_, options(dir, "baseline"));
  }
};

struct BadFrame {
  std::string name;
  std::function<void(const fs::path&)> write;  // writes raw/<case>/bad.fits
  std::string needle;                          // in the skipped frame's error
};

void truncate_to(const fs::path& p, std::uintmax_t bytes) { fs::resize_file(p, bytes); }

// Cases 21-26: each bad frame beside a good one. The bad one is skipped naming the file (and
// the card); the good one alone becomes a row; nothing else changes.
TEST_F(BadIngestInput, ABadFrameIsSkippedNamingFileAndCardTheRestIngested) {
  ingest_baseline();
  const std::vector<BadFrame> cases = {
      {"not FITS", [](const fs::path& p) { std::ofstream(p) << "SIMPLE? no, a text file\n"; }, "bad.fits"},
      {"truncated", [](const fs::path& p) { write_frame(p, 9, {}, pipeline::Image(64, 64, 100.0f)); truncate_to(p, 4000); },
       "truncated"},
      {"EXPTIME='5abc'", [](const fs::path& p) { write_frame(p, 9, {{"EXPTIME", std::string("5abc"), ""}}); },
       "card EXPTIME = '5abc'"},
      {"GAIN='x'", [](const fs::path& p) { write_frame(p, 9, {{"GAIN", std::string("x"), ""}}); }, "card GAIN = 'x'"},
      {"NAXIS 100000^2, no data",
       [](const fs::path& p) {
         write_raw_fits(p, {card("SIMPLE", "T"), card("BITPIX", "16"), card("NAXIS", "2"), card("NAXIS1", "100000"),
                            card("NAXIS2", "100000"), card("IMAGETYP", "'LIGHT'"), card("EXPTIME", "10.0"),
                            card("DATE-OBS", "'2026-01-15T13:09:00'")});
       },
       "NAXIS1 x NAXIS2 = 100000 x 100000"},
      {"IMAGETYP names no kind", [](const fs::path& p) { write_frame(p, 9, {{"IMAGETYP", std::string("FOCUS"), ""}}); },
       "card IMAGETYP = 'FOCUS'"},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    const auto dir = root_ / "raw" / ("case_" + std::to_string(&k - cases.data()));
    fs::create_directories(dir);
    write_frame(dir / "good.fits", 1);
    k.write(dir / "bad.fits");
    const auto before = snapshot();
    const auto report = publisher::ingest(*c_, options(dir, dir.filename().string()));
    EXPECT_EQ(report.added.count("science") ? report.added.at("science") : 0, 1);
    ASSERT_EQ(report.skipped.size(), 1u);
    EXPECT_EQ(fs::path(report.skipped[0].path).filename(), "bad.fits");
    EXPECT_NE(report.skipped[0].error.find(k.needle), std::string::npos) << report.skipped[0].error;
    expect_unchanged(before, snapshot(), {{"observation", 1}, {"raw_frame", 1}});
  }
}

// Case 27: a card with the byte 0xFF (a Latin-1 observer's name): the frame is ingested, its
// header stored as valid UTF-8 with the byte replaced by '?'.
TEST_F(BadIngestInput, ANonUtf8CardIsIngestedSanitised) {
  ingest_baseline();
  const auto dir = root_ / "raw" / "latin1";
  fs::create_directories(dir);
  write_frame(dir / "good.fits", 1);
  write_raw_fits(dir / "latin1.fits",
                 {card("SIMPLE", "T"), card("BITPIX", "16"), card("NAXIS", "2"), card("NAXIS1", "16"),
                  card("NAXIS2", "16"), card("IMAGETYP", "'LIGHT'"), card("EXPTIME", "10.0"),
                  card("DATE-OBS", "'2026-01-15T13:09:00'"), "OBSERVER= 'J\xFFrg'"},
                 std::string(2880, '\0'));
  const auto before = snapshot();
  const auto report = publisher::ingest(*c_, options(dir, "latin1"));
  EXPECT_EQ(report.added.at("science"), 2);
  EXPECT_TRUE(report.skipped.empty()) << report.skipped[0].error;
  const auto header = c_->query_one("SELECT header FROM raw_frame WHERE path = 'raw/latin1/latin1.fits'").str(0);
  EXPECT_EQ(nlohmann::json::parse(header).at("OBSERVER"), "J?rg") << header;
  expect_unchanged(before, snapshot(), {{"observation", 1}, {"raw_frame", 2}});
}

// Case 28: a frame inside the root that is a symlink to a file outside it is skipped naming
// the root; the good frame beside it is ingested.
TEST_F(BadIngestInput, ASymlinkOutOfTheRootIsSkipped) {
  ingest_baseline();
  const auto dir = root_ / "raw" / "linked";
  fs::create_directories(dir);
  write_frame(dir / "good.fits", 1);
  write_frame(outside_ / "elsewhere.fits", 2);
  fs::create_symlink(outside_ / "elsewhere.fits", dir / "escape.fits");
  const auto before = snapshot();
  const auto report = publisher::ingest(*c_, options(dir, "linked"));
  EXPECT_EQ(report.added.at("science"), 1);
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_EQ(fs::path(report.skipped[0].path).filename(), "escape.fits");
  EXPECT_NE(report.skipped[0].error.find("outside the site root"), std::string::npos) << report.skipped[0].error;
  expect_unchanged(before, snapshot(), {{"observation", 1}, {"raw_frame", 1}});
}

// Cases 29-30: --copy with an observation name that would leave raw/: refused naming it,
// nothing copied, no row.
TEST_F(BadIngestInput, CopyRefusesObservationNamesThatLeaveTheRoot) {
  ingest_baseline();
  const auto incoming = outside_ / "incoming";
  fs::create_directories(incoming);
  write_frame(incoming / "f0.fits", 1);
  for (const std::string name : {"../x", "/abs"}) {
    SCOPED_TRACE(name);
    const auto before = snapshot();
    auto o = options(incoming, name);
    o.copy = true;
    try {
      publisher::ingest(*c_, o);
      ADD_FAILURE() << "observation '" << name << "' accepted with --copy";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("'" + name + "'"), std::string::npos) << e.what();
      EXPECT_FALSE(e.retryable());
    }
    expect_unchanged(before, snapshot());
    EXPECT_FALSE(fs::exists(root_.parent_path() / "x"));
    EXPECT_FALSE(fs::exists("/abs"));
  }
}

}  // namespace
}  // namespace tianyu::safety
