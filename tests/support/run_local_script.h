#pragma once
// scripts/run-local.sh (the README's main job) as the end-to-end tests run it: this build's
// executables (--no-build), a scratch database, the log kept beside the output directory.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace tianyu::test {

struct RunLocalResult {
  int exit_code = -1;
  std::string log;
};

// The executables beside the running test (its build tree's).
inline std::string this_bin_dir() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

// run-local.sh --raw RAW --out OUT --database DATABASE ARGS (ARGS already shell-quoted).
inline RunLocalResult run_local_script(const std::filesystem::path& raw, const std::filesystem::path& out,
                                       const std::string& database, const std::string& args) {
  const std::filesystem::path log = out.string() + ".log";
  const std::string command = "TIANYU_BIN_DIR='" + this_bin_dir() + "' bash '" + std::string(TIANYU_SOURCE_DIR) +
                              "/scripts/run-local.sh' --no-build --raw '" + raw.string() + "' --out '" +
                              out.string() + "' --database '" + database + "' " + args + " > '" + log.string() +
                              "' 2>&1";
  RunLocalResult r;
  const int status = std::system(command.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(log);
  r.log.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

}  // namespace tianyu::test
