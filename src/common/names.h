#pragma once
// Names that become parts of queue names, paths and log fields: sites and groups. Only
// [a-z0-9_-], 1..64 characters, so `tianyu.work.<site>.<group>` is unambiguous (site "a.b"
// group "c" and site "a" group "b.c" would otherwise share a queue) and no name is a path.
#include <string>
#include <string_view>

namespace tianyu {

// True when `name` is a valid site or group name.
bool is_valid_name(std::string_view name) noexcept;
// Throws InputError "<what> name '<name>' is invalid: only a-z, 0-9, '_' and '-' (1-64
// characters)" when it is not; `what` is e.g. "site" or "group".
void require_valid_name(std::string_view what, std::string_view name);

}  // namespace tianyu
