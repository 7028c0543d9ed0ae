#include "common/site_store.h"

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace tianyu::store {

namespace fs = std::filesystem;

namespace {

// Drops a trailing empty or "." component ("a/b/" and "a/b/." are the directory "a/b"), so
// comparisons of canonical paths do not depend on how the caller spelled the end.
fs::path tidy(fs::path p) {
  while (p.has_relative_path() && (p.filename().empty() || p.filename() == ".")) p = p.parent_path();
  return p;
}

// True when `p` is `base` or lies below it; both canonical (component-wise, so "/data/site2"
// is not inside "/data/site").
bool is_within(const fs::path& p, const fs::path& base) {
  const fs::path a = tidy(p), b = tidy(base);
  auto [bi, ai] = std::mismatch(b.begin(), b.end(), a.begin(), a.end());
  return bi == b.end();
}

bool is_within_strictly(const fs::path& p, const fs::path& base) {
  return is_within(p, base) && tidy(p) != tidy(base);
}

std::string path_named(std::string_view relative) { return "path '" + std::string(relative) + "'"; }

// A file-system call failed: a full disk or an I/O error may pass (retryable); a name that
// cannot be resolved (a loop of symlinks, a file where a directory is needed, no permission)
// will not, so it is refused as bad input naming the path.
[[noreturn]] void fs_failure(std::string_view relative, const char* doing, const std::error_code& ec) {
  const std::string message = path_named(relative) + ": " + doing + " failed: " + ec.message();
  switch (ec.value()) {
    case ENOSPC: case EIO: case EAGAIN: case ENOMEM: case EBUSY: case EINTR:
#ifdef EDQUOT
    case EDQUOT:
#endif
      throw ResourceFailure(message + " (a retry may help)");
    default:
      throw PathError(message + " (a retry cannot help)");
  }
}

fs::path canonical_weakly(const fs::path& p, std::string_view relative) {
  std::error_code ec;
  fs::path out = fs::weakly_canonical(p, ec);
  if (ec) fs_failure(relative, "resolving symlinks", ec);
  return tidy(out);
}

// The raw area as it is now (run-local may create the raw link after the store was built).
fs::path raw_area_now(const fs::path& root) {
  std::error_code ec;
  fs::path out = fs::weakly_canonical(root / SiteStore::kRawArea, ec);
  return ec ? root / SiteStore::kRawArea : tidy(out);
}

// True when the path, as spelled, starts in "raw/" after lexical normalisation.
bool named_in_raw(std::string_view relative) {
  const fs::path normal = fs::path(std::string(relative)).lexically_normal();
  return !normal.empty() && *normal.begin() == SiteStore::kRawArea;
}

void require_relative(std::string_view relative, const fs::path& root) {
  if (relative.empty()) throw PathError("path '' is empty: name a file or directory under the site root");
  const fs::path p{std::string(relative)};
  if (p.has_root_name() || p.has_root_directory())
    throw PathError(path_named(relative) + " is absolute: paths are relative to the site root " + root.string());
}

}  // namespace

SiteStore::SiteStore(const fs::path& root) {
  std::error_code ec;
  if (root.empty() || !fs::is_directory(root, ec))
    throw ConfigError("site_root", "site root '" + root.string() + "' is not an existing directory");
  root_ = fs::canonical(root, ec);
  if (ec) throw ConfigError("site_root", "site root '" + root.string() + "': " + ec.message());
  root_ = tidy(root_);
  raw_area_ = raw_area_now(root_);
}

bool SiteStore::contains(const fs::path& absolute) const {
  std::error_code ec;
  const fs::path p = tidy(fs::weakly_canonical(absolute, ec));
  if (ec) return false;
  return is_within(p, root_) || is_within(p, raw_area_) || is_within(p, raw_area_now(root_));
}

namespace {

struct Resolved {
  fs::path path;  // canonical (existing prefix) absolute path
  bool in_raw = false;
};

// The checks shared by reads and writes: a relative path that resolves (after symlinks) inside
// the root or the raw area and is not the root itself.
Resolved resolve(std::string_view relative, const fs::path& root, const fs::path& raw_then) {
  require_relative(relative, root);
  const fs::path joined = root / std::string(relative);
  const fs::path resolved = canonical_weakly(joined, relative);
  if (resolved == root) throw PathError(path_named(relative) + " resolves to the site root itself");
  const fs::path raw = raw_area_now(root);
  const bool in_raw = is_within(resolved, raw) || is_within(resolved, raw_then);
  if (!in_raw && !is_within(resolved, root)) {
    if (is_within(tidy(joined.lexically_normal()), root))
      throw PathError(path_named(relative) + " follows a symlink out of the site root to " + resolved.string());
    throw PathError(path_named(relative) + " leaves the site root " + root.string());
  }
  return {resolved, in_raw};
}

}  // namespace

fs::path SiteStore::for_reading(std::string_view relative) const {
  return resolve(relative, root_, raw_area_).path;
}

namespace {

// The write checks, without side effects (remove() must not create directories).
fs::path resolve_for_writing(std::string_view relative, const fs::path& root, const fs::path& raw_then) {
  const Resolved r = resolve(relative, root, raw_then);
  const std::string raw_refusal = " is in the raw-frame area: steps never write or delete there";
  if (r.in_raw || named_in_raw(relative)) throw PathError(path_named(relative) + raw_refusal);
  // Deleting or replacing a directory that holds the raw area (raw -> data/frames) would take
  // the frames with it.
  const fs::path raw = raw_area_now(root);
  if (is_within_strictly(raw, r.path) || is_within_strictly(raw_then, r.path))
    throw PathError(path_named(relative) + " contains the raw-frame area: steps never write or delete there");

  // The last component as spelled: resolve only its parent, so an existing symlink there is
  // seen (weakly_canonical would have followed it).
  const fs::path spelled = tidy(fs::path(std::string(relative)));
  const fs::path name = spelled.filename();
  if (name.empty() || name == "..") return r.path;  // fully resolved above; nothing is a link
  const fs::path parent = canonical_weakly(root / spelled.parent_path(), relative);
  if (!is_within(parent, root) || is_within(parent, raw) || is_within(parent, raw_then))
    throw PathError(path_named(relative) + " has its directory outside the writable site root: " + parent.string());
  const fs::path target = parent / name;
  std::error_code ec;
  if (fs::is_symlink(fs::symlink_status(target, ec)))
    throw PathError(path_named(relative) + " is a symlink: steps never write or delete through one");
  return target;
}

}  // namespace

fs::path SiteStore::for_writing(std::string_view relative) const {
  const fs::path target = resolve_for_writing(relative, root_, raw_area_);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) fs_failure(relative, "creating its directory", ec);
  return target;
}

void SiteStore::remove(std::string_view relative) const {
  const fs::path target = resolve_for_writing(relative, root_, raw_area_);
  std::error_code ec;
  // remove_all never follows a symlink inside the tree: it deletes the link, not its target.
  fs::remove_all(target, ec);
  if (ec) fs_failure(relative, "deleting", ec);
}

std::vector<std::string> SiteStore::missing_directories(std::string_view relative) const {
  resolve_for_writing(relative, root_, raw_area_);  // refused paths are refused here too
  std::vector<std::string> missing;
  std::error_code ec;
  for (fs::path d = tidy(fs::path(std::string(relative))).parent_path(); !d.empty(); d = d.parent_path()) {
    if (fs::exists(root_ / d, ec)) break;
    missing.insert(missing.begin(), d.generic_string());
  }
  return missing;
}

void SiteStore::remove_if_empty(std::string_view relative) const {
  const fs::path target = resolve_for_writing(relative, root_, raw_area_);
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(target, ec))) return;
  fs::remove(target, ec);  // fails, harmlessly, on a directory that is not empty
}

std::string SiteStore::relative(const fs::path& absolute) const {
  std::error_code ec;
  const fs::path p = tidy(fs::weakly_canonical(fs::absolute(absolute), ec));
  if (ec) fs_failure(absolute.string(), "resolving symlinks", ec);
  if (p == root_) throw PathError(path_named(absolute.string()) + " is the site root itself");
  if (is_within(p, root_)) return p.lexically_relative(root_).generic_string();
  for (const fs::path& raw : {raw_area_, raw_area_now(root_)}) {
    if (p == raw) return kRawArea;
    if (is_within(p, raw)) return (fs::path(kRawArea) / p.lexically_relative(raw)).generic_string();
  }
  throw PathError(path_named(absolute.string()) + " lies outside the site root " + root_.string());
}

}  // namespace tianyu::store
