#pragma once
// The platform layer: the only place that calls the operating system directly (POSIX on Linux,
// Win32 on Windows). Everything else (steps, pipeline, consumer logic) uses the standard
// library and this header, so it compiles for both (CI cross-builds it with MinGW-w64).
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace tianyu::platform {

// This process's id, for instance names and logs.
long process_id();

// The host's name ("host" when it cannot be read).
std::string host_name();

// Stop requests (SIGINT/SIGTERM; on Windows Ctrl-C, Ctrl-Break, console close and shutdown)
// increment `requests`; when `exit_on_second` a second request ends the process at once with
// exit code 130. The counter must outlive the process's handling of signals.
void on_stop_requests(std::atomic<int>& requests, bool exit_on_second);

// Runs `command` through the system shell with `input` on its standard input; returns its exit
// status (-1 when it could not be started).
int run_with_input(const std::string& command, const std::string& input);

// How a program run with a time limit ended.
struct RunResult {
  int exit_code = -1;      // its exit status; -1 when it was killed (by the limit or a signal)
  bool timed_out = false;  // the limit ran out and its process group was killed
  int signal = 0;          // the signal that ended it, 0 when it exited
  double seconds = 0;      // wall time
  // CPU seconds of the program and of the helpers it waited for (wait4's accounting).
  double cpu_seconds = 0;
  // A CPU limit was given and this run used it up: the program, or a helper it started, was
  // stopped by it (SIGXCPU) however the program itself then exited.
  bool out_of_cpu_time = false;
};

// Runs the program argv[0] (searched on PATH) with the arguments argv[1..], never through a
// shell, in a process group of its own, its standard output and error appended to
// `output_log` (created if absent) and its standard input empty. When `limit` runs out the
// whole group is terminated (SIGTERM, then SIGKILL two seconds later), so helpers it started
// die with it. With `cpu_limit`, every process of the run is held to that much CPU time
// (RLIMIT_CPU, inherited by its helpers): on a busy machine a wall-clock limit says little of
// how much work was tried, and astrometry.net's engine overruns its own --cpulimit several
// times over on a field it cannot solve. Throws tianyu::InputError when the program does not
// exist or cannot be executed (naming it: no retry can help), tianyu::ResourceFailure when no
// process could be created.
// Windows: not supported yet: throws tianyu::ResourceFailure saying so, which hands the step
// back to the queue (attempt not spent) for a Linux consumer of the group to take.
RunResult run_with_time_limit(const std::vector<std::string>& argv, std::chrono::seconds limit,
                              const std::string& output_log,
                              std::optional<std::chrono::seconds> cpu_limit = std::nullopt);

// Writes to a socket whose peer vanished must be an error code, not a signal (POSIX SIGPIPE).
void ignore_broken_pipes();

// A consumer allocates and frees the same frame-sized buffers (16 MB for a 2048^2 float image)
// for every frame. glibc serves each from a fresh mmap and unmaps it when freed, so the kernel
// faults in and zeroes every page again: on a 200-frame night, 2.4 million page faults and a
// tenth of the CPU. Kept in the heap (buffers up to 32 MB, glibc's largest mmap threshold),
// freed memory is reused; larger buffers (a Tianyu-I frame, 264 MB) are still mapped and
// returned. Elsewhere (not glibc): nothing.
void keep_frame_buffers_in_heap();

}  // namespace tianyu::platform
