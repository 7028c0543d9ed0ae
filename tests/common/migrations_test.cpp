#include "common/migrations.h"

#include <gtest/gtest.h>

#include "support/live_services.h"

namespace tianyu::db {
namespace {

TEST(SplitSql, SplitsAtTopLevelSemicolonsOnly) {
  const auto statements = split_sql_statements(
      "CREATE TABLE a (x INT); -- a comment; with a semicolon\n"
      "INSERT INTO a VALUES ('semi;colon'), (\"it's\");\n"
      "/* block; comment */ SELECT `odd;name` FROM a;\n"
      "# trailing comment only\n");
  ASSERT_EQ(statements.size(), 3u);
  EXPECT_EQ(statements[0], "CREATE TABLE a (x INT)");
  EXPECT_NE(statements[1].find("'semi;colon'"), std::string::npos);
  EXPECT_NE(statements[1].find("\"it's\""), std::string::npos);
  EXPECT_NE(statements[2].find("`odd;name`"), std::string::npos);
  EXPECT_EQ(statements[2].find("block"), std::string::npos);
}

TEST(SplitSql, EscapedQuoteDoesNotEndTheString) {
  const auto statements = split_sql_statements("SELECT 'a\\';b'; SELECT 2");
  ASSERT_EQ(statements.size(), 2u);
  EXPECT_EQ(statements[0], "SELECT 'a\\';b'");
}

TEST(MigrationChecksum, IsFnv1a64) {
  EXPECT_EQ(migration_checksum(""), "cbf29ce484222325");  // the FNV-1a offset basis
  EXPECT_EQ(migration_checksum("abc"), "e71fa2190541574b");
}

TEST(EmbeddedMigrations, AreNumberedFromOneWithoutGaps) {
  const auto& m = embedded_migrations();
  ASSERT_FALSE(m.empty());
  for (std::size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(m[i].version, static_cast<int>(i + 1)) << m[i].name;
    EXPECT_FALSE(split_sql_statements(m[i].sql).empty()) << m[i].name;
  }
}

class LiveMigrations : public ::testing::Test {
 protected:
  void SetUp() override {
    TIANYU_REQUIRE_LIVE_SERVICES();
    scratch_ = std::make_unique<test::ScratchDatabase>(test::live_config()->db);
  }
  std::unique_ptr<test::ScratchDatabase> scratch_;
};

TEST_F(LiveMigrations, AppliedTwiceGivesTheSameVersion) {
  const auto& all = embedded_migrations();
  const auto first = migrate(scratch_->settings());
  EXPECT_EQ(first.from_version, 0);
  EXPECT_EQ(first.to_version, all.back().version);
  EXPECT_EQ(first.applied.size(), all.size());

  const auto second = migrate(scratch_->settings());
  EXPECT_EQ(second.from_version, all.back().version);
  EXPECT_EQ(second.to_version, all.back().version);
  EXPECT_TRUE(second.applied.empty());

  Connection c(scratch_->settings());
  EXPECT_EQ(schema_version(c), all.back().version);
  const Row ledger = c.query_one("SELECT COUNT(*) FROM schema_migration");
  EXPECT_EQ(ledger.i64(0), static_cast<std::int64_t>(all.size()));
  const Row tables = c.query_one(
      "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND "
      "table_name IN ('site', 'process_group', 'process', 'process_dependency')");
  EXPECT_EQ(tables.i64(0), 4);
}

TEST_F(LiveMigrations, CreatesAMissingDatabase) {
  Settings fresh = scratch_->settings();
  fresh.database = scratch_->name() + "_new";
  const auto report = migrate(fresh);
  EXPECT_EQ(report.to_version, embedded_migrations().back().version);
  Connection c(fresh);
  c.execute("DROP DATABASE `" + fresh.database + "`");
}

TEST_F(LiveMigrations, SchemaEnforcesTheProcessGraphRules) {
  migrate(scratch_->settings());
  Connection c(scratch_->settings());
  c.execute("INSERT INTO site (name, root_path) VALUES ('local', '/data')");
  c.execute("INSERT INTO process_group (site_id, name) VALUES (1, 'general')");
  c.execute("INSERT INTO process (process_id, command, params, group_id) VALUES (?, 'noop', '{}', 1)",
            {std::uint64_t{1001}});
  EXPECT_EQ(c.query_one("SELECT state, attempt, pending_deps FROM process").str(0), "waiting");
  // A process cannot depend on itself.
  EXPECT_THROW(c.execute("INSERT INTO process_dependency (process_id, depends_on_id) VALUES (1001, 1001)"), DbError);
  // An edge to an unknown process is refused by the foreign key.
  try {
    c.execute("INSERT INTO process_dependency (process_id, depends_on_id) VALUES (1001, 999)");
    FAIL() << "expected a foreign-key error";
  } catch (const DbError& e) {
    EXPECT_EQ(e.code(), 1452) << e.what();
  }
  // Parameters must be valid JSON.
  EXPECT_THROW(c.execute("INSERT INTO process (process_id, command, params, group_id) "
                         "VALUES (1002, 'noop', '{not json', 1)"),
               DbError);
  // Two groups of one site cannot share a name (each has one queue).
  EXPECT_THROW(c.execute("INSERT INTO process_group (site_id, name) VALUES (1, 'general')"),
               DbError);
}

TEST_F(LiveMigrations, AnEditedMigrationIsRefused) {
  const std::vector<Migration> original = {{1, "0001_frames.sql", "CREATE TABLE f (a INT)"}};
  migrate(scratch_->settings(), original);
  const std::vector<Migration> edited = {{1, "0001_frames.sql", "CREATE TABLE f (a BIGINT)"}};
  try {
    migrate(scratch_->settings(), edited);
    FAIL() << "an edited migration must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("0001_frames.sql was changed"), std::string::npos)
        << e.what();
  }
}

TEST_F(LiveMigrations, ADatabaseNewerThanTheBinaryIsRefused) {
  const std::vector<Migration> newer = {{1, "0001_a.sql", "CREATE TABLE a (x INT)"},
                                        {2, "0002_b.sql", "CREATE TABLE b (x INT)"}};
  migrate(scratch_->settings(), newer);
  const std::vector<Migration> older = {newer.front()};
  try {
    migrate(scratch_->settings(), older);
    FAIL() << "a binary must not run against a schema it does not know";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("newer than the binary"), std::string::npos) << e.what();
  }
}

TEST_F(LiveMigrations, AFailingMigrationIsNotRecordedAndNamesItsStatement) {
  const std::vector<Migration> bad = {
      {1, "0001_ok.sql", "CREATE TABLE IF NOT EXISTS ok (x INT)"},
      {2, "0002_bad.sql", "CREATE TABLE IF NOT EXISTS b (x INT); CREATE TABLE broken (x NOTATYPE)"}};
  try {
    migrate(scratch_->settings(), bad);
    FAIL() << "expected the second migration to fail";
  } catch (const DbError& e) {
    EXPECT_NE(std::string(e.what()).find("migration 0002_bad.sql, statement 2 of 2"),
              std::string::npos)
        << e.what();
  }
  Connection c(scratch_->settings());
  EXPECT_EQ(schema_version(c), 1);
  // Fixed and applied again, the half-applied migration completes (its DDL is idempotent).
  const std::vector<Migration> fixed = {
      bad[0], {2, "0002_bad.sql", "CREATE TABLE IF NOT EXISTS b (x INT); CREATE TABLE broken (x INT)"}};
  EXPECT_EQ(migrate(scratch_->settings(), fixed).to_version, 2);
}

}  // namespace
}  // namespace tianyu::db
