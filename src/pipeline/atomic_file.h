#pragma once
// Files that land whole or not at all. A product is written under a temporary name in its own
// directory, checked after close, flushed to the disk (fsync), renamed over the final name and
// the directory flushed, so that after a crash, a full disk or a killed worker a reader finds
// either the previous file or the complete new one, never a truncated one. Every failure is a
// FileError naming the file, retryable when errno says the disk (or the system) was short.
#include <filesystem>
#include <string_view>

#include "pipeline/file_error.h"

namespace tianyu::pipeline {

// Writes `bytes` to `path` atomically (replacing an existing file); on any failure nothing is
// left at `path` that was not there before and no temporary file remains.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// The temporary name write_file_atomically and write_fits use beside `target`:
// ".<name>.tmp<unique suffix>" in the same directory (a rename across file systems is a copy).
std::filesystem::path temp_path_beside(const std::filesystem::path& target);

// Flushes the complete file `temp` to the disk, renames it to `target` and flushes the
// directory so the rename survives a crash. Removes `temp` when any of it fails.
void publish_temp_file(const std::filesystem::path& temp, const std::filesystem::path& target);

}  // namespace tianyu::pipeline
