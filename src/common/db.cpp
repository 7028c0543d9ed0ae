#include "common/db.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <mutex>

#include <cppconn/datatype.h>
#include <cppconn/driver.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>
#include <cppconn/statement.h>
#include <spdlog/fmt/fmt.h>

namespace tianyu::db {
namespace {

// get_driver_instance() is not thread-safe (Connector/C++ manual): resolve it exactly once.
sql::Driver& driver() {
  static std::once_flag once;
  static sql::Driver* instance = nullptr;
  std::call_once(once, [] { instance = get_driver_instance(); });
  return *instance;
}

// The client library keeps per-thread state that must be set up and torn down by each thread.
struct ThreadRegistration {
  ThreadRegistration() { driver().threadInit(); }
  ~ThreadRegistration() { driver().threadEnd(); }
};

void register_thread() { thread_local ThreadRegistration registration; }

std::string excerpt(std::string_view sql) {
  constexpr std::size_t kMax = 160;
  std::string s(sql.substr(0, kMax));
  for (auto& ch : s) {
    if (ch == '\n' || ch == '\t') ch = ' ';
  }
  return sql.size() > kMax ? s + "..." : s;
}

[[noreturn]] void rethrow(const sql::SQLException& e, std::string_view context) {
  throw DbError(e.getErrorCode(), e.getSQLState(),
                fmt::format("{}: {} (MariaDB error {}, SQLSTATE {})", context, e.what(),
                            e.getErrorCode(), e.getSQLState()));
}

void bind(sql::PreparedStatement& stmt, const std::vector<Param>& params) {
  unsigned index = 1;
  for (const auto& p : params) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>) {
            stmt.setNull(index, sql::DataType::SQLNULL);
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            stmt.setInt64(index, v);
          } else if constexpr (std::is_same_v<T, std::uint64_t>) {
            stmt.setUInt64(index, v);
          } else if constexpr (std::is_same_v<T, double>) {
            stmt.setDouble(index, v);
          } else {
            stmt.setString(index, v);
          }
        },
        p);
    ++index;
  }
}

// How a column's values are read, decided once per result set from its metadata (asking the
// metadata for every cell was a third of reading 1.7 million flux rows).
enum class ColumnKind { signed_integer, unsigned_integer, real, text };

ColumnKind column_kind(sql::ResultSetMetaData& md, unsigned column) {
  switch (md.getColumnType(column)) {
    case sql::DataType::BIT:
    case sql::DataType::TINYINT:
    case sql::DataType::SMALLINT:
    case sql::DataType::MEDIUMINT:
    case sql::DataType::INTEGER:
    case sql::DataType::BIGINT:
    case sql::DataType::YEAR:
      return md.isSigned(column) ? ColumnKind::signed_integer : ColumnKind::unsigned_integer;
    case sql::DataType::REAL:
    case sql::DataType::DOUBLE:
      return ColumnKind::real;
    default:
      return ColumnKind::text;
  }
}

Cell fetch_cell(sql::ResultSet& rs, ColumnKind kind, unsigned column) {
  if (rs.isNull(column)) return std::monostate{};
  switch (kind) {
    case ColumnKind::signed_integer:
      return static_cast<std::int64_t>(rs.getInt64(column));
    case ColumnKind::unsigned_integer:
      return static_cast<std::uint64_t>(rs.getUInt64(column));
    case ColumnKind::real:
      return static_cast<double>(rs.getDouble(column));
    default:
      return std::string(rs.getString(column));
  }
}

std::vector<ColumnKind> column_kinds(sql::ResultSet& rs) {
  auto* md = rs.getMetaData();
  std::vector<ColumnKind> kinds;
  for (unsigned c = 1; c <= md->getColumnCount(); ++c) kinds.push_back(column_kind(*md, c));
  return kinds;
}

Rows fetch_all(sql::ResultSet& rs) {
  Rows rows;
  const auto kinds = column_kinds(rs);
  while (rs.next()) {
    std::vector<Cell> cells;
    cells.reserve(kinds.size());
    for (unsigned c = 1; c <= kinds.size(); ++c) cells.push_back(fetch_cell(rs, kinds[c - 1], c));
    rows.emplace_back(std::move(cells));
  }
  return rows;
}

template <typename T>
T parse_number(const std::string& text, std::size_t column) {
  T value{};
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) {
    throw Error(fmt::format("column {}: '{}' is not a number", column, text));
  }
  return value;
}

// Connector/C++ 1.1 hands these to the MariaDB client library (libmariadb): a CA makes it
// negotiate TLS, and sslVerify checks the server's chain and host name against that CA.
void add_tls_options(sql::ConnectOptionsMap& options, const Settings& s) {
  options["sslCA"] = sql::SQLString(s.tls_ca);
  if (!s.tls_cert.empty()) {
    options["sslCert"] = sql::SQLString(s.tls_cert);
    options["sslKey"] = sql::SQLString(s.tls_key);
  }
  options["sslVerify"] = s.tls_verify;
}

// libmariadb falls back to a plain session when the server offers no TLS: refuse that, since
// the operator asked for encryption. Bad TLS settings never fix themselves: not retryable.
void require_encrypted_session(sql::Statement& stmt, const std::string& where) {
  std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery("SHOW SESSION STATUS LIKE 'Ssl_cipher'"));
  if (!rs->next() || rs->getString(2).length() == 0) {
    throw DbError(0, "08000",
                  where + ": db.tls.enabled is 1 but the server did not encrypt the session "
                          "(is ssl enabled on the server?)");
  }
}

}  // namespace

bool DbError::connection_lost() const noexcept {
  switch (code_) {
    case 1053:  // server shutdown in progress
    case 1927:  // connection was killed
    case 2002:  // can't connect through socket
    case 2003:  // can't connect to server
    case 2006:  // server has gone away
    case 2013:  // lost connection during query
    case 2055:  // lost connection (system error)
      return true;
    default:
      return false;
  }
}

bool DbError::server_short_of_resources() const noexcept {
  switch (code_) {
    case 1021:  // ER_DISK_FULL
    case 1037:  // ER_OUTOFMEMORY
    case 1038:  // ER_OUT_OF_SORTMEMORY
    case 1040:  // ER_CON_COUNT_ERROR: too many connections
    case 1041:  // ER_OUT_OF_RESOURCES
    case 1114:  // ER_RECORD_FILE_FULL: InnoDB's answer when its disk is full
    case 1135:  // ER_CANT_CREATE_THREAD
      return true;
    default:
      break;
  }
  // A file the server could not write (EE_WRITE 3, ER_ERROR_ON_WRITE 1026, an engine's errno
  // 1030): short of space only when the errno says so; another errno is a fault to look at.
  const std::string_view m = what();
  for (const char* full : {"Errcode: 28 ", "errno: 28 ", "Errcode: 122 ", "errno: 122 "}) {
    if (m.find(full) != std::string_view::npos) return true;
  }
  return false;
}

bool DbError::retryable() const noexcept {
  return connection_lost() || code_ == 1213 || code_ == 1205 || server_short_of_resources();
}

// ---------------------------------------------------------------------------- Row

const Cell& Row::at(std::size_t i) const {
  if (i >= cells_.size()) {
    throw Error(fmt::format("row has {} columns, column {} requested", cells_.size(), i));
  }
  return cells_[i];
}

bool Row::is_null(std::size_t i) const { return std::holds_alternative<std::monostate>(at(i)); }

std::int64_t Row::i64(std::size_t i) const {
  const Cell& c = at(i);
  if (auto* v = std::get_if<std::int64_t>(&c)) return *v;
  if (auto* v = std::get_if<std::uint64_t>(&c)) {
    if (*v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      throw Error(fmt::format("column {}: {} does not fit a signed 64-bit integer", i, *v));
    }
    return static_cast<std::int64_t>(*v);
  }
  if (auto* v = std::get_if<double>(&c)) return static_cast<std::int64_t>(std::llround(*v));
  if (auto* v = std::get_if<std::string>(&c)) return parse_number<std::int64_t>(*v, i);
  throw Error(fmt::format("column {} is NULL", i));
}

std::uint64_t Row::u64(std::size_t i) const {
  const Cell& c = at(i);
  if (auto* v = std::get_if<std::uint64_t>(&c)) return *v;
  if (auto* v = std::get_if<std::int64_t>(&c)) {
    if (*v < 0) throw Error(fmt::format("column {}: {} is negative", i, *v));
    return static_cast<std::uint64_t>(*v);
  }
  if (auto* v = std::get_if<std::string>(&c)) return parse_number<std::uint64_t>(*v, i);
  if (auto* v = std::get_if<double>(&c)) return static_cast<std::uint64_t>(std::llround(*v));
  throw Error(fmt::format("column {} is NULL", i));
}

double Row::f64(std::size_t i) const {
  const Cell& c = at(i);
  if (auto* v = std::get_if<double>(&c)) return *v;
  if (auto* v = std::get_if<std::int64_t>(&c)) return static_cast<double>(*v);
  if (auto* v = std::get_if<std::uint64_t>(&c)) return static_cast<double>(*v);
  if (auto* v = std::get_if<std::string>(&c)) return parse_number<double>(*v, i);
  throw Error(fmt::format("column {} is NULL", i));
}

std::string Row::str(std::size_t i) const {
  auto v = opt_str(i);
  if (!v) throw Error(fmt::format("column {} is NULL", i));
  return *v;
}

std::optional<std::string> Row::opt_str(std::size_t i) const {
  return std::visit(
      [](const auto& v) -> std::optional<std::string> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, double>) {
          return fmt::format("{}", v);  // shortest text that reads back to the same double
        } else {
          return std::to_string(v);
        }
      },
      at(i));
}

// ---------------------------------------------------------------------------- Connection

Settings settings_from(const DbConfig& c) {
  Settings s;
  s.host = c.host;
  s.port = c.port;
  s.user = c.user;
  s.password = c.password;
  s.database = c.name;
  s.connect_timeout_s = c.connect_timeout_s;
  s.read_timeout_s = c.read_timeout_s;
  s.lock_wait_timeout_s = c.lock_wait_timeout_s;
  apply_tls(c.tls, s);
  return s;
}

Connection::Connection(Settings settings) : settings_(std::move(settings)) { open(); }

Connection::~Connection() {
  statements_.clear();
  try {
    if (conn_) conn_->close();
  } catch (...) {
    // Closing a dead connection may throw; there is nothing left to release.
  }
}

void Connection::open() {
  register_thread();
  statements_.clear();
  conn_.reset();
  const std::string where = fmt::format("connecting to MariaDB at {}:{}{} as '{}'{}",
                                        settings_.host, settings_.port,
                                        settings_.tls ? " with TLS" : "", settings_.user,
                                        settings_.database.empty()
                                            ? std::string()
                                            : fmt::format(" (database '{}')", settings_.database));
  try {
    sql::ConnectOptionsMap options;
    options["hostName"] = sql::SQLString(fmt::format("tcp://{}:{}", settings_.host, settings_.port));
    options["userName"] = sql::SQLString(settings_.user);
    options["password"] = sql::SQLString(settings_.password);
    if (!settings_.database.empty()) options["schema"] = sql::SQLString(settings_.database);
    options["OPT_CONNECT_TIMEOUT"] = settings_.connect_timeout_s;
    options["OPT_READ_TIMEOUT"] = settings_.read_timeout_s;
    options["OPT_WRITE_TIMEOUT"] = settings_.read_timeout_s;
    options["OPT_RECONNECT"] = false;
    options["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
    if (settings_.tls) add_tls_options(options, settings_);
    conn_.reset(driver().connect(options));
    std::unique_ptr<sql::Statement> setup(conn_->createStatement());
    if (settings_.tls) require_encrypted_session(*setup, where);
    // UTC everywhere, strict types, and the isolation a job queue wants (no gap locks).
    setup->execute("SET SESSION time_zone = '+00:00'");
    setup->execute(
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
        "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'");
    setup->execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    setup->execute(
        fmt::format("SET SESSION innodb_lock_wait_timeout = {}", settings_.lock_wait_timeout_s));
  } catch (const DbError&) {
    conn_.reset();
    throw;
  } catch (const sql::SQLException& e) {
    conn_.reset();
    rethrow(e, where);
  }
}

void Connection::reconnect() { open(); }

bool Connection::ping() noexcept {
  try {
    if (!conn_) return false;
    std::unique_ptr<sql::Statement> stmt(conn_->createStatement());
    std::unique_ptr<sql::ResultSet> rs(stmt->executeQuery("SELECT 1"));
    return rs->next();
  } catch (...) {
    return false;
  }
}

sql::PreparedStatement& Connection::prepare(std::string_view sql) {
  if (!conn_) open();
  if (auto it = statements_.find(sql); it != statements_.end()) return *it->second;
  // Generated statements (multi-row inserts of varying width) would grow the cache without
  // bound; dropping it now and then costs one re-prepare per statement.
  if (statements_.size() >= 256) statements_.clear();
  std::unique_ptr<sql::PreparedStatement> stmt(conn_->prepareStatement(std::string(sql)));
  auto& ref = *stmt;
  statements_.emplace(std::string(sql), std::move(stmt));
  return ref;
}

std::uint64_t Connection::execute(std::string_view sql, std::initializer_list<Param> params) {
  return execute(sql, std::vector<Param>(params));
}

std::uint64_t Connection::execute(std::string_view sql, const std::vector<Param>& params) {
  try {
    if (params.empty()) {
      if (!conn_) open();
      std::unique_ptr<sql::Statement> stmt(conn_->createStatement());
      stmt->execute(std::string(sql));
      const auto count = stmt->getUpdateCount();
      return count > 0 ? static_cast<std::uint64_t>(count) : 0;
    }
    auto& stmt = prepare(sql);
    bind(stmt, params);
    return static_cast<std::uint64_t>(stmt.executeUpdate());
  } catch (const sql::SQLException& e) {
    rethrow(e, excerpt(sql));
  }
}

Rows Connection::query(std::string_view sql, std::initializer_list<Param> params) {
  return query(sql, std::vector<Param>(params));
}

Rows Connection::query(std::string_view sql, const std::vector<Param>& params) {
  try {
    if (params.empty()) {
      // Generated SQL (id lists) goes by the text protocol instead of filling the cache.
      if (!conn_) open();
      std::unique_ptr<sql::Statement> stmt(conn_->createStatement());
      std::unique_ptr<sql::ResultSet> rs(stmt->executeQuery(std::string(sql)));
      return fetch_all(*rs);
    }
    auto& stmt = prepare(sql);
    bind(stmt, params);
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    return fetch_all(*rs);
  } catch (const sql::SQLException& e) {
    rethrow(e, excerpt(sql));
  }
}

void Connection::query_each(std::string_view sql, const std::vector<Param>& params,
                            const std::function<void(const Row&)>& visit) {
  try {
    auto& stmt = prepare(sql);
    bind(stmt, params);
    std::unique_ptr<sql::ResultSet> rs(stmt.executeQuery());
    const auto kinds = column_kinds(*rs);
    Row row;
    row.cells_.resize(kinds.size());
    while (rs->next()) {
      for (unsigned c = 1; c <= kinds.size(); ++c) row.cells_[c - 1] = fetch_cell(*rs, kinds[c - 1], c);
      visit(row);
    }
  } catch (const sql::SQLException& e) {
    rethrow(e, excerpt(sql));
  }
}

Row Connection::query_one(std::string_view sql, std::initializer_list<Param> params) {
  Rows rows = query(sql, params);
  if (rows.size() != 1) {
    throw Error(fmt::format("{}: expected exactly one row, got {}", excerpt(sql), rows.size()));
  }
  return std::move(rows.front());
}

// ---------------------------------------------------------------------------- Transaction

Transaction::Transaction(Connection& connection) : connection_(connection) {
  connection_.execute("START TRANSACTION");
}

Transaction::~Transaction() {
  if (!open_) return;
  try {
    connection_.execute("ROLLBACK");
  } catch (...) {
    // The server rolls back an open transaction itself when the session ends.
  }
}

void Transaction::commit() {
  open_ = false;
  connection_.execute("COMMIT");
}

void Transaction::rollback() {
  open_ = false;
  connection_.execute("ROLLBACK");
}

void insert_rows(Connection& c, const std::string& head, const std::string& one_row, std::size_t width,
                 const std::vector<Param>& values, std::size_t chunk, const std::string& tail) {
  const std::size_t rows = values.size() / width;
  for (std::size_t first = 0; first < rows; first += chunk) {
    const std::size_t n = std::min(chunk, rows - first);
    std::string sql = head;
    sql.reserve(head.size() + n * (one_row.size() + 1) + tail.size());
    for (std::size_t i = 0; i < n; ++i) {
      if (i) sql += ',';
      sql += one_row;
    }
    sql += tail;
    std::vector<Param> slice(values.begin() + static_cast<std::ptrdiff_t>(first * width),
                             values.begin() + static_cast<std::ptrdiff_t>((first + n) * width));
    c.execute(sql, slice);
  }
}

}  // namespace tianyu::db
