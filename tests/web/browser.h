#pragma once
// Test helpers for tianyu-web: the daemon under the read-only account (started through
// run/env-reader.sh, as scripts/run-local.sh --web does, so the test never handles a secret),
// and Debian's headless chromium to load a page as an operator's browser would.
#include <sys/prctl.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>

namespace tianyu::test {

// Runs `command` under bash as a child that dies with the test; SIGTERM (then SIGKILL) when it
// goes away. `exec` in the command makes the child the daemon itself.
class ShellDaemon {
 public:
  ShellDaemon(const std::string& command, const std::filesystem::path& log) : log_(log) {
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) ::dup2(fd, 1), ::dup2(fd, 2);
      ::execl("/bin/bash", "bash", "-c", command.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~ShellDaemon() { stop(); }
  ShellDaemon(const ShellDaemon&) = delete;
  ShellDaemon& operator=(const ShellDaemon&) = delete;

  // Exit status after SIGTERM, or -1 when it had to be killed (or was stopped already).
  int stop(int seconds = 10) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < seconds * 20; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }
  std::string log() const {
    std::ifstream in(log_);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  // The port from the "listening on http://HOST:PORT/" line, waiting up to `seconds`.
  int wait_for_port(int seconds = 30) const {
    const std::regex line(R"(listening on http://[^:]+:(\d+)/)");
    for (int i = 0; i < seconds * 10; ++i) {
      std::smatch m;
      const std::string text = log();
      if (std::regex_search(text, m, line)) return std::stoi(m[1]);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("tianyu-web did not report its port:\n" + log());
  }

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
};

// Output of a shell command (stdout only), with its exit status.
inline std::string run_command(const std::string& command, int* status = nullptr) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run: " + command);
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int s = ::pclose(pipe);
  if (status) *status = WIFEXITED(s) ? WEXITSTATUS(s) : -1;
  return out;
}

// chromium headless: the DOM after the page ran (scripts included, were there any), and a
// screenshot when `screenshot` is given. A profile directory of its own per call, so
// concurrent tests never share one.
inline std::string chromium(const std::string& url, const std::filesystem::path& scratch,
                            const std::filesystem::path& screenshot = {}) {
  static int calls = 0;
  const auto profile = scratch / ("chromium-profile-" + std::to_string(++calls));
  const std::string common = "timeout 90 /usr/bin/chromium --headless --no-sandbox --disable-gpu "
                             "--no-first-run --disable-dev-shm-usage --user-data-dir='" + profile.string() + "' ";
  if (!screenshot.empty()) {
    run_command(common + "--hide-scrollbars --window-size=1280,900 --screenshot='" + screenshot.string() + "' '" +
                url + "' 2>/dev/null");
  }
  int status = 0;
  std::string dom = run_command(common + "--virtual-time-budget=3000 --dump-dom '" + url + "' 2>/dev/null", &status);
  if (status != 0) throw std::runtime_error("chromium failed (" + std::to_string(status) + ") on " + url);
  return dom;
}

// How many times `needle` occurs in `text`.
inline std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

}  // namespace tianyu::test
