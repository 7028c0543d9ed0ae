#include "publisher/publisher.h"

#include <gtest/gtest.h>

#include "common/errors.h"
#include "common/migrations.h"
#include "support/live_services.h"

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

class LivePublisher : public ::testing::Test {
 protected:
  void SetUp() override {
    TIANYU_REQUIRE_LIVE_SERVICES();
    scratch_ = std::make_unique<test::ScratchDatabase>(test::live_config()->db);
    db::migrate(scratch_->settings());
    c_ = std::make_unique<db::Connection>(scratch_->settings());
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

  std::unique_ptr<test::ScratchDatabase> scratch_;
  std::unique_ptr<db::Connection> c_;
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
