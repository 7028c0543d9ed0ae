#include "publisher/publisher.h"

#include <functional>

#include <gtest/gtest.h>

#include "common/errors.h"
#include "common/migrations.h"
#include "common/process_store.h"
#include "common/queues.h"
#include "support/live_scratch_db.h"

namespace tianyu::publisher {
namespace {

ProcessSpec spec(std::string key, std::vector<Dependency> deps = {}, std::string group = "general") {
  ProcessSpec p;
  p.key = std::move(key);
  p.command = "noop";
  p.site = "lab";
  p.group = std::move(group);
  p.depends_on = std::move(deps);
  return p;
}

class LivePublisher : public test::LiveScratchDb {
 protected:
  void SetUp() override {
    LiveScratchDb::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ensure_site(*c_, "lab", "/data/lab");
    ensure_group(*c_, "lab", "general");
    ensure_group(*c_, "lab", "bigram");
  }
  std::int64_t processes() { return c_->query_one("SELECT COUNT(*) FROM process").i64(0); }
  std::int64_t edges() { return c_->query_one("SELECT COUNT(*) FROM process_dependency").i64(0); }
  // Publishing `batch` must fail with a message containing `needle` and write nothing.
  void expect_refused(const std::vector<ProcessSpec>& batch, const std::string& needle) {
    const auto before = processes();
    try {
      publish(*c_, batch, ids_);
      FAIL() << "expected the batch to be refused (" << needle << ")";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_EQ(processes(), before);
  }

  ProcessIdGenerator ids_;
};

TEST_F(LivePublisher, DiamondIsWrittenWithCountersAndEdges) {
  const auto id = publish(*c_,
                          {spec("top"), spec("left", {"top"}), spec("right", {"top"}, "bigram"),
                           spec("bottom", {"left", "right"})},
                          ids_);
  ASSERT_EQ(id.size(), 4u);
  EXPECT_EQ(edges(), 4);
  auto row = [&](const std::string& key) {
    return c_->query_one("SELECT state, pending_deps FROM process WHERE process_id = ?",
                         {id.at(key)});
  };
  EXPECT_EQ(row("top").str(0), "ready");
  EXPECT_EQ(row("left").str(0), "waiting");
  EXPECT_EQ(row("left").i64(1), 1);
  EXPECT_EQ(row("bottom").i64(1), 2);
  const auto group = c_->query_one(
      "SELECT g.name FROM process p JOIN process_group g ON g.group_id = p.group_id "
      "WHERE p.process_id = ?",
      {id.at("right")});
  EXPECT_EQ(group.str(0), "bigram");
}

TEST_F(LivePublisher, ACycleIsRefusedNamingItsProcesses) {
  expect_refused({spec("a", {"c"}), spec("b", {"a"}), spec("c", {"b"}), spec("free")},
                 "dependency cycle");
  expect_refused({spec("self", {"self"})}, "'self' -> 'self'");
}

TEST_F(LivePublisher, DanglingAndUnknownReferencesAreRefused) {
  expect_refused({spec("a"), spec("b", {"ghost"})}, "process 'b' depends on unknown key 'ghost'");
  expect_refused({spec("a"), spec("b", {std::uint64_t{12345}})},
                 "process 'b' depends on process 12345, which does not exist");
  auto bad_site = spec("x");
  bad_site.site = "moon";
  expect_refused({spec("a"), bad_site}, "process 'x': unknown site 'moon'");
  expect_refused({spec("a"), spec("y", {}, "gpu")}, "process 'y': unknown group 'gpu' at site 'lab'");
  expect_refused({spec("a"), spec("a")}, "duplicate key 'a'");
}

TEST_F(LivePublisher, DependenciesOnExistingProcessesCountOnlyUnfinishedOnes) {
  const auto first = publish(*c_, {spec("done"), spec("pending")}, ids_);
  c_->execute("UPDATE process SET state = 'success' WHERE process_id = ?", {first.at("done")});
  const auto second =
      publish(*c_, {spec("after_done", {first.at("done")}),
                    spec("after_both", {first.at("done"), first.at("pending")})},
              ids_);
  EXPECT_EQ(c_->query_one("SELECT state FROM process WHERE process_id = ?",
                          {second.at("after_done")}).str(0), "ready");
  EXPECT_EQ(c_->query_one("SELECT pending_deps FROM process WHERE process_id = ?",
                          {second.at("after_both")}).i64(0), 1);
  c_->execute("UPDATE process SET state = 'failed' WHERE process_id = ?", {first.at("pending")});
  expect_refused({spec("after_failed", {first.at("pending")})}, "which is failed: retry it first");
}


// A step over a whole observation runs after its frames' steps whatever their outcome: a failed
// frame cancels only what needed its success, and releases the 'after' step instead.
TEST_F(LivePublisher, AnAfterEdgeProceedsPastAFailureAndWaitsAgainOnRetry) {
  auto select = spec("select", {});
  select.after = {std::string("calibrate_1"), std::string("align_1"), std::string("calibrate_2")};
  const auto id = publish(*c_,
                          {spec("calibrate_1"), spec("align_1", {"calibrate_1"}), spec("calibrate_2"), select},
                          ids_);
  auto state = [&](const std::string& key) {
    return c_->query_one("SELECT state, pending_deps FROM process WHERE process_id = ?", {id.at(key)});
  };
  EXPECT_EQ(state("select").str(0), "waiting");
  EXPECT_EQ(state("select").u64(1), 3u);
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM process_dependency WHERE on_failure = 'proceed'").i64(0), 3);
  // calibrate_1 fails for good: align_1 is cancelled, and both release select.
  c_->execute("UPDATE process SET state = 'queued', attempt = 1 WHERE process_id = ?", {id.at("calibrate_1")});
  ASSERT_TRUE(process::start(*c_, id.at("calibrate_1"), 1, "test", 60, "lab", "general").has_value());
  ASSERT_TRUE(process::finish_failure(*c_, id.at("calibrate_1"), 1, "test", "truncated FITS", true, {3, 0}));
  EXPECT_EQ(state("align_1").str(0), "cancelled");
  EXPECT_EQ(state("select").str(0), "waiting");
  EXPECT_EQ(state("select").u64(1), 1u);
  // The last frame succeeds: select is ready.
  c_->execute("UPDATE process SET state = 'queued', attempt = 1 WHERE process_id = ?", {id.at("calibrate_2")});
  ASSERT_TRUE(process::start(*c_, id.at("calibrate_2"), 1, "test", 60, "lab", "general").has_value());
  ASSERT_TRUE(process::finish_success(*c_, id.at("calibrate_2"), 1, "test", nullptr, nullptr));
  EXPECT_EQ(state("select").str(0), "ready");
  EXPECT_EQ(state("select").u64(1), 0u);
  // Retrying calibrate_1 before select is dispatched: align_1 revived, select waits for both.
  EXPECT_EQ(retry(*c_, id.at("calibrate_1")), 1);
  EXPECT_EQ(state("align_1").str(0), "waiting");
  EXPECT_EQ(state("select").str(0), "waiting");
  EXPECT_EQ(state("select").u64(1), 2u);
  // A child revived by the retry that also waits 'after' revived processes is counted once.
  c_->execute("UPDATE process SET state = 'failed' WHERE process_id = ?", {id.at("calibrate_1")});
  auto gather = spec("gather", {"calibrate_1"});
  gather.after = {id.at("align_1")};
  gather.depends_on = {id.at("calibrate_1")};
  c_->execute("UPDATE process SET state = 'ready' WHERE process_id = ?", {id.at("calibrate_1")});
  const auto gather_id = publish(*c_, {gather}, ids_).at("gather");
  c_->execute("UPDATE process SET state = 'queued', attempt = 2 WHERE process_id = ?", {id.at("calibrate_1")});
  ASSERT_TRUE(process::start(*c_, id.at("calibrate_1"), 2, "test", 60, "lab", "general").has_value());
  ASSERT_TRUE(process::finish_failure(*c_, id.at("calibrate_1"), 2, "test", "truncated FITS", true, {3, 0}));
  EXPECT_EQ(c_->query_one("SELECT state FROM process WHERE process_id = ?", {gather_id}).str(0), "cancelled");
  retry(*c_, id.at("calibrate_1"));
  const auto g = c_->query_one("SELECT state, pending_deps FROM process WHERE process_id = ?", {gather_id});
  EXPECT_EQ(g.str(0), "waiting");
  EXPECT_EQ(g.u64(1), 2u) << "calibrate_1 and align_1, once each";
  // A new process may be published 'after' a failed one (it counts as ended), not 'depends_on'.
  c_->execute("UPDATE process SET state = 'failed' WHERE process_id = ?", {id.at("calibrate_1")});
  ProcessSpec late = spec("late");
  late.after = {id.at("calibrate_1")};
  const auto late_id = publish(*c_, {late}, ids_);
  EXPECT_EQ(c_->query_one("SELECT state FROM process WHERE process_id = ?", {late_id.at("late")}).str(0), "ready");
  expect_refused({spec("strict", {id.at("calibrate_1")})}, "which is failed: retry it first");
}

// Site and group names become queue names: a '.' would let site "a.b" group "c" and site "a"
// group "b.c" share the queue tianyu.work.a.b.c. Refused wherever they enter, naming the name.
TEST_F(LivePublisher, DottedSiteAndGroupNamesAreRefusedEverywhere) {
  const auto sites = c_->query_one("SELECT COUNT(*) FROM site").i64(0);
  const auto groups = c_->query_one("SELECT COUNT(*) FROM process_group").i64(0);
  auto expect_invalid = [](const std::function<void()>& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "expected refusal naming " << needle;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_invalid([&] { ensure_site(*c_, "a.b", "/data/ab"); }, "site name 'a.b' is invalid");
  expect_invalid([&] { ensure_site(*c_, "../etc", "/data/x"); }, "site name '../etc' is invalid");
  expect_invalid([&] { ensure_group(*c_, "lab", "b.c"); }, "group name 'b.c' is invalid");
  expect_invalid([&] { ensure_group(*c_, "lab", "General"); }, "group name 'General' is invalid");
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM site").i64(0), sites);
  EXPECT_EQ(c_->query_one("SELECT COUNT(*) FROM process_group").i64(0), groups);
  expect_refused({spec("dotted", {}, "b.c")}, "process 'dotted': group name 'b.c' is invalid");
  expect_invalid([] { queues::work_queue("a.b", "c"); }, "site name 'a.b' is invalid");
  expect_invalid([] { queues::work_queue("a", "b.c"); }, "group name 'b.c' is invalid");
  EXPECT_EQ(queues::work_queue("a-b", "c_d"), "tianyu.work.a-b.c_d");
}

// Every consumer-side state change is fenced by attempt AND owner, and the claim by the
// process's own site and group.
TEST_F(LivePublisher, ClaimsAndFailuresAreFencedByAttemptOwnerSiteAndGroup) {
  const auto id = publish(*c_, {spec("p")}, ids_).at("p");
  auto state = [&] {
    return c_->query_one("SELECT state FROM process WHERE process_id = ?", {id}).str(0);
  };
  c_->execute("UPDATE process SET state = 'queued', attempt = 2 WHERE process_id = ?", {id});
  EXPECT_FALSE(process::start(*c_, id, 2, "c1", 60, "lab", "bigram")) << "another group's consumer";
  EXPECT_FALSE(process::start(*c_, id, 2, "c1", 60, "lab2", "general")) << "another site's consumer";
  EXPECT_FALSE(process::start(*c_, id, 1, "c1", 60, "lab", "general")) << "a stale attempt";
  EXPECT_FALSE(process::fail_unrunnable(*c_, id, 1, "c1", "stale")) << "a queued row of another attempt";
  EXPECT_EQ(state(), "queued");
  const auto claimed = process::start(*c_, id, 2, "c1", 60, "lab", "general");
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->command, "noop");
  EXPECT_EQ(claimed->params, "{}");
  EXPECT_EQ(claimed->budget.max_attempts, 3u);
  EXPECT_FALSE(process::fail_unrunnable(*c_, id, 2, "c2", "not the owner"));
  EXPECT_FALSE(process::fail_unrunnable(*c_, id, 3, "c1", "not the attempt"));
  EXPECT_EQ(state(), "running");
  // The lease heartbeat: ours renewed, another attempt's lost.
  const auto renewal = process::renew_leases(*c_, "c1", 60, {{id, 2}, {id, 1}});
  EXPECT_EQ(renewal.renewed, (std::vector<process::AttemptKey>{{id, 2}}));
  EXPECT_EQ(renewal.lost, (std::vector<process::AttemptKey>{{id, 1}}));
  EXPECT_EQ(process::renew_leases(*c_, "c2", 60, {{id, 2}}).lost.size(), 1u) << "not c2's lease";
  EXPECT_TRUE(process::fail_unrunnable(*c_, id, 2, "c1", "unknown command 'x'"));
  EXPECT_EQ(state(), "failed");
}

TEST(ParseDag, DottedNamesAreRefusedNamingElementAndField) {
  try {
    parse_dag(nlohmann::json::parse(
                  R"([{"key": "a", "command": "noop", "site": "s", "group": "g"},
                      {"key": "b", "command": "noop", "site": "a.b", "group": "c"}])"),
              "night.json");
    FAIL() << "a dotted site name was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "night.json: element 1 ('b'): field 'site': site name 'a.b' is invalid"),
              std::string::npos)
        << e.what();
  }
}

TEST(ParseDag, ErrorsNameTheElementAndField) {
  const auto doc = nlohmann::json::parse(
      R"([{"key": "a", "command": "noop", "site": "s", "group": "g"},
          {"key": "b", "command": 7, "site": "s", "group": "g"}])");
  try {
    parse_dag(doc, "night.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("night.json: element 1: field 'command' must be a string"),
              std::string::npos)
        << e.what();
  }
  const auto ok = parse_dag(nlohmann::json::parse(
      R"([{"key": "a", "command": "noop", "site": "s", "group": "g", "depends_on": ["x", 42]}])"),
                            "f");
  ASSERT_EQ(ok.size(), 1u);
  ASSERT_EQ(ok[0].depends_on.size(), 2u);
  EXPECT_EQ(std::get<std::string>(ok[0].depends_on[0]), "x");
  EXPECT_EQ(std::get<std::uint64_t>(ok[0].depends_on[1]), 42u);
}

}  // namespace
}  // namespace tianyu::publisher
