#pragma once
// The bad-input suite's fixture: the process fixture (a scratch database, a site of its own
// with groups general and bigram, the daemons as child processes), plus a directory beside the
// site root that symlinks point at, the executables run as an operator runs them, FITS frames
// good and bad, and the snapshot of files and rows every case compares.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "pipeline/fits_io.h"
#include "process/flow_fixture.h"
#include "safety/snapshot.h"
#include "support/process_fixture_helpers.h"

extern char** environ;

namespace tianyu::safety {

using namespace tianyu;

struct ToolRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

class BadInput : public ProcessFlow {
 protected:
  void SetUp() override {
    ProcessFlow::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    outside_ = root_.parent_path() / (site_ + "_outside");
    test::lay_out_protected_files(root_, outside_, {"night0", "link_out", "keep.txt"});
  }
  void TearDown() override {
    const bool keep = HasFailure();
    ProcessFlow::TearDown();
    if (!outside_.empty() && !keep) fs::remove_all(outside_);
  }

  Snapshot snapshot() {
    Snapshot s;
    add_tree(s, "root", root_);
    add_tree(s, "outside", outside_);
    add_rows(s, *c_);
    return s;
  }

  // One of our executables, as an operator runs it, against the scratch database.
  ToolRun run_tool(const std::string& exe, const std::vector<std::string>& args,
                   std::map<std::string, std::string> env = {}) {
    env.emplace("TIANYU_DB_NAME", scratch_->name());
    env.emplace("TIANYU_LOG_LEVEL", "warn");
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
      const std::string kv = *e;
      if (!env.count(kv.substr(0, kv.find('=')))) envs.push_back(kv);
    }
    for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
    const std::string path = test::bin_dir() + "/" + exe;
    std::vector<std::string> argv_s = {path};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    const auto out = outside_.parent_path() / (site_ + "_tool.out");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    ToolRun run;
    if (posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), envp.data()) == 0) {
      int status = 0;
      waitpid(pid, &status, 0);
      run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    std::ifstream in(out, std::ios::binary);
    run.output.assign(std::istreambuf_iterator<char>(in), {});
    fs::remove(out);
    return run;
  }

  // A file outside the site root for the tools to read (a DAG, a config).
  fs::path input_file(const std::string& name, const std::string& text) {
    const auto p = outside_.parent_path() / (site_ + "_" + name);
    std::ofstream(p, std::ios::binary) << text;
    inputs_.push_back(p);
    return p;
  }

  std::string error_of(std::uint64_t id) {
    return c_->query_one("SELECT COALESCE(error, '') FROM process WHERE process_id = ?", {id}).str(0);
  }

  ~BadInput() override {
    std::error_code ignored;  // a destructor must not throw
    for (const auto& p : inputs_) fs::remove(p, ignored);
  }

  fs::path outside_;
  std::vector<fs::path> inputs_;
};

// A small science frame with the cards a camera writes; `change` replaces or adds cards.
inline void write_frame(const fs::path& path, int minute, const pipeline::Header& change = {},
                        const pipeline::Image& image = pipeline::Image(16, 16, 100.0f)) {
  pipeline::Header h = {{"IMAGETYP", std::string("LIGHT"), ""},
                        {"DATE-OBS", fmt::format("2026-01-15T13:{:02d}:00", minute), ""},
                        {"EXPTIME", 10.0, ""}, {"GAIN", 1.2, ""}, {"RDNOISE", 3.0, ""},
                        {"SATURATE", 60000.0, ""}, {"FILTER", std::string("r"), ""}};
  for (const auto& c : change) {
    auto it = std::find_if(h.begin(), h.end(), [&](const auto& x) { return x.key == c.key; });
    if (it == h.end()) {
      h.push_back(c);
    } else {
      *it = c;
    }
  }
  pipeline::write_fits(path, image, h, pipeline::PixelType::uint16);
}

// A FITS file written byte by byte: `cards` (each padded to 80 characters, END added, the
// header padded to 2880 bytes) followed by `data` — headers no FITS writer would produce.
inline void write_raw_fits(const fs::path& path, const std::vector<std::string>& cards, const std::string& data = "") {
  std::string header;
  for (const auto& c : cards) header += c + std::string(80 - c.size(), ' ');
  header += "END" + std::string(77, ' ');
  header += std::string((2880 - header.size() % 2880) % 2880, ' ');
  std::ofstream(path, std::ios::binary) << header << data;
}

// A FITS card "KEY     = value" in the fixed format.
inline std::string card(const std::string& key, const std::string& value) {
  return fmt::format("{:<8}= {:>20}", key, value);
}

}  // namespace tianyu::safety
