#pragma once
// CFITSIO table HDUs behind RAII, for the light-curve files and catalogue extracts: one handle
// that always closes, and one check that turns a CFITSIO status into a FitsError naming the
// file and what was being done (retryable only when errno says the disk or system was short).
// CFITSIO is built reentrant on Debian (fits_is_reentrant() == 1): separate handles may be
// used from separate threads.
#include <fitsio.h>

#include <filesystem>
#include <string>
#include <utility>

#include "pipeline/fits_io.h"
#include "pipeline/fits_support.h"

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

// A CFITSIO status as a FitsError, by fits_io's rule (retryable only when errno says the disk
// or the system was short).
inline FitsError error(const std::filesystem::path& path, const std::string& what, int status, int error_number) {
  return fits_detail::fits_error(path, what, status, error_number);
}

// Content that is not what a light curve or catalogue file must hold: bad input.
[[noreturn]] inline void refuse(const std::filesystem::path& path, const std::string& what) {
  throw FitsError(path.string() + ": " + what + " (bad input: a retry will not help)");
}

// Runs one CFITSIO call with a fresh errno, read right after it.
template <typename Call>
void check(const std::filesystem::path& path, const std::string& what, Call&& call) {
  fits_detail::fits_call(path, what, std::forward<Call>(call));
}

}  // namespace tianyu::pipeline::fits_table
