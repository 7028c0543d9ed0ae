#pragma once
// Versioned schema migrations: schema/NNNN_name.sql files, embedded into the binaries at build
// time and applied in order. Applied migrations are recorded with a checksum; an edited
// migration or a database newer than the binary is refused instead of guessed at.
#include <string>
#include <string_view>
#include <vector>

#include "common/db.h"

namespace tianyu::db {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// The migrations compiled into this binary, ordered by version.
const std::vector<Migration>& embedded_migrations();

struct MigrationReport {
  int from_version = 0;
  int to_version = 0;
  std::vector<std::string> applied;  // file names applied by this call
};

// Creates the database named in the connection settings if it is missing, then applies every
// pending migration. Safe to run concurrently (a server-side lock serialises migrators) and
// repeatedly (applied migrations are skipped).
MigrationReport migrate(const Settings& settings,
                        const std::vector<Migration>& migrations = embedded_migrations());

// The highest applied version, 0 for an empty database.
int schema_version(Connection& connection);

// Splits a migration file into statements at top-level semicolons (quotes and comments aware).
std::vector<std::string> split_sql_statements(std::string_view script);

// FNV-1a 64-bit digest as 16 hex digits: detects an edited migration (not a security hash).
std::string migration_checksum(std::string_view sql);

}  // namespace tianyu::db
