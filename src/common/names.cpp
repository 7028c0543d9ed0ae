#include "common/names.h"

#include <algorithm>

#include "common/errors.h"

namespace tianyu {

bool is_valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64) return false;
  // Byte-wise on purpose: any byte of a multi-byte UTF-8 character is outside the set.
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

void require_valid_name(std::string_view what, std::string_view name) {
  if (is_valid_name(name)) return;
  throw InputError(std::string(what) + " name '" + std::string(name) +
                   "' is invalid: only a-z, 0-9, '_' and '-' (1-64 characters)");
}

}  // namespace tianyu
