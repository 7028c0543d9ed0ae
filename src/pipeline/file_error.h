#pragma once
// A file that could not be written or read, and whether trying again can help. The operating
// system's errno at the failing call decides: a full disk, an exhausted quota, an I/O error or a
// shortage of descriptors or memory may pass (retryable: the process waits and runs again, the
// night is not cancelled); anything else (no permission, no such directory, a bad name) will
// not. The errno must be read right after the failing call: any later call may overwrite it.
#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>

#include "pipeline/failure.h"

namespace tianyu::pipeline {

class FileError : public Failure {
 public:
  explicit FileError(const std::string& message, bool retryable = false)
      : Failure(message), retryable_(retryable) {}
  bool retryable() const noexcept override { return retryable_; }
  bool transient_resource() const noexcept override { return retryable_; }  // errno said so

 private:
  bool retryable_;
};

// errno values of a resource that was short for a moment rather than an input that is wrong.
inline bool transient_errno(int error) noexcept {
  switch (error) {
    case ENOSPC:
    case EIO:
    case EAGAIN:
    case EINTR:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
#ifdef EDQUOT
    case EDQUOT:
#endif
      return true;
    default:
      return false;
  }
}

// "<path>: <what>: No space left on device (errno 28, transient: a retry can help)".
inline std::string describe_errno(const std::filesystem::path& path, const std::string& what, int error) {
  std::string text = path.string() + ": " + what;
  if (error == 0) return text;
  text += ": " + std::generic_category().message(error) + " (errno " + std::to_string(error) +
          (transient_errno(error) ? ", transient: a retry can help)" : ", a retry will not help)");
  return text;
}

inline FileError file_error(const std::filesystem::path& path, const std::string& what, int error) {
  return FileError(describe_errno(path, what, error), transient_errno(error));
}

}  // namespace tianyu::pipeline
