#include "common/migrations.h"

#include <algorithm>
#include <cstdint>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

namespace tianyu::db {
namespace {

constexpr std::string_view kCreateLedger =
    "CREATE TABLE IF NOT EXISTS schema_migration ("
    " version INT UNSIGNED NOT NULL PRIMARY KEY,"
    " name VARCHAR(255) NOT NULL,"
    " checksum CHAR(16) NOT NULL,"
    " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

std::string quote_identifier(const std::string& name) {
  std::string out = "`";
  for (char ch : name) {
    out += ch;
    if (ch == '`') out += '`';
  }
  return out + "`";
}

// Holds a server-wide named lock for the migrating session; released when it goes away.
class MigrationLock {
 public:
  MigrationLock(Connection& c, std::string name) : c_(c), name_(std::move(name)) {
    const Row r = c_.query_one("SELECT GET_LOCK(?, 60)", {name_});
    if (r.is_null(0) || r.i64(0) != 1) {
      throw Error(fmt::format("could not take the migration lock '{}' within 60 s: another "
                              "migration is running",
                              name_));
    }
  }
  ~MigrationLock() {
    try {
      c_.query("SELECT RELEASE_LOCK(?)", {name_});
    } catch (...) {
      // The lock dies with the session anyway.
    }
  }

 private:
  Connection& c_;
  std::string name_;
};

void check_ledger_against(Connection& c, const std::vector<Migration>& migrations) {
  for (const Row& row : c.query("SELECT version, name, checksum FROM schema_migration")) {
    const auto version = static_cast<int>(row.i64(0));
    auto it = std::find_if(migrations.begin(), migrations.end(),
                           [&](const Migration& m) { return m.version == version; });
    if (it == migrations.end()) {
      throw Error(fmt::format(
          "database schema has migration {} ({}) that this binary does not know: the database "
          "is newer than the binary; upgrade the binary",
          version, row.str(1)));
    }
    if (row.str(2) != migration_checksum(it->sql)) {
      throw Error(fmt::format(
          "migration {} was changed after it was applied (checksum {} in the database, {} in "
          "the binary): add a new migration instead of editing an applied one",
          it->name, row.str(2), migration_checksum(it->sql)));
    }
  }
}

}  // namespace

std::vector<std::string> split_sql_statements(std::string_view script) {
  std::vector<std::string> statements;
  std::string current;
  char quote = 0;
  for (std::size_t i = 0; i < script.size(); ++i) {
    const char ch = script[i];
    const char next = i + 1 < script.size() ? script[i + 1] : '\0';
    if (quote) {
      current += ch;
      if (ch == '\\' && quote != '`' && i + 1 < script.size()) {
        current += script[++i];
      } else if (ch == quote) {
        quote = 0;
      }
    } else if (ch == '-' && next == '-') {
      while (i < script.size() && script[i] != '\n') ++i;
      current += '\n';
    } else if (ch == '#') {
      while (i < script.size() && script[i] != '\n') ++i;
      current += '\n';
    } else if (ch == '/' && next == '*') {
      const auto end = script.find("*/", i + 2);
      i = end == std::string_view::npos ? script.size() : end + 1;
      current += ' ';
    } else if (ch == '\'' || ch == '"' || ch == '`') {
      quote = ch;
      current += ch;
    } else if (ch == ';') {
      if (!is_blank(current)) statements.push_back(current);
      current.clear();
    } else {
      current += ch;
    }
  }
  if (!is_blank(current)) statements.push_back(current);
  return statements;
}

std::string migration_checksum(std::string_view sql) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64-bit offset basis
  for (unsigned char ch : sql) {
    h ^= ch;
    h *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", h);
}

int schema_version(Connection& c) {
  const Row exists = c.query_one(
      "SELECT COUNT(*) FROM information_schema.tables "
      "WHERE table_schema = DATABASE() AND table_name = 'schema_migration'");
  if (exists.i64(0) == 0) return 0;
  const Row r = c.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migration");
  return static_cast<int>(r.i64(0));
}

MigrationReport migrate(const Settings& settings, const std::vector<Migration>& migrations) {
  if (settings.database.empty()) throw Error("migrate: no database name configured (db.name)");
  {
    Settings server = settings;
    server.database.clear();
    Connection c(server);
    c.execute(fmt::format("CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4",
                          quote_identifier(settings.database)));
  }
  Connection c(settings);
  MigrationLock lock(c, "tianyu.migrate." + settings.database);
  c.execute(kCreateLedger);
  check_ledger_against(c, migrations);

  MigrationReport report;
  report.from_version = schema_version(c);
  for (const Migration& m : migrations) {
    const Row done =
        c.query_one("SELECT COUNT(*) FROM schema_migration WHERE version = ?", {param(m.version)});
    if (done.i64(0) > 0) continue;
    spdlog::info("applying migration {}", m.name);
    const auto statements = split_sql_statements(m.sql);
    for (std::size_t i = 0; i < statements.size(); ++i) {
      try {
        c.execute(statements[i]);
      } catch (const DbError& e) {
        throw DbError(e.code(), e.sqlstate(),
                      fmt::format("migration {}, statement {} of {}: {}", m.name, i + 1,
                                  statements.size(), e.what()));
      }
    }
    c.execute("INSERT INTO schema_migration (version, name, checksum) VALUES (?, ?, ?)",
              {param(m.version), std::string(m.name), migration_checksum(m.sql)});
    report.applied.emplace_back(m.name);
  }
  report.to_version = schema_version(c);
  return report;
}

}  // namespace tianyu::db
