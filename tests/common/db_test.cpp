#include "common/db.h"

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "support/live_services.h"

namespace tianyu::db {
namespace {

class LiveDb : public ::testing::Test {
 protected:
  void SetUp() override {
    TIANYU_REQUIRE_LIVE_SERVICES();
    scratch_ = std::make_unique<test::ScratchDatabase>(test::live_config()->db);
    Connection c(scratch_->settings());
    c.execute(
        "CREATE TABLE frame (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(64) NOT NULL, "
        "exptime DOUBLE NULL) ENGINE=InnoDB");
  }
  std::int64_t count(Connection& c) { return c.query_one("SELECT COUNT(*) FROM frame").i64(0); }

  std::unique_ptr<test::ScratchDatabase> scratch_;
};

TEST_F(LiveDb, CommittedTransactionIsVisibleToAnotherSession) {
  Connection writer(scratch_->settings());
  Connection reader(scratch_->settings());
  {
    Transaction tx(writer);
    writer.execute("INSERT INTO frame (id, name, exptime) VALUES (?, ?, ?)",
                   {std::uint64_t{1}, std::string("HATP-32-0001"), 60.0});
    writer.execute("INSERT INTO frame (id, name, exptime) VALUES (?, ?, ?)",
                   {std::uint64_t{2}, std::string("HATP-32-0002"), 60.0});
    EXPECT_EQ(count(reader), 0) << "uncommitted rows must not be visible (READ COMMITTED)";
    tx.commit();
  }
  EXPECT_EQ(count(reader), 2);
  const Rows rows = reader.query("SELECT id, name, exptime FROM frame ORDER BY id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].u64(0), 2u);
  EXPECT_EQ(rows[1].str(1), "HATP-32-0002");
  EXPECT_DOUBLE_EQ(rows[1].f64(2), 60.0);
}

TEST_F(LiveDb, RollbackLeavesNothing) {
  Connection c(scratch_->settings());
  {
    Transaction tx(c);
    c.execute("INSERT INTO frame (id, name) VALUES (?, ?)", {std::uint64_t{1}, std::string("a")});
    tx.rollback();
  }
  EXPECT_EQ(count(c), 0);
  {
    Transaction tx(c);  // leaves scope without commit: the destructor rolls back
    c.execute("INSERT INTO frame (id, name) VALUES (?, ?)", {std::uint64_t{2}, std::string("b")});
  }
  EXPECT_EQ(count(c), 0);
  Connection other(scratch_->settings());
  EXPECT_EQ(count(other), 0);
}

TEST_F(LiveDb, ExceptionInsideTransactionRollsBackEarlierStatements) {
  Connection c(scratch_->settings());
  EXPECT_THROW(
      {
        Transaction tx(c);
        c.execute("INSERT INTO frame (id, name) VALUES (?, ?)",
                  {std::uint64_t{7}, std::string("first")});
        c.execute("INSERT INTO frame (id, name) VALUES (?, ?)",  // duplicate key
                  {std::uint64_t{7}, std::string("again")});
        tx.commit();
      },
      DbError);
  EXPECT_EQ(count(c), 0);
}

TEST_F(LiveDb, ValuesRoundTripExactly) {
  Connection c(scratch_->settings());
  constexpr auto kMaxId = std::numeric_limits<std::uint64_t>::max();
  c.execute("INSERT INTO frame (id, name, exptime) VALUES (?, ?, ?)",
            {kMaxId, std::string("ünïcode ☉ 'quoted'"), 0.1});
  c.execute("INSERT INTO frame (id, name, exptime) VALUES (?, ?, ?)",
            {std::uint64_t{3}, std::string("no exposure"), nullptr});
  const Row top = c.query_one("SELECT id, name, exptime FROM frame WHERE id = ?", {kMaxId});
  EXPECT_EQ(top.u64(0), kMaxId);
  EXPECT_EQ(top.str(1), "ünïcode ☉ 'quoted'");
  EXPECT_EQ(top.f64(2), 0.1);  // bit-exact, not approximately
  const Row null_row = c.query_one("SELECT exptime FROM frame WHERE id = ?", {std::uint64_t{3}});
  EXPECT_TRUE(null_row.is_null(0));
  EXPECT_FALSE(null_row.opt_str(0).has_value());
}

// query_each hands over the same rows as query, in the result's order, one Row reused: every
// value (NULL included) is the row's own, none left over from the row before.
TEST_F(LiveDb, QueryEachVisitsTheRowsQueryReturns) {
  Connection c(scratch_->settings());
  for (std::uint64_t id = 1; id <= 2500; ++id) {
    c.execute("INSERT INTO frame (id, name, exptime) VALUES (?, ?, ?)",
              {id, "f" + std::to_string(id), id % 3 == 0 ? Param{nullptr} : Param{0.5 * static_cast<double>(id)}});
  }
  const std::string sql = "SELECT id, name, exptime FROM frame WHERE id > ? ORDER BY id";
  const Rows all = c.query(sql, {std::uint64_t{100}});
  std::size_t visited = 0;
  c.query_each(sql, {std::uint64_t{100}}, [&](const Row& r) {
    ASSERT_LT(visited, all.size());
    const Row& expected = all[visited++];
    EXPECT_EQ(r.u64(0), expected.u64(0));
    EXPECT_EQ(r.str(1), "f" + std::to_string(r.u64(0)));
    EXPECT_EQ(r.is_null(2), r.u64(0) % 3 == 0) << "row " << r.u64(0);
    if (!r.is_null(2)) EXPECT_EQ(r.f64(2), 0.5 * static_cast<double>(r.u64(0)));
  });
  EXPECT_EQ(visited, 2400u);
  c.query_each(sql, {std::uint64_t{9999}}, [&](const Row&) { ADD_FAILURE() << "a row of an empty result"; });
  try {
    c.query_each("SELECT no_such_column FROM frame", {}, [](const Row&) {});
    FAIL() << "expected an unknown-column error";
  } catch (const DbError& e) {
    EXPECT_EQ(e.code(), 1054);
    EXPECT_NE(std::string(e.what()).find("no_such_column"), std::string::npos) << e.what();
  }
}

TEST_F(LiveDb, DuplicateKeyIsAPermanentError) {
  Connection c(scratch_->settings());
  c.execute("INSERT INTO frame (id, name) VALUES (?, ?)", {std::uint64_t{1}, std::string("a")});
  try {
    c.execute("INSERT INTO frame (id, name) VALUES (?, ?)", {std::uint64_t{1}, std::string("a")});
    FAIL() << "expected a duplicate-key error";
  } catch (const DbError& e) {
    EXPECT_EQ(e.code(), 1062);
    EXPECT_FALSE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("INSERT INTO frame"), std::string::npos) << e.what();
  }
}

TEST_F(LiveDb, SessionIsUtcStrictAndReadCommitted) {
  Connection c(scratch_->settings());
  const Row r = c.query_one("SELECT @@session.time_zone, @@session.tx_isolation, @@session.sql_mode, "
                            "@@session.innodb_lock_wait_timeout");
  EXPECT_EQ(r.str(0), "+00:00");
  EXPECT_EQ(r.str(1), "READ-COMMITTED");
  EXPECT_NE(r.str(2).find("STRICT_ALL_TABLES"), std::string::npos);
  EXPECT_EQ(r.i64(3), test::live_config()->db.lock_wait_timeout_s);
}

TEST_F(LiveDb, LostSessionIsRetryableAndReconnectRecovers) {
  Connection victim(scratch_->settings());
  Connection killer(scratch_->settings());
  const auto id = victim.query_one("SELECT CONNECTION_ID()").u64(0);
  killer.execute("KILL CONNECTION " + std::to_string(id));
  try {
    victim.query("SELECT 1");
    FAIL() << "a killed session must report an error";
  } catch (const DbError& e) {
    EXPECT_TRUE(e.connection_lost()) << e.what();
    EXPECT_TRUE(e.retryable());
  }
  EXPECT_FALSE(victim.ping());
  victim.reconnect();
  EXPECT_EQ(victim.query_one("SELECT 6 * 7").i64(0), 42);
}

// The server's answer when a table cannot grow (InnoDB gives 1114 when its disk is full): a
// MEMORY table held to 16 KiB fills the same way on loopback.
TEST_F(LiveDb, AFullTableIsATransientResourceFault) {
  Connection c(scratch_->settings());
  c.execute("SET SESSION max_heap_table_size = 16384");
  c.execute("CREATE TABLE heap_full (id INT PRIMARY KEY, pad CHAR(200)) ENGINE=MEMORY");
  try {
    for (std::int64_t i = 0; i < 100000; ++i) c.execute("INSERT INTO heap_full VALUES (?, 'x')", {i});
    FAIL() << "a 16 KiB MEMORY table took 100,000 rows";
  } catch (const DbError& e) {
    EXPECT_EQ(e.code(), 1114) << e.what();
    EXPECT_TRUE(e.server_short_of_resources()) << e.what();
    EXPECT_TRUE(e.retryable());
    EXPECT_TRUE(e.transient_resource());
  }
}

// What MariaDB 10.11 said when its temporary directory filled up during a night (a sort's
// temporary table): the write error carries the errno, which alone tells a full disk (28,
// ENOSPC; 122, EDQUOT) from a fault that waiting does not mend (13, EACCES).
TEST(Db, AWriteErrorIsTransientOnlyWhenTheDiskIsFull) {
  const auto error = [](int code, const std::string& detail) {
    return DbError(code, "HY000", "SELECT source_id FROM light_curve ...: " + detail + " (MariaDB error " +
                                      std::to_string(code) + ", SQLSTATE HY000)");
  };
  const auto full = error(3, "Error writing file '/tmp/#sql/fd=602' (Errcode: 28 \"No space left on device\")");
  EXPECT_TRUE(full.server_short_of_resources());
  EXPECT_TRUE(full.retryable());
  EXPECT_TRUE(full.transient_resource());
  EXPECT_FALSE(full.connection_lost());
  EXPECT_TRUE(error(1030, "Got error 122 \"Disk quota exceeded\" from storage engine InnoDB (errno: 122 \"Disk quota "
                          "exceeded\")").retryable());
  EXPECT_TRUE(error(1021, "Disk full (/var/tmp/#sql_1.MAI); waiting for someone to free some space...").retryable());
  const auto denied = error(3, "Error writing file '/tmp/#sql/fd=602' (Errcode: 13 \"Permission denied\")");
  EXPECT_FALSE(denied.server_short_of_resources());
  EXPECT_FALSE(denied.retryable());
  EXPECT_FALSE(error(1062, "Duplicate entry '1' for key 'PRIMARY'").transient_resource());
  // An errno that merely starts with 28 is not ENOSPC.
  EXPECT_FALSE(error(3, "Error writing file 'x' (Errcode: 280 \"Unknown error 280\")").retryable());
}

TEST(Db, RefusedConnectionIsRetryableAndNamesTheServer) {
  Settings s;
  s.host = "127.0.0.1";
  s.port = 1;  // nothing listens on loopback port 1
  s.user = "nobody";
  s.connect_timeout_s = 2;
  try {
    Connection c(s);
    FAIL() << "expected a connection error";
  } catch (const DbError& e) {
    EXPECT_TRUE(e.connection_lost()) << e.what();
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tianyu::db
