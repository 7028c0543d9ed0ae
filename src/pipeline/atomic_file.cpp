#include "pipeline/atomic_file.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>

#include "pipeline/temp_name.h"

// The POSIX calls (open, write, fsync, close) are what tells a full disk from a bad path and
// makes the data durable; Windows gets its equivalents (no directory flush there: NTFS
// journals the rename itself).
#ifndef _WIN32
#include <unistd.h>
#else
#include <io.h>
#endif

namespace tianyu::pipeline {
namespace {

namespace fs = std::filesystem;

#ifdef _WIN32
int open_new(const fs::path& p) { return _wopen(p.c_str(), _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY, 0644); }
int open_existing(const fs::path& p) { return _wopen(p.c_str(), _O_RDWR | _O_BINARY); }
long long write_some(int fd, const char* data, std::size_t n) { return _write(fd, data, static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30))); }
int sync_fd(int fd) { return _commit(fd); }
int close_fd(int fd) { return _close(fd); }
#else
int open_new(const fs::path& p) { return ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644); }
int open_existing(const fs::path& p) { return ::open(p.c_str(), O_RDONLY | O_CLOEXEC); }
long long write_some(int fd, const char* data, std::size_t n) { return ::write(fd, data, n); }
int sync_fd(int fd) { return ::fsync(fd); }
int close_fd(int fd) { return ::close(fd); }
#endif

// One open descriptor; close() is checked by the writer (a delayed write error may only show
// there), the destructor closes quietly after an earlier error.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) close_fd(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }
  int close() {
    const int fd = fd_;
    fd_ = -1;
    return close_fd(fd);
  }

 private:
  int fd_;
};

// Removes the temporary file unless the rename consumed it.
class TempFile {
 public:
  explicit TempFile(fs::path path) : path_(std::move(path)) {}
  ~TempFile() {
    if (!path_.empty()) {
      std::error_code ignored;
      fs::remove(path_, ignored);
    }
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const fs::path& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

void sync_file(const fs::path& file, const fs::path& named) {
  Descriptor fd(open_existing(file));
  if (fd.get() < 0) throw file_error(named, "opening to flush to disk", errno);
  if (sync_fd(fd.get()) != 0) throw file_error(named, "flushing to disk (fsync)", errno);
  if (fd.close() != 0) throw file_error(named, "closing after fsync", errno);
}

void sync_directory(const fs::path& directory, const fs::path& named) {
#ifndef _WIN32
  Descriptor fd(::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) throw file_error(named, "opening its directory to flush the rename", errno);
  if (sync_fd(fd.get()) != 0) throw file_error(named, "flushing its directory (fsync)", errno);
#else
  (void)directory;
  (void)named;
#endif
}

void write_all(int fd, std::string_view bytes, const fs::path& named) {
  while (!bytes.empty()) {
    const long long n = write_some(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;  // a signal before anything was written: just go on
      throw file_error(named, "writing", errno);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

fs::path temp_path_beside(const fs::path& target) {
  // Appended piece by piece: GCC 12 warns (falsely, -Wrestrict) on "." + string.
  std::string name = ".";
  name += target.filename().string();
  name += ".tmp";
  name += unique_temp_suffix();
  return target.parent_path() / name;
}

void publish_temp_file(const fs::path& temp, const fs::path& target) {
  TempFile guard(temp);
  sync_file(temp, target);
  std::error_code ec;
  fs::rename(temp, target, ec);
  if (ec) throw file_error(target, "renaming " + temp.filename().string() + " into place", ec.value());
  guard.release();
  sync_directory(target.parent_path(), target);
}

void write_file_atomically(const fs::path& path, std::string_view bytes) {
  TempFile temp(temp_path_beside(path));
  {
    Descriptor fd(open_new(temp.path()));
    if (fd.get() < 0) throw file_error(path, "creating " + temp.path().filename().string(), errno);
    write_all(fd.get(), bytes, path);
    if (sync_fd(fd.get()) != 0) throw file_error(path, "flushing to disk (fsync)", errno);
    if (fd.close() != 0) throw file_error(path, "closing", errno);
  }
  std::error_code ec;
  fs::rename(temp.path(), path, ec);
  if (ec) throw file_error(path, "renaming " + temp.path().filename().string() + " into place", ec.value());
  temp.release();
  sync_directory(path.parent_path(), path);
}

}  // namespace tianyu::pipeline
