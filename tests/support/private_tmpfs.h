#pragma once
// A tmpfs of a chosen size mounted over a directory for the length of one test, in a mount
// namespace of the test process's own where it can have one: the mount is then invisible to
// the rest of the machine and vanishes with the test process even when it is killed (a crash
// or a ctest timeout), so no test leaves a mount behind. Child processes (the daemons) inherit
// the namespace and see the tmpfs. Mounting needs root (CAP_SYS_ADMIN); elsewhere mount()
// says why not and the test skips, never passes silently.
//
// fill_leaving() writes a filler file that leaves only a few KB free, so a writer meets a full
// disk (ENOSPC); free_filler() deletes it, as an operator freeing space would.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace tianyu::test {

class PrivateTmpfs {
 public:
  PrivateTmpfs() = default;
  PrivateTmpfs(const PrivateTmpfs&) = delete;
  PrivateTmpfs& operator=(const PrivateTmpfs&) = delete;
  ~PrivateTmpfs() { unmount(); }

  // Mounts `bytes` of tmpfs over the existing directory `dir`. Returns "" on success, else why
  // it could not (the caller skips). Call from the thread that later starts the daemons: a
  // mount namespace is per thread until a fork inherits it.
  std::string mount(const std::filesystem::path& dir, std::uint64_t bytes) {
    if (::geteuid() != 0) return "not root: mount -t tmpfs needs CAP_SYS_ADMIN";
    enter_private_namespace();
    const std::string options = "size=" + std::to_string(bytes);
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      return "mount -t tmpfs -o " + options + " on " + dir.string() + " failed: " + std::strerror(errno);
    }
    dir_ = dir;
    return "";
  }
  // Lazily (MNT_DETACH) when a file is still open on it, so teardown never hangs or throws.
  void unmount() {
    if (dir_.empty()) return;
    if (::umount(dir_.c_str()) != 0) ::umount2(dir_.c_str(), MNT_DETACH);
    dir_.clear();
  }
  bool mounted() const { return !dir_.empty(); }
  bool private_namespace() const { return private_namespace_; }

  std::uint64_t free_bytes() const {
    struct statvfs s {};
    if (::statvfs(dir_.c_str(), &s) != 0) return 0;
    return static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
  }

  // Writes <dir>/<name> until at most `keep` bytes are free; returns the filler's size.
  std::uint64_t fill_leaving(std::uint64_t keep, const std::string& name = "filler.bin") {
    filler_ = dir_ / name;
    const int fd = ::open(filler_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 0;
    const std::vector<char> block(1 << 16, 'x');
    std::uint64_t written = 0;
    for (std::uint64_t free = free_bytes(); free > keep; free = free_bytes()) {
      const std::uint64_t want = std::min<std::uint64_t>(block.size(), free - keep);
      const auto n = ::write(fd, block.data(), want);
      if (n <= 0) break;  // full already: the page rounding of tmpfs
      written += static_cast<std::uint64_t>(n);
    }
    ::close(fd);
    return written;
  }
  void free_filler() {
    std::error_code ec;
    if (!filler_.empty()) std::filesystem::remove(filler_, ec);
  }

 private:
  // Once per process: a mount namespace of its own whose mounts do not propagate back. When
  // it cannot (no CAP_SYS_ADMIN over namespaces), the mount goes in the shared namespace and
  // the destructor's unmount is what cleans up.
  void enter_private_namespace() {
    static const bool entered = [] {
      if (::unshare(CLONE_NEWNS) != 0) return false;
      return ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
    }();
    private_namespace_ = entered;
  }

  std::filesystem::path dir_;
  std::filesystem::path filler_;
  bool private_namespace_ = false;
};

}  // namespace tianyu::test
