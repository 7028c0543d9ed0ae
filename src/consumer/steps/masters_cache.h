#pragma once
// The master frames a consumer read last, kept for the next frame of the night: calibrate and
// coadd_minute read the same two or three masters for every frame (2 x 16 MB of FITS per 2048^2
// frame, a sixth of calibrate's time on the "paper" preset), and a master's file never changes
// once committed (products are written to a new name per attempt, then renamed in place
// atomically). An entry is known by its canonical path, size and modification time, so a
// file replaced under the same name is read again. At most `capacity` images are held (the
// least recently used goes first): a night's bias, dark and flat.
#include <cstdint>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>

#include "pipeline/image.h"

namespace tianyu::consumer::steps {

class MastersCache {
 public:
  explicit MastersCache(std::size_t capacity = 3) : capacity_(capacity) {}
  // The image of the FITS file at `path` (already resolved through the site store): from the
  // cache when that file is unchanged, else read (pipeline::read_fits: its errors as they are).
  std::shared_ptr<const pipeline::Image> read(const std::filesystem::path& path);
  std::uint64_t reads() const;  // files actually read, for tests and logs

 private:
  struct Entry {
    std::filesystem::path path;
    std::uintmax_t size = 0;
    std::filesystem::file_time_type modified;
    std::shared_ptr<const pipeline::Image> image;
  };
  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::list<Entry> entries_;  // most recently used first
  std::uint64_t reads_ = 0;
};

// The consumer's one cache, shared by its workers.
MastersCache& masters_cache();

}  // namespace tianyu::consumer::steps
