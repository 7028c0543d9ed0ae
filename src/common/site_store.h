#pragma once
// The site store: every path a step, a CLI option or a database row names is resolved here,
// and only here. Paths in the database and in params are relative to the site root. A path is
// canonicalised after symlinks and refused when it leaves the root, when it is the root itself,
// and (for a write or a delete) when it lies in the raw-frame area `raw/` (a night's only copy
// of its frames). The raw area may be a symlink to where the frames already are (run-local does
// this): reads may follow it there, writes never.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors.h"

namespace tianyu::store {

// A path refused by the store (escape, symlink out of the root, the root itself, the raw area
// for a write): bad input, never retried. The message names the path and the reason.
class PathError : public InputError {
 public:
  using InputError::InputError;
};

class SiteStore {
 public:
  // `root` must be an existing directory; it is canonicalised. ConfigError("site_root") if not.
  explicit SiteStore(const std::filesystem::path& root);

  const std::filesystem::path& root() const noexcept { return root_; }

  // An existing file or directory to read, named relative to the root (as rows and params
  // store it). Refused: empty, absolute, resolving (after symlinks) outside the root and the
  // raw area, or the root itself. Returns the canonical absolute path.
  std::filesystem::path for_reading(std::string_view relative) const;
  // A file or directory to create, replace or delete. Refused as for_reading, and also inside
  // the raw area, or when the last component is an existing symlink. The parent directories
  // are created (inside the root). Returns the absolute path (the parent canonical).
  std::filesystem::path for_writing(std::string_view relative) const;
  // The relative form of an absolute path inside the root (or the raw area: "raw/..."), as it
  // is stored in the database. PathError when it lies elsewhere.
  std::string relative(const std::filesystem::path& absolute) const;
  // Deletes a file or a tree the caller created, checked as for_writing. No-op when absent.
  void remove(std::string_view relative) const;
  // The directories for_writing(relative) would create, outermost first (relative to the root):
  // an attempt that fails removes the ones it made, so the root is left as it was.
  std::vector<std::string> missing_directories(std::string_view relative) const;
  // Deletes a directory the caller created when it is empty (checked as for_writing); keeps it,
  // and whatever another writer has put in it meanwhile, otherwise.
  void remove_if_empty(std::string_view relative) const;
  // True when `absolute` (canonicalised) lies inside the root or the raw area.
  bool contains(const std::filesystem::path& absolute) const;

  static constexpr const char* kRawArea = "raw";

 private:
  std::filesystem::path root_;      // canonical
  std::filesystem::path raw_area_;  // canonical target of root/raw (may lie outside the root)
};

}  // namespace tianyu::store
