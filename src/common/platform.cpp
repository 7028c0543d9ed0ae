#include "common/platform.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/errors.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <fcntl.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

namespace tianyu::platform {
namespace {

std::atomic<int>* g_requests = nullptr;
bool g_exit_on_second = false;

void request_stop() {
  if (!g_requests) return;
  if (g_requests->fetch_add(1) >= 1 && g_exit_on_second) std::_Exit(130);
}

#ifdef _WIN32
BOOL WINAPI on_console_event(DWORD event) {
  request_stop();
  if (event == CTRL_CLOSE_EVENT || event == CTRL_LOGOFF_EVENT || event == CTRL_SHUTDOWN_EVENT) {
    // Returning would let Windows end the process at once. Waiting here (this handler has its
    // own thread) gives the drain the system's grace period (about 5 s for a closed console);
    // the process ends, and this wait with it, as soon as main returns. A step still running
    // then is retried from its lease, as after any kill.
    ::Sleep(INFINITE);
  }
  return TRUE;
}
#else
extern "C" void on_signal(int) { request_stop(); }
#endif

}  // namespace

long process_id() {
#ifdef _WIN32
  return static_cast<long>(::GetCurrentProcessId());
#else
  return static_cast<long>(::getpid());
#endif
}

std::string host_name() {
#ifdef _WIN32
  char name[MAX_COMPUTERNAME_LENGTH + 1] = {};
  DWORD size = sizeof name;
  if (!::GetComputerNameA(name, &size)) return "host";
  return std::string(name, size);
#else
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "host";
  return name;
#endif
}

void on_stop_requests(std::atomic<int>& requests, bool exit_on_second) {
  g_requests = &requests;
  g_exit_on_second = exit_on_second;
#ifdef _WIN32
  ::SetConsoleCtrlHandler(on_console_event, TRUE);
#else
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
#endif
}

int run_with_input(const std::string& command, const std::string& input) {
#ifdef _WIN32
  FILE* pipe = ::_popen(command.c_str(), "w");
#else
  FILE* pipe = ::popen(command.c_str(), "w");
#endif
  if (!pipe) return -1;
  std::fwrite(input.data(), 1, input.size(), pipe);
#ifdef _WIN32
  return ::_pclose(pipe);
#else
  return ::pclose(pipe);
#endif
}

#ifndef _WIN32
namespace {

// A descriptor closed when it goes out of scope.
struct Descriptor {
  int fd = -1;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

// Starts argv in a process group of its own; an exec failure comes back through a close-on-exec
// pipe (as errno), so "no such program" is told from "the program failed".
// `cpu_limit_s` > 0: RLIMIT_CPU, soft at the limit (SIGXCPU) and hard a second later (SIGKILL).
pid_t start_in_own_group(const std::vector<std::string>& argv, int log_fd, rlim_t cpu_limit_s) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw ResourceFailure("cannot run " + argv[0] + ": pipe: " + std::strerror(errno));
  Descriptor read_end{fds[0]}, write_end{fds[1]};
  const pid_t pid = ::fork();
  if (pid < 0) throw ResourceFailure("cannot run " + argv[0] + ": fork: " + std::strerror(errno));
  if (pid == 0) {  // the child: async-signal-safe calls only
    ::setpgid(0, 0);
    if (cpu_limit_s > 0) {
      const struct rlimit cpu{cpu_limit_s, cpu_limit_s + 1};
      ::setrlimit(RLIMIT_CPU, &cpu);
    }
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execvp(args[0], args.data());
    const int error = errno;
    [[maybe_unused]] auto n = ::write(fds[1], &error, sizeof error);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here: whichever runs first, the group exists before we may kill it
  ::close(write_end.fd);
  write_end.fd = -1;
  int error = 0;
  ssize_t n;
  while ((n = ::read(read_end.fd, &error, sizeof error)) < 0 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof error)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    throw InputError("cannot run '" + argv[0] + "': " + std::strerror(error) +
                     (error == ENOENT ? " (is it installed and on PATH?)" : ""));
  }
  return pid;
}

// Waits for `pid` until `deadline`; false when the deadline passed first. `usage` gets the
// CPU time of the child and of the descendants it waited for.
bool wait_until(pid_t pid, std::chrono::steady_clock::time_point deadline, int& status, struct rusage& usage) {
  for (;;) {
    const pid_t r = ::wait4(pid, &status, WNOHANG, &usage);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return true;  // already reaped: nothing left to wait for
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace
#endif

RunResult run_with_time_limit(const std::vector<std::string>& argv, std::chrono::seconds limit,
                              const std::string& output_log, std::optional<std::chrono::seconds> cpu_limit) {
  if (argv.empty()) throw InputError("run_with_time_limit: no program given");
#ifdef _WIN32
  (void)limit;
  (void)output_log;
  (void)cpu_limit;
  // Not a fault of the work: a Linux consumer of the group can run it. A transient resource
  // failure hands the step back to the queue without spending its attempt budget, instead of
  // failing it (and the night's astrometry) for good on the one node that lacks the means.
  throw ResourceFailure("'" + argv[0] +
                        "' cannot run on this Windows consumer (no external programs under a time limit "
                        "here); handed back for a Linux consumer of the group");
#else
  Descriptor log{::open(output_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)};
  if (log.fd < 0) {
    const int error = errno;
    const std::string what = "cannot open the log " + output_log + " of " + argv[0] + ": " + std::strerror(error);
    if (error == ENOSPC || error == EIO || error == EMFILE || error == ENFILE) throw ResourceFailure(what);
    throw InputError(what);
  }
  const auto start = std::chrono::steady_clock::now();
  const rlim_t cpu_limit_s = cpu_limit ? static_cast<rlim_t>(std::max<std::int64_t>(1, cpu_limit->count())) : 0;
  const pid_t pid = start_in_own_group(argv, log.fd, cpu_limit_s);
  RunResult result;
  int status = 0;
  struct rusage usage {};
  if (!wait_until(pid, start + limit, status, usage)) {
    result.timed_out = true;
    ::kill(-pid, SIGTERM);
    if (!wait_until(pid, std::chrono::steady_clock::now() + std::chrono::seconds(2), status, usage)) {
      ::kill(-pid, SIGKILL);
      while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
      }
    }
  }
  ::kill(-pid, SIGKILL);  // helpers it left behind in its group (ESRCH when none: fine)
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  // One process reaching the limit is stopped by it, so the run's total is at least the limit
  // (less a scheduler tick or two of accounting: 0.9989 s was measured for a 1-s limit).
  result.out_of_cpu_time = cpu_limit_s > 0 && result.cpu_seconds + 0.05 >= static_cast<double>(cpu_limit_s);
  return result;
#endif
}

void ignore_broken_pipes() {
#ifndef _WIN32
  std::signal(SIGPIPE, SIG_IGN);
#endif
}

void keep_frame_buffers_in_heap() {
#if defined(__GLIBC__)
  constexpr int kLargestHeapBuffer = 32 * 1024 * 1024;  // glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64 bits
  ::mallopt(M_MMAP_THRESHOLD, kLargestHeapBuffer);
  // Freed heap memory stays with the process for the next frame (what it held at its peak).
  ::mallopt(M_TRIM_THRESHOLD, 4 * kLargestHeapBuffer);
#endif
}

}  // namespace tianyu::platform
