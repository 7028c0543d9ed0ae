#include "support/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace tianyu::test {

std::string bin_dir() { return TIANYU_BIN_DIR; }

Daemon::Daemon(const std::string& executable, std::vector<std::string> args,
               const std::map<std::string, std::string>& env, const std::filesystem::path& log)
    : log_(log) {
  const std::string path = bin_dir() + "/" + executable;
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // Dies with the test process (checked again after arming, in case it died before).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(path.c_str()));
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
}

Daemon::~Daemon() {
  if (pid_ > 0) stop(5);
}

void Daemon::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void Daemon::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

void Daemon::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int Daemon::stop(int seconds) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGCONT);  // a paused daemon cannot act on SIGTERM
  ::kill(pid_, SIGTERM);
  const int code = wait_for_exit(seconds);
  if (pid_ > 0) kill_hard();
  return code;
}

int Daemon::wait_for_exit(int seconds) {
  if (pid_ <= 0) return -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

std::string Daemon::log_tail(std::size_t lines) const {
  std::ifstream in(log_);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(std::move(line));
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out = "--- " + log_.filename().string() + " (last " + std::to_string(tail.size()) + " lines)";
  for (const auto& line : tail) out += "\n" + line;
  return out;
}

}  // namespace tianyu::test
