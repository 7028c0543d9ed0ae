#pragma once
// Runs one of our executables as a child process for an integration test, with extra
// environment variables and its output in a log file; stopped (SIGTERM, then SIGKILL) when the
// object goes away, and killed by the kernel if the test process itself dies first (a crash or
// a ctest timeout), so no test leaves a daemon behind (the ctest no_leaked_daemons checks).
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace tianyu::test {

class Daemon {
 public:
  Daemon(const std::string& executable, std::vector<std::string> args,
         const std::map<std::string, std::string>& env, const std::filesystem::path& log);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  void kill_hard();  // SIGKILL, as a crash or an OOM kill would
  void pause();      // SIGSTOP: the whole process stalls (a long GC pause, a frozen VM)
  void resume();     // SIGCONT
  // SIGTERM and wait up to `seconds`; returns the exit status, or -1 if it had to be killed.
  int stop(int seconds = 20);
  // Waits up to `seconds` for it to exit by itself; its exit code, or -1 if it is still running.
  int wait_for_exit(int seconds);
  pid_t pid() const { return pid_; }
  // The last `lines` lines of its log, headed by its name, for failure messages.
  std::string log_tail(std::size_t lines) const;

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
};

// The directory holding the tianyu executables (build/bin).
std::string bin_dir();

}  // namespace tianyu::test
