#pragma once
// What fits_io.cpp and fits_rows.cpp share inside the pipeline (not for the steps): the one
// process-wide CFITSIO lock, a CFITSIO status turned into a FitsError that says whether a
// retry can help, and header cards written the same way.
#include <fitsio.h>

#include <cerrno>
#include <filesystem>
#include <mutex>
#include <string>

#include "pipeline/fits_io.h"

namespace tianyu::pipeline::fits_detail {

// CFITSIO may be built without reentrancy (the Windows consumer's build): then one
// process-wide lock keeps every call safe. A reentrant build (Debian's: fits_is_reentrant())
// lets threads work on separate files at once, so fits_lock() holds nothing there: a
// calibration reads its raw frame and masters together, two workers' steps do not queue.
std::mutex& fits_mutex();
std::unique_lock<std::mutex> fits_lock();

FitsError fits_error(const std::filesystem::path& path, const std::string& what, int status, int error);

// Runs one CFITSIO call with a fresh errno and reads errno right after it, before any other
// call can overwrite it.
template <typename Call>
void fits_call(const std::filesystem::path& path, const std::string& what, Call&& call) {
  errno = 0;
  int status = 0;
  call(status);
  const int error = errno;
  if (status != 0) throw fits_error(path, what, status, error);
}

void write_card(fitsfile* f, const HeaderCard& card, const std::filesystem::path& path);

}  // namespace tianyu::pipeline::fits_detail
