// tianyu-web over a finished simulated night (scripts/run-local.sh on a small night, then one
// `fail` step whose error holds markup), driven by Debian's headless chromium: the observation
// page shows the database's process counts, the hostile error text is shown as text, the light
// curve draws every point of the SQL light curve, the JSON agrees with `tianyu-publish status
// --json`, a bad id is a 404, a write is a 405. Screenshots of each page go to
// <build>/web-artifacts/ (copied by hand into docs/web/).
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/fmt/fmt.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "common/process_id.h"
#include "pipeline/sim/night.h"
#include "publisher/publisher.h"
#include "support/daemon.h"
#include "support/live_services.h"
#include "web/browser.h"

namespace tianyu {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kHostile = "<script>alert(1)</script> & \"quoted\" <b>not bold</b>";

std::string bin_dir() { return fs::read_symlink("/proc/self/exe").parent_path().string(); }

class Web : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::live_config()) return;
    dir_ = fs::temp_directory_path() / test::unique_name("web");
    fs::create_directories(dir_);
    db_ = std::make_unique<test::ScratchDatabase>(test::live_config()->db);
    run_night();
    c_ = std::make_unique<db::Connection>(db_->settings());
    observation_ = c_->query_one("SELECT MAX(observation_id) FROM observation").u64(0);
    site_ = c_->query_one("SELECT name FROM site ORDER BY site_id LIMIT 1").str(0);
    fail_with_markup();
    web_ = std::make_unique<test::ShellDaemon>(
        "source '" + std::string(TIANYU_SOURCE_DIR) + "/run/env-reader.sh' && export TIANYU_DB_NAME='" +
            db_->name() + "' && exec '" + bin_dir() + "/tianyu-web' --listen 127.0.0.1:0",
        dir_ / "web.log");
    port_ = web_->wait_for_port();
  }
  static void TearDownTestSuite() {
    web_.reset();
    daemons_.clear();
    c_.reset();
    db_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    TIANYU_REQUIRE_LIVE_SERVICES();
    ASSERT_EQ(night_status_, 0) << night_log_;
    ASSERT_GT(port_, 0);
  }

  // A small night (40 frames of 256 x 256 px) through scripts/run-local.sh into the scratch
  // database: the publisher, a manager and two consumers, as an operator runs it.
  static void run_night() {
    pipeline::sim::SimConfig night;
    night.width = night.height = 256;
    night.frames = 40;
    night.stars = 80;
    night.bias_frames = night.flat_frames = 3;
    night.transit_duration_d = 0.003;
    night.transit_depth = 0.02;
    pipeline::sim::simulate_night(night, dir_ / "night", 2);
    // --web too (any free port): run-local starts tianyu-web, prints its URL, stops it.
    const std::string command = "TIANYU_WEB_LISTEN=127.0.0.1:0 TIANYU_BIN_DIR='" + bin_dir() + "' bash '" + std::string(TIANYU_SOURCE_DIR) +
                                "/scripts/run-local.sh' --no-build --raw '" + (dir_ / "night").string() + "' --out '" +
                                (dir_ / "out").string() + "' --database '" + db_->name() +
                                "' --consumers 2 --target SIM-FIELD-1 --target-ra 108 --target-dec 46 --web 2>&1";
    night_log_ = test::run_command(command, &night_status_);
  }

  // One `fail` step in the observation whose error text is markup, run by a real consumer; the
  // manager and the consumer keep running (idle) so the daemons page has live heartbeats.
  static void fail_with_markup() {
    publisher::ProcessSpec p;
    p.key = "hostile";
    p.command = "fail";
    p.params = {{"message", kHostile}};
    p.site = site_;
    p.group = "general";
    p.max_attempts = 1;
    p.observation_id = observation_;
    ProcessIdGenerator ids;
    hostile_ = publisher::publish(*c_, {p}, ids).at("hostile");
    const std::map<std::string, std::string> env = {
        {"TIANYU_DB_NAME", db_->name()}, {"TIANYU_SITE", site_}, {"TIANYU_GROUP", "general"},
        {"TIANYU_LOG_LEVEL", "warn"}, {"TIANYU_CONSUMER_LEASE_S", "3"}};
    for (const char* exe : {"tianyu-manager", "tianyu-consumer"}) {
      daemons_.push_back(std::make_unique<test::Daemon>(exe, std::vector<std::string>{}, env,
                                                        dir_ / (std::string(exe) + ".log")));
    }
    for (int i = 0; i < 600; ++i) {
      if (c_->query_one("SELECT state FROM process WHERE process_id = ?", {hostile_}).str(0) == "failed") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));  // a heartbeat after the failure
  }

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  std::string page(const std::string& path, const std::string& shot = "") const {
    fs::path file;
    if (!shot.empty()) {
      fs::create_directories(TIANYU_WEB_ARTIFACTS);
      file = fs::path(TIANYU_WEB_ARTIFACTS) / shot;
    }
    return test::chromium(url(path), dir_, file);
  }
  httplib::Result get(const std::string& path) const {
    httplib::Client client("127.0.0.1", port_);
    return client.Get(path.c_str());
  }
  json get_json(const std::string& path) const {
    const auto r = get(path);
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return json::parse(r->body);
  }

  static inline fs::path dir_;
  static inline std::unique_ptr<test::ScratchDatabase> db_;
  static inline std::unique_ptr<db::Connection> c_;
  static inline std::vector<std::unique_ptr<test::Daemon>> daemons_;
  static inline std::unique_ptr<test::ShellDaemon> web_;
  static inline std::string night_log_, site_;
  static inline int night_status_ = -1, port_ = 0;
  static inline std::uint64_t observation_ = 0, hostile_ = 0;
};


// The observation page, as chromium renders it, shows per state the count the database has.
TEST_F(Web, ObservationPageListsTheDatabaseProcessCounts) {
  const std::string dom = page("/observations/" + std::to_string(observation_), "observation.png");
  std::int64_t total = 0;
  for (const auto& r : c_->query("SELECT state, COUNT(*) FROM process WHERE observation_id = ? GROUP BY state",
                                 {observation_})) {
    const std::string state = r.str(0);
    total += r.i64(1);
    const auto at = dom.find("class=\"count state-" + state + "\"");
    ASSERT_NE(at, std::string::npos) << state << " missing from the page";
    const auto b = dom.find("<b>", at);
    EXPECT_EQ(std::stoll(dom.substr(b + 3)), r.i64(1)) << state;
  }
  EXPECT_GT(total, 100);  // the whole night's DAG, not just the hostile step
  const auto t = dom.find("id=\"total\">");
  ASSERT_NE(t, std::string::npos);
  EXPECT_EQ(std::stoll(dom.substr(t + 11)), total);
  // The grid has one cell per process.
  EXPECT_EQ(test::occurrences(dom, "class=\"cell state-"), static_cast<std::size_t>(total));
}

// An error text holding markup is shown as text: escaped in the DOM, and no script element.
TEST_F(Web, FailedProcessErrorWithMarkupIsShownAsText) {
  ASSERT_EQ(c_->query_one("SELECT state FROM process WHERE process_id = ?", {hostile_}).str(0), "failed");
  const std::string dom = page("/observations/" + std::to_string(observation_));
  EXPECT_NE(dom.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; \"quoted\" &lt;b&gt;not bold&lt;/b&gt;"),
            std::string::npos) << dom.substr(0, 2000);
  EXPECT_EQ(dom.find("<script"), std::string::npos);
  EXPECT_EQ(dom.find("<b>not bold</b>"), std::string::npos);
  // The JSON carries the text as it is (a JSON consumer escapes for its own medium).
  const json doc = get_json("/api/observations/" + std::to_string(observation_));
  bool found = false;
  for (const auto& f : doc["failures"]) found |= f["process_id"] == hostile_ && f["error"].get<std::string>().find(kHostile) != std::string::npos;
  EXPECT_TRUE(found);
}

// The light-curve plot draws as many points as the SQL light curve has.
TEST_F(Web, LightCurvePlotHasEveryPointOfTheSqlLightCurve) {
  const auto best = c_->query(
      "SELECT source_id, COUNT(*) FROM light_curve WHERE observation_id = ? AND rel_flux IS NOT NULL "
      "AND bjd_tdb IS NOT NULL GROUP BY source_id ORDER BY COUNT(*) DESC, source_id LIMIT 1", {observation_});
  ASSERT_FALSE(best.empty()) << "the night produced no light curve";
  const auto source = best.front().u64(0);
  const auto points = best.front().i64(1);
  const auto flagged = c_->query_one(
      "SELECT COUNT(*) FROM light_curve WHERE observation_id = ? AND source_id = ? AND rel_flux IS NOT NULL "
      "AND bjd_tdb IS NOT NULL AND flags <> 0", {observation_, source}).i64(0);
  const std::string dom = page(fmt::format("/observations/{}/sources/{}", observation_, source), "light-curve.png");
  EXPECT_EQ(test::occurrences(dom, "<circle class=\"pt"), static_cast<std::size_t>(points));
  EXPECT_EQ(test::occurrences(dom, "<circle class=\"pt flagged"), static_cast<std::size_t>(flagged));
  EXPECT_NE(dom.find("<polyline"), std::string::npos);  // the binned curve
}

// /api/status and the observation's JSON say what `tianyu-publish status --json` says.
TEST_F(Web, JsonAgreesWithPublishStatus) {
  const std::string command = "TIANYU_DB_NAME='" + db_->name() + "' '" + bin_dir() +
                              "/tianyu-publish' status --observation " + std::to_string(observation_) + " --json";
  int status = 0;
  const json cli = json::parse(test::run_command(command, &status));
  ASSERT_EQ(status, 0);
  const json api = get_json("/api/status?observation=" + std::to_string(observation_));
  for (const char* key : {"counts", "total", "by_command", "by_group"}) EXPECT_EQ(api[key], cli[key]) << key;
  const json doc = get_json("/api/observations/" + std::to_string(observation_));
  EXPECT_EQ(doc["status"]["counts"], cli["counts"]);
  EXPECT_EQ(doc["counts"], cli["counts"]);
  EXPECT_EQ(doc["total"], cli["total"]);
  // The list's row for it too, and the whole site's status.
  const json list = get_json("/api/observations");
  ASSERT_FALSE(list["observations"].empty());
  EXPECT_EQ(list["observations"][0]["counts"], cli["counts"]);
  const json all = json::parse(test::run_command("TIANYU_DB_NAME='" + db_->name() + "' '" + bin_dir() +
                                                 "/tianyu-publish' status --json"));
  EXPECT_EQ(get_json("/api/status")["counts"], all["counts"]);
}

// Durations: every step type that succeeded, with median <= p95, counts matching the database.
TEST_F(Web, DurationsPerStepTypeMatchTheDatabase) {
  const json doc = get_json(fmt::format("/api/observations/{}/durations", observation_));
  std::map<std::string, std::int64_t> finished;
  for (const auto& r : c_->query("SELECT command, COUNT(*) FROM process WHERE observation_id = ? AND state = 'success' "
                                 "GROUP BY command", {observation_})) finished[r.str(0)] = r.i64(1);
  ASSERT_EQ(doc["steps"].size(), finished.size());
  for (const auto& s : doc["steps"]) {
    EXPECT_EQ(s["finished"].get<std::int64_t>(), finished[s["step"].get<std::string>()]);
    EXPECT_LE(s["median_s"].get<double>(), s["p95_s"].get<double>());
  }
  std::int64_t ended = 0;
  for (const auto& [step, n] : finished) ended += n;
  double sum = 0;
  for (const auto& b : doc["throughput"]) sum += b["steps_per_min"].get<double>() * doc["bin_s"].get<double>() / 60;
  EXPECT_NEAR(sum, static_cast<double>(ended), 1e-6);
  page(fmt::format("/observations/{}/durations", observation_), "durations.png");
}

// Queues and daemons: the (site, general) queue exists and is empty; the consumer still
// running is alive and serves it.
TEST_F(Web, QueuesAndDaemonsShowTheLiveConsumer) {
  const json q = get_json("/api/queues");
  bool seen = false;
  for (const auto& row : q["queues"]) {
    if (row["site"] != site_ || row["group"] != "general") continue;
    seen = true;
    EXPECT_EQ(row["ready"], 0) << row.dump();
    EXPECT_EQ(row["consumers"], 1) << row.dump();
    EXPECT_EQ(row["failed"], 1) << row.dump();  // the hostile step
  }
  EXPECT_TRUE(seen) << q.dump();
  const json d = get_json("/api/daemons");
  const auto rows = c_->query_one("SELECT COUNT(*) FROM daemon_heartbeat").i64(0);
  EXPECT_EQ(static_cast<std::int64_t>(d["daemons"].size()), rows);
  int alive_consumers = 0;
  for (const auto& row : d["daemons"]) alive_consumers += row["kind"] == "consumer" && row["alive"] == true && row["site"] == site_;
  EXPECT_EQ(alive_consumers, 1) << d.dump();
  EXPECT_GE(rows, 5);  // run-local's manager and two consumers, then ours
  page("/queues", "queues.png");
  page("/daemons", "daemons.png");
  page("/", "observations.png");
}

// A step handed back for want of a resource (issue 17: ResourceFailure, no attempt spent), as a
// solve_field taken only by Windows consumers is: /api/queues counts such steps per group and
// names the one handed back most often; /queues says so in words, its error text escaped.
TEST_F(Web, QueuesNameTheStepHandedBackForWantOfAResource) {
  const auto site_id = c_->query_one("SELECT site_id FROM site WHERE name = ?", {site_}).u64(0);
  std::map<std::string, std::uint64_t> group_ids;
  for (const std::string group : {"windows-only", "tied", "quiet"}) {
    c_->execute("INSERT INTO process_group (site_id, name) VALUES (?, ?)", {site_id, group});
    group_ids[group] = c_->query_one("SELECT group_id FROM process_group WHERE site_id = ? AND name = ?",
                                     {site_id, group}).u64(0);
  }
  struct Removed {  // the rows go again, so the cases after this one see the night as it was
    db::Connection& c;
    ~Removed() {
      try {
        c.execute("DELETE p FROM process p JOIN process_group g ON g.group_id = p.group_id "
                  "WHERE g.name IN ('windows-only', 'tied', 'quiet')");
        c.execute("DELETE FROM process_group WHERE name IN ('windows-only', 'tied', 'quiet')");
      } catch (const std::exception& e) {
        ADD_FAILURE() << "removing the resource-wait rows: " << e.what();  // not thrown from a destructor
      }
    }
  } removed{*c_};
  const std::string error = "solve-field: <solve-field> is not installed on this consumer & no index";
  ProcessIdGenerator ids;
  // finished_at a day ahead: the running manager's release_due_retries never makes them ready.
  const auto waiting = [&](const std::string& group, std::uint64_t waits, const std::string& text) {
    const auto id = ids.next();
    c_->execute("INSERT INTO process (process_id, command, group_id, state, attempt, attempt_floor, resource_waits, "
                "error, finished_at) VALUES (?, 'solve_field', ?, 'retry_wait', ?, ?, ?, ?, NOW(6) + INTERVAL 1 DAY)",
                {id, group_ids[group], waits + 1, waits, waits, text});
    return id;
  };
  waiting("windows-only", 0, "an ordinary retry: spent an attempt");
  const auto longest = waiting("windows-only", 3, error);
  const auto first_of_tie = waiting("tied", 2, "disk full");
  waiting("tied", 2, "disk full");
  std::map<std::string, json> row_of;
  const json doc = get_json("/api/queues");
  for (const auto& row : doc["queues"]) {
    if (row["site"] == site_) row_of[row["group"].get<std::string>()] = row;
  }
  ASSERT_EQ(row_of.count("windows-only"), 1u) << doc.dump();
  EXPECT_EQ(row_of["windows-only"]["retry_wait"], 2);
  EXPECT_EQ(row_of["windows-only"]["resource_waiting"], 1);
  EXPECT_EQ(row_of["windows-only"]["longest_resource_wait"],
            json({{"process_id", longest}, {"command", "solve_field"}, {"resource_waits", 3}, {"error", error}}));
  EXPECT_EQ(row_of["tied"]["resource_waiting"], 2);
  EXPECT_EQ(row_of["tied"]["longest_resource_wait"]["process_id"], first_of_tie);  // ties: the lowest id
  EXPECT_EQ(row_of["quiet"]["resource_waiting"], 0);
  EXPECT_TRUE(row_of["quiet"]["longest_resource_wait"].is_null());
  EXPECT_EQ(row_of["general"]["resource_waiting"], 0);
  EXPECT_TRUE(row_of["general"]["longest_resource_wait"].is_null());
  // The page as served: the warning names the step, the group and the count; the error is text.
  const auto r = get("/queues");
  ASSERT_TRUE(r);
  const std::string expected = fmt::format(
      "<b>solve_field</b> (process {}) of site {}, group windows-only has been handed back 3 times in a row: "
      "<span class=\"err\">solve-field: &lt;solve-field&gt; is not installed on this consumer &amp; no index</span>. "
      "No consumer of this group can run it now", longest, site_);
  EXPECT_NE(r->body.find(expected), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("<solve-field>"), std::string::npos);
  EXPECT_NE(r->body.find(fmt::format("(process {}) of site {}, group tied has been handed back 2 times", first_of_tie,
                                     site_)), std::string::npos);
  EXPECT_NE(r->body.find("1 more step of this group also waits for a resource."), std::string::npos);
  EXPECT_EQ(test::occurrences(r->body, "class=\"resource-wait\""), 2u);  // none for quiet or general
  EXPECT_NE(r->body.find("<th>waiting for a resource</th>"), std::string::npos);
  page("/queues", "queues-resource-wait.png");
}

TEST_F(Web, BadRouteOrIdIs404WithAMessage) {
  for (const std::string& path : std::vector<std::string>{"/observations/987654321", "/api/observations/987654321", "/no/such/page",
                                 "/observations/abc", "/api/status?observation=987654321",
                                 "/observations/99999999999999999999/sources/1",
                                 fmt::format("/observations/{}/sources/987654321", observation_)}) {
    const auto r = get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_FALSE(r->body.empty()) << path;
    EXPECT_EQ(r->body.find("what()"), std::string::npos);
  }
  EXPECT_NE(get("/observations/987654321")->body.find("observation 987654321 does not exist"), std::string::npos);
  EXPECT_EQ(json::parse(get("/api/observations/987654321")->body)["status"], 404);
}

TEST_F(Web, WritesAre405AndChangeNothing) {
  const auto before = c_->query_one("SELECT COUNT(*), SUM(attempt) FROM process");
  httplib::Client client("127.0.0.1", port_);
  const std::string path = "/api/observations/" + std::to_string(observation_);
  for (const auto& r : {client.Post(path.c_str(), "{}", "application/json"), client.Put(path.c_str(), "{}", "application/json"),
                        client.Delete(path.c_str()), client.Patch("/queues", "x", "text/plain")}) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD");
  }
  const auto after = c_->query_one("SELECT COUNT(*), SUM(attempt) FROM process");
  EXPECT_EQ(after.i64(0), before.i64(0));
  EXPECT_EQ(after.i64(1), before.i64(1));
}

// scripts/run-local.sh --web printed the URL of the tianyu-web it ran (and stopped).
TEST_F(Web, RunLocalWebPrintsTheUrl) {
  EXPECT_NE(night_log_.find("web: http://127.0.0.1:"), std::string::npos) << night_log_;
}

TEST_F(Web, StopsOnSigtermWithExitZero) {
  // Last (gtest runs cases in order within one process; ctest runs each alone, then this one
  // stops its own daemon): the daemon drains and exits 0.
  EXPECT_EQ(web_->stop(), 0) << web_->log();
}

}  // namespace
}  // namespace tianyu
