#pragma once
// Reading what tianyu-sim writes beside its frames, for tests: the truth CSVs as rows of
// named fields, and the calibration frames by kind.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace tianyu::test {

using CsvRow = std::map<std::string, std::string>;

// Every row of a CSV with a header line, keyed by the header's names.
inline std::vector<CsvRow> read_csv(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> names;
  for (std::stringstream ss(line); std::getline(ss, line, ',');) names.push_back(line);
  std::vector<CsvRow> rows;
  while (std::getline(in, line)) {
    CsvRow row;
    std::stringstream ss(line);
    for (const auto& n : names) std::getline(ss, row[n], ',');
    rows.push_back(std::move(row));
  }
  return rows;
}

// calib/<kind>_001.fits ... calib/<kind>_<n>.fits of a simulated night.
inline std::vector<std::filesystem::path> calib_files(const std::filesystem::path& night,
                                                      const std::string& kind, int n) {
  std::vector<std::filesystem::path> files;
  for (int i = 1; i <= n; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "_%03d.fits", i);
    files.push_back(night / "calib" / (kind + name));
  }
  return files;
}

}  // namespace tianyu::test
