#include "common/platform.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
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
BOOL WINAPI on_console_event(DWORD) {
  request_stop();
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

void ignore_broken_pipes() {
#ifndef _WIN32
  std::signal(SIGPIPE, SIG_IGN);
#endif
}

}  // namespace tianyu::platform
