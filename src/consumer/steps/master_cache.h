#pragma once
// The night's master frames, read once per consumer process. Every calibrate of an observation
// reads the same two or three masters (16 MB each at 2048^2, 264 MB at 8120^2): reading and
// byte-swapping them was 7 ms each a frame. A product file is written once, under its process
// and attempt's name, and renamed into place whole, so a path whose size and modification
// time have not changed still holds the pixels read before. The cache keeps at most
// `capacity_bytes` of pixels, dropping the least recently used image first; the workers share
// its images (read-only).
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "pipeline/image.h"

namespace tianyu::consumer::steps {

class MasterCache {
 public:
  explicit MasterCache(std::size_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}
  // The image of `path` (absolute, already checked by the site store): from memory when the file
  // is unchanged since it was read, else read now (read errors are thrown, nothing is kept).
  std::shared_ptr<const pipeline::Image> image(const std::filesystem::path& path);
  std::size_t reads() const;  // files read so far (misses), for tests and logs

 private:
  struct Identity {
    std::uintmax_t size = 0;
    std::filesystem::file_time_type modified;
    bool operator==(const Identity&) const = default;
  };
  struct Entry {
    Identity identity;
    std::shared_ptr<const pipeline::Image> image;
    std::uint64_t last_used = 0;
  };
  static std::size_t bytes_of(const pipeline::Image& image);
  static std::optional<Identity> identity_of(const std::filesystem::path& path);
  void keep(const std::string& key, Entry entry);

  const std::size_t capacity_bytes_;
  mutable std::mutex lock_;
  std::map<std::string, Entry> entries_;
  std::uint64_t clock_ = 0;
  std::size_t reads_ = 0;
};

// The consumer's one cache (1 GiB: the three masters of an 8120^2 night).
MasterCache& master_cache();

}  // namespace tianyu::consumer::steps
