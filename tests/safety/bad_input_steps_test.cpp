// The bad-input suite, cases a running step or a broker message carries: step params that name
// paths the step does not own, a frame SEP cannot extract, garbage and forged messages, a
// message for another group's process. Real tianyu-manager / tianyu-consumer daemons, stopped
// by the fixture. Each case: the error names the thing, and nothing else changed (snapshot).
#include "pipeline/calibration/calibrate.h"
#include "pipeline/detection/extract.h"
#include "publisher/ingest.h"
#include "safety/bad_input_fixture.h"
#include "safety/sep_frame.h"
#include "support/ingest_test_options.h"
#include "support/process_fixture_helpers.h"

namespace tianyu::safety {
namespace {

class BadStepInput : public BadInput {
 protected:
  void queue_without_messages(const std::vector<std::uint64_t>& ids) { test::queue_without_messages(*c_, ids); }
  void forge(const std::string& group, const std::string& body) {
    test::forge_work_message(config_, site_, group, body, "bad_input_test forger");
  }
  bool queue_drained(const std::string& group, std::chrono::seconds timeout) {
    broker::Connection b(broker::settings_from(config_.broker), "bad_input_test");
    return test::wait_until([&] { return b.message_count(queues::work_queue(site_, group)) == 0; }, timeout);
  }
  bool wait_for(const std::string& where, std::int64_t n, std::chrono::seconds timeout) {
    return test::wait_until([&] { return count(where) == n; }, timeout);
  }
  // The SEP-overflow frame ingested as an observation of its own; returns (observation,
  // frame id of the overflow frame).
  std::pair<std::uint64_t, std::uint64_t> ingest_sep_night() {
    const auto dir = root_ / "raw" / "sep_night";
    fs::create_directories(dir);
    write_frame(dir / "crowded.fits", 1, {}, sep_overflow_frame());
    const auto report = publisher::ingest(*c_, test::ingest_options(site_, dir, "sep_night", {"CROWD", 10.0, 20.0}));
    EXPECT_EQ(report.added.at("science"), 1);
    return {report.observation_id, c_->query_one("SELECT frame_id FROM raw_frame WHERE path = ?",
                                                 {std::string("raw/sep_night/crowded.fits")}).u64(0)};
  }
};

// The frame itself: after the production calibration, SEP refuses it with its detail, and a
// retry cannot help (so the step fails at attempt 1).
TEST(SepOverflowFrame, TheCalibratedFrameOverflowsSepsDeblending) {
  const auto calibrated = pipeline::calibrate(sep_overflow_frame(), 10.0, {}, {});
  try {
    const auto found = pipeline::extract_sources(calibrated.image, &calibrated.mask, calibrated.background_rms);
    FAIL() << "SEP extracted the crowded stripe: " << found.size() << " sources, rms " << calibrated.background_rms
           << " bkg " << calibrated.background << " trough " << calibrated.image.at(74, 200) << " sky "
           << calibrated.image.at(300, 200) << " masked " << calibrated.masked;
  } catch (const pipeline::ExtractionError& e) {
    EXPECT_NE(std::string(e.what()).find("limit of sub-objects reached while deblending"), std::string::npos)
        << e.what();
    EXPECT_FALSE(e.retryable());
  }
}

// Cases 31-36: simulate_night's `out` naming the root, the raw area, a parent, a symlink out of
// the root; calibrate on a frame SEP cannot extract. Each fails at attempt 1 naming the path
// (or carrying SEP's detail); no file under the root or beside it and no other row changes.
TEST_F(BadStepInput, StepParamsThatNameWhatTheStepDoesNotOwnFailAtAttemptOne) {
  const auto [observation, frame] = ingest_sep_night();
  const std::map<std::string, std::string> outs = {
      {"dot", "."}, {"up", "x/.."}, {"raw", "raw"}, {"parent", "../x"}, {"symlink", "link_out/night"}};
  std::vector<ProcessSpec> specs;
  for (const auto& [key, out] : outs) {
    specs.push_back(spec(key, "simulate_night"));
    specs.back().params = {{"out", out}, {"config", {{"width", 64}, {"height", 64}, {"frames", 4}, {"stars", 5}}}};
  }
  specs.push_back(spec("sep", "calibrate"));
  specs.back().params = {{"observation_id", observation}, {"frame_id", frame}};
  specs.back().observation_id = observation;
  const auto before = snapshot();
  const auto id = publisher::publish(*c_, specs, ids_);
  start("tianyu-manager");
  start("tianyu-consumer");
  ASSERT_TRUE(settle(60s)) << stuck_report();
  test::expect_paths_refused(*c_, id, outs);
  EXPECT_EQ(state_of(id.at("sep")), "failed");
  EXPECT_EQ(attempt_of(id.at("sep")), 1) << "a frame SEP cannot extract is bad input";
  const auto sep_error = error_of(id.at("sep"));
  EXPECT_NE(sep_error.find("raw/sep_night/crowded.fits"), std::string::npos) << sep_error;
  EXPECT_NE(sep_error.find("sep_extract: object deblending overflow"), std::string::npos) << sep_error;
  EXPECT_NE(sep_error.find("limit of sub-objects reached while deblending"), std::string::npos) << sep_error;
  daemons_.clear();
  EXPECT_FALSE(fs::exists(root_.parent_path() / "x"));
  // The new rows are the six processes and their one dispatch each; nothing else.
  expect_unchanged(before, snapshot(), {{"process", specs.size()}, {"dispatch_log", specs.size()}});
}

// Cases 37-39: broker messages. Garbage bytes are dead-lettered with the decoder's reason; a
// message carrying a forged command and params for a real queued (id, attempt) runs what the
// ROW says (a forged `fail` onto a `noop` still succeeds); a message for another group's
// process is not claimed by this group's consumer.
TEST_F(BadStepInput, BrokerMessagesRunOnlyWhatTheRowSays) {
  const auto id = publisher::publish(*c_, {spec("noop", "noop"), spec("bigram_touch", "touch", {}, "bigram")}, ids_);
  queue_without_messages({id.at("noop"), id.at("bigram_touch")});
  const auto before = snapshot();
  forge("general", "\xff\xfe not a message \x01");
  forge("general", nlohmann::json{{"process_id", id.at("noop")}, {"attempt", 1}, {"command", "fail"},
                                  {"params", {{"message", "forged"}}}}.dump());
  forge("general", nlohmann::json{{"process_id", id.at("bigram_touch")}, {"attempt", 1}}.dump());
  auto& consumer = start("tianyu-consumer");
  ASSERT_TRUE(wait_for("state = 'success'", 1, 30s)) << stuck_report();
  ASSERT_TRUE(queue_drained("general", 20s)) << stuck_report();
  std::this_thread::sleep_for(1s);  // time for a wrongly claimed message to run
  EXPECT_EQ(state_of(id.at("noop")), "success");
  EXPECT_EQ(error_of(id.at("noop")), "") << "the forged fail ran";
  EXPECT_EQ(attempt_of(id.at("noop")), 1);
  EXPECT_EQ(state_of(id.at("bigram_touch")), "queued") << "the general consumer claimed a bigram process";
  const auto log = consumer.log_tail(200);
  EXPECT_NE(log.find("does not decode"), std::string::npos) << log;
  daemons_.clear();
  expect_unchanged(before, snapshot(), {}, {id.at("noop")});
}

}  // namespace
}  // namespace tianyu::safety
