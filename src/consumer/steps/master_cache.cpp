#include "consumer/steps/master_cache.h"

#include "pipeline/fits_io.h"

namespace tianyu::consumer::steps {
std::size_t MasterCache::bytes_of(const pipeline::Image& image) { return image.pixels.size() * sizeof(float); }

// Empty when the file cannot be stat'ed: read_fits then reports it with its own error (naming
// the file, and whether a retry can help), not the file system's.
std::optional<MasterCache::Identity> MasterCache::identity_of(const std::filesystem::path& path) {
  std::error_code size_error, time_error;
  Identity identity{std::filesystem::file_size(path, size_error), std::filesystem::last_write_time(path, time_error)};
  if (size_error || time_error) return std::nullopt;
  return identity;
}

std::shared_ptr<const pipeline::Image> MasterCache::image(const std::filesystem::path& path) {
  const std::string key = path.string();
  // Outside the lock: a stat, and on a miss the read, so two workers read two masters at once.
  const auto identity = identity_of(path);
  if (identity) {
    std::lock_guard guard(lock_);
    const auto found = entries_.find(key);
    if (found != entries_.end() && found->second.identity == *identity) {
      found->second.last_used = ++clock_;
      return found->second.image;
    }
  }
  auto image = std::make_shared<const pipeline::Image>(pipeline::read_fits(path).image);
  // The file may have changed while it was read: kept only if it looks the same after the read.
  const auto after = identity_of(path);
  std::lock_guard guard(lock_);
  ++reads_;
  if (identity && after == identity) keep(key, Entry{*identity, image, ++clock_});
  return image;
}

void MasterCache::keep(const std::string& key, Entry entry) {
  entries_.erase(key);
  std::size_t held = bytes_of(*entry.image);
  for (const auto& [k, e] : entries_) held += bytes_of(*e.image);
  while (held > capacity_bytes_ && !entries_.empty()) {
    auto oldest = entries_.begin();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    }
    held -= bytes_of(*oldest->second.image);
    entries_.erase(oldest);
  }
  if (bytes_of(*entry.image) <= capacity_bytes_) entries_.emplace(key, std::move(entry));
}

std::size_t MasterCache::reads() const {
  std::lock_guard guard(lock_);
  return reads_;
}

MasterCache& master_cache() {
  static MasterCache cache(std::size_t{1} << 30);
  return cache;
}

}  // namespace tianyu::consumer::steps
