#pragma once
// A 1 MiB tmpfs mounted on a fresh directory for the length of one test, to show what a full
// disk does to a writer. Mounting needs root (CAP_SYS_ADMIN); elsewhere the test is skipped with
// a message saying so, never passed silently.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tianyu::pipeline::testing {

class SmallTmpfs {
 public:
  // Mounts; returns an empty string on success, else why it could not (the caller skips).
  std::string mount(const std::filesystem::path& dir) {
    if (::geteuid() != 0) return "not root: cannot mount a small tmpfs to fill";
    std::filesystem::create_directories(dir);
    const std::string command = "mount -t tmpfs -o size=1m tmpfs '" + dir.string() + "' 2>/dev/null";
    if (std::system(command.c_str()) != 0) return "mount -t tmpfs failed (no CAP_SYS_ADMIN?)";
    dir_ = dir;
    return "";
  }
  ~SmallTmpfs() {
    if (!dir_.empty()) std::system(("umount '" + dir_.string() + "'").c_str());
  }

 private:
  std::filesystem::path dir_;
};

// Every entry of `dir`, names only, for "nothing left behind" checks.
inline std::vector<std::string> entries(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace tianyu::pipeline::testing
