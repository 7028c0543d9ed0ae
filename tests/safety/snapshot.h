#pragma once
// What "nothing changed" means for a bad input: every file under the site root (and the raw
// area and any directory beside the root a test points a symlink at) with a digest of its
// bytes or its link target, and every row of every table of the scratch database. A refused
// input must leave both exactly as they were, apart from the rows a case expects (the failed
// process row itself, its dispatch, the good frame ingested beside a bad one), which the test
// names per table.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/db.h"

namespace tianyu::safety {

namespace fs = std::filesystem;

struct Snapshot {
  std::map<std::string, std::string> files;             // "<label>/<relative>" -> digest
  std::map<std::string, std::set<std::string>> rows;    // table -> each row as text
};

inline std::string file_digest(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), {}};
  return std::to_string(bytes.size()) + ":" + std::to_string(std::hash<std::string>{}(bytes));
}

// Every entry under `dir`, symlinks recorded (not followed). Daemon logs at the top of the
// directory (the process fixture keeps them there) are left out: they are the daemons' own.
inline void add_tree(Snapshot& s, const std::string& label, const fs::path& dir) {
  if (!fs::exists(dir)) return;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    const auto& e = *it;
    if (e.path().parent_path() == dir && e.path().extension() == ".log") continue;
    const auto key = label + "/" + fs::relative(e.path(), dir).generic_string();
    if (e.is_symlink()) {
      s.files[key] = "link " + fs::read_symlink(e.path()).string();
    } else if (e.is_regular_file()) {
      s.files[key] = "file " + file_digest(e.path());
    } else {
      s.files[key] = "dir";
    }
  }
}

inline void add_rows(Snapshot& s, db::Connection& c) {
  for (const auto& t : c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
                               "AND table_type = 'BASE TABLE'")) {
    const auto table = t.str(0);
    // The daemons' heartbeats are the running daemons' own state, refreshed on a timer, not data
    // a step could damage.
    if (table == "daemon_heartbeat") continue;
    auto& rows = s.rows[table];
    for (const auto& r : c.query("SELECT * FROM `" + table + "`")) {
      std::string text;
      for (std::size_t i = 0; i < r.size(); ++i) text += (i ? "|" : "") + r.opt_str(i).value_or("NULL");
      rows.insert(text);
    }
  }
}

// New rows a case expects, per table (every other table must be exactly as before).
using ExpectedNewRows = std::map<std::string, std::size_t>;

// Every file as before; every row that existed before still there, byte for byte; and exactly
// `expected` new rows per table. `running` names the process rows a case is expected to move
// (queued -> success/failed): they are left out of the process table's comparison.
inline void expect_unchanged(const Snapshot& before, const Snapshot& after, const ExpectedNewRows& expected = {},
                             const std::set<std::uint64_t>& running = {}) {
  EXPECT_EQ(after.files, before.files) << "a file under the site root changed";
  auto moving = [&](const std::string& table, const std::string& row) {
    return table == "process" && running.count(std::stoull(row.substr(0, row.find('|'))));
  };
  for (const auto& [table, rows] : before.rows) {
    const auto& now = after.rows.at(table);
    for (const auto& r : rows) {
      if (!moving(table, r) && !now.count(r)) ADD_FAILURE() << "row of " << table << " changed or deleted: " << r;
    }
    std::size_t added = 0;
    for (const auto& r : now) added += !moving(table, r) && !rows.count(r);
    const auto it = expected.find(table);
    EXPECT_EQ(added, it == expected.end() ? 0 : it->second) << "new rows in " << table;
  }
}

}  // namespace tianyu::safety
