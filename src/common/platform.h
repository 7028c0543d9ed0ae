#pragma once
// The platform layer: the only place that calls the operating system directly (POSIX on Linux,
// Win32 on Windows). Everything else (steps, pipeline, consumer logic) uses the standard
// library and this header, so it compiles for both (CI cross-builds it with MinGW-w64).
#include <atomic>
#include <string>

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

// Writes to a socket whose peer vanished must be an error code, not a signal (POSIX SIGPIPE).
void ignore_broken_pipes();

}  // namespace tianyu::platform
