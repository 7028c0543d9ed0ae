#pragma once
// The database client: a thin RAII layer over MySQL Connector/C++ 1.1 (the legacy JDBC-style
// API), so no cppconn type appears outside db.cpp. One Connection per thread; no automatic
// reconnect (it would silently roll back a transaction and reset session settings): callers
// reconnect at transaction boundaries and redo the whole guarded transaction.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/config.h"
#include "common/errors.h"

namespace sql {
class Connection;
class PreparedStatement;
}  // namespace sql

namespace tianyu::db {

class DbError : public Error {
 public:
  DbError(int code, std::string sqlstate, const std::string& message)
      : Error(message), code_(code), sqlstate_(std::move(sqlstate)) {}
  int code() const noexcept { return code_; }
  const std::string& sqlstate() const noexcept { return sqlstate_; }
  // Server gone, connection lost or refused: reconnect, then redo the transaction.
  bool connection_lost() const noexcept;
  // The server short of disk (its data or temporary directory full, ENOSPC or EDQUOT in the
  // message of a write error), memory, threads or connections: it passes once the operator
  // frees what is short. A night waits for it instead of failing (nothing was committed).
  bool server_short_of_resources() const noexcept;
  // Also deadlock (1213) and lock wait timeout (1205): retry the whole transaction.
  bool retryable() const noexcept override;
  // Lost, deadlocked or short of resources: retried without spending an attempt.
  bool transient_resource() const noexcept override { return retryable(); }

 private:
  int code_;
  std::string sqlstate_;
};

// A statement parameter. nullptr binds SQL NULL.
using Param = std::variant<std::nullptr_t, std::int64_t, std::uint64_t, double, std::string>;

inline Param param(int v) { return std::int64_t{v}; }
inline Param param(unsigned v) { return std::uint64_t{v}; }

// One fetched value, typed by the column's SQL type.
using Cell = std::variant<std::monostate, std::int64_t, std::uint64_t, double, std::string>;

class Row {
 public:
  Row() = default;
  explicit Row(std::vector<Cell> cells) : cells_(std::move(cells)) {}
  std::size_t size() const noexcept { return cells_.size(); }
  bool is_null(std::size_t i) const;
  std::int64_t i64(std::size_t i) const;
  std::uint64_t u64(std::size_t i) const;
  double f64(std::size_t i) const;
  std::string str(std::size_t i) const;
  std::optional<std::string> opt_str(std::size_t i) const;

 private:
  friend class Connection;
  const Cell& at(std::size_t i) const;
  std::vector<Cell> cells_;
};

using Rows = std::vector<Row>;

struct Settings {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string user;
  std::string password;
  std::string database;  // empty: connect without selecting a database
  int connect_timeout_s = 5;
  int read_timeout_s = 300;
  int lock_wait_timeout_s = 5;
  // TLS (config db.tls.*): when on, the session must be encrypted and the server's certificate
  // must chain to `tls_ca` and name `host`; a plain or unverifiable server is refused.
  bool tls = false;
  std::string tls_ca;
  std::string tls_cert;  // optional client certificate and key
  std::string tls_key;
  bool tls_verify = true;  // false: encrypted, but the server is not authenticated (testing only)
};

Settings settings_from(const DbConfig& config);

class Connection {
 public:
  explicit Connection(Settings settings);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement; returns the affected-row count.
  std::uint64_t execute(std::string_view sql, std::initializer_list<Param> params = {});
  std::uint64_t execute(std::string_view sql, const std::vector<Param>& params);
  // Runs a query and fetches all rows.
  Rows query(std::string_view sql, std::initializer_list<Param> params = {});
  Rows query(std::string_view sql, const std::vector<Param>& params);
  // Runs a query and hands `visit` each row in turn, one Row reused, none kept: a result of
  // millions of rows (an observation's raw fluxes: 1.7 million, 450 MB as Rows) streams through.
  void query_each(std::string_view sql, const std::vector<Param>& params,
                  const std::function<void(const Row&)>& visit);
  // The single row of a query that must return exactly one; throws otherwise.
  Row query_one(std::string_view sql, std::initializer_list<Param> params = {});

  // Drops the session and opens a new one (statements are re-prepared on demand).
  void reconnect();
  // True when the server answers; never throws.
  bool ping() noexcept;
  const Settings& settings() const noexcept { return settings_; }

 private:
  friend class Transaction;
  void open();
  sql::PreparedStatement& prepare(std::string_view sql);

  Settings settings_;
  std::unique_ptr<sql::Connection> conn_;
  std::map<std::string, std::unique_ptr<sql::PreparedStatement>, std::less<>> statements_;
};

// START TRANSACTION on construction; ROLLBACK on destruction unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Connection& connection);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();
  void rollback();

 private:
  Connection& connection_;
  bool open_ = true;
};

// Inserts `values` (row-major, `width` per row) as multi-row statements of at most `chunk` rows:
// `head` is "INSERT INTO t (a, b) VALUES ", `one_row` is "(?,?)", `tail` e.g. an ON DUPLICATE
// KEY clause. Hundreds of thousands of flux rows go in a few hundred statements, not one each.
void insert_rows(Connection& c, const std::string& head, const std::string& one_row, std::size_t width,
                 const std::vector<Param>& values, std::size_t chunk, const std::string& tail = "");

}  // namespace tianyu::db
