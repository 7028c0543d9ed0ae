#include "consumer/steps/masters_cache.h"

#include <system_error>

#include "pipeline/fits_io.h"

namespace tianyu::consumer::steps {

std::shared_ptr<const pipeline::Image> MastersCache::read(const std::filesystem::path& path) {
  std::error_code size_error, time_error;
  const auto size = std::filesystem::file_size(path, size_error);
  const auto modified = std::filesystem::last_write_time(path, time_error);
  // The lock is held through a read: a second worker wanting the same master waits for it
  // rather than reading it again.
  std::lock_guard lock(mutex_);
  if (!size_error && !time_error) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->path == path && it->size == size && it->modified == modified) {
        entries_.splice(entries_.begin(), entries_, it);
        return entries_.front().image;
      }
    }
  }
  auto image = std::make_shared<const pipeline::Image>(pipeline::read_fits(path).image);  // names the file on error
  ++reads_;
  if (size_error || time_error) return image;  // read_fits could, stat could not: not kept
  std::erase_if(entries_, [&](const Entry& e) { return e.path == path; });
  entries_.push_front({path, size, modified, image});
  while (entries_.size() > capacity_) entries_.pop_back();
  return image;
}

std::uint64_t MastersCache::reads() const {
  std::lock_guard lock(mutex_);
  return reads_;
}

MastersCache& masters_cache() {
  static MastersCache cache;
  return cache;
}

}  // namespace tianyu::consumer::steps
