#pragma once
// CFITSIO table HDUs behind RAII, for the light-curve files and catalogue extracts: one handle
// that always closes, and one check that turns a CFITSIO status into a FitsError naming the
// file and what was being done (retryable only when errno says the disk or system was short).
// CFITSIO is built reentrant on Debian (fits_is_reentrant() == 1): separate handles may be
// used from separate threads.
#include <fitsio.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "pipeline/fits_io.h"

namespace tianyu::pipeline::fits_table {

class Handle {
 public:
  Handle() = default;
  ~Handle() { close(); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  fitsfile** out() { return &f_; }
  fitsfile* get() const { return f_; }
  int close() {
    int status = 0;
    if (f_) fits_close_file(f_, &status);
    f_ = nullptr;
    return status;
  }

 private:
  fitsfile* f_ = nullptr;
};

inline FitsError error(const std::filesystem::path& path, const std::string& what, int status, int error_number) {
  char text[FLEN_STATUS] = {0};
  fits_get_errstatus(status, text);
  const bool system = status == FILE_NOT_OPENED || status == FILE_NOT_CREATED || status == WRITE_ERROR ||
                      status == READ_ERROR || status == FILE_NOT_CLOSED || status == MEMORY_ALLOCATION ||
                      status == TOO_MANY_FILES;
  std::string message = path.string() + ": " + what + ": " + text;
  if (!system) return FitsError(message + " (bad input: a retry will not help)");
  const bool transient = transient_errno(error_number) || status == TOO_MANY_FILES;
  if (error_number != 0) message += " (" + describe_errno("", "errno", error_number).substr(2) + ")";
  return FitsError(message, transient);
}

// Content that is not what a light curve or catalogue file must hold: bad input.
[[noreturn]] inline void refuse(const std::filesystem::path& path, const std::string& what) {
  throw FitsError(path.string() + ": " + what + " (bad input: a retry will not help)");
}

// Runs one CFITSIO call with a fresh errno, read right after it.
template <typename Call>
void check(const std::filesystem::path& path, const std::string& what, Call&& call) {
  errno = 0;
  int status = 0;
  call(status);
  const int error_number = errno;
  if (status != 0) throw error(path, what, status, error_number);
}

}  // namespace tianyu::pipeline::fits_table
