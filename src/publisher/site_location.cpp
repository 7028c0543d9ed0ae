#include "publisher/site_location.h"

#include <cmath>

#include <spdlog/fmt/fmt.h>

#include "common/errors.h"
#include "common/names.h"

namespace tianyu::publisher {
namespace {

void require_within(const char* field, double v, double lo, double hi, bool upper_open) {
  const bool ok = std::isfinite(v) && v >= lo && (upper_open ? v < hi : v <= hi);
  if (!ok) {
    throw InputError(fmt::format("site location: {} {} is outside [{}, {}{}", field, v, lo, hi, upper_open ? ")" : "]"));
  }
}

}  // namespace

void set_site_location(db::Connection& c, const std::string& name, const SiteLocation& w) {
  require_valid_name("site", name);
  require_within("--lat (degrees)", w.latitude_deg, -90, 90, false);
  require_within("--lon (degrees east)", w.longitude_deg, -180, 360, true);
  require_within("--alt (metres)", w.altitude_m, -500, 9000, false);
  const double lon = w.longitude_deg >= 180 ? w.longitude_deg - 360 : w.longitude_deg;
  c.execute("UPDATE site SET latitude_deg = ?, longitude_deg = ?, altitude_m = ? WHERE name = ?",
            {w.latitude_deg, lon, w.altitude_m, name});
  if (c.query_one("SELECT COUNT(*) FROM site WHERE name = ?", {name}).i64(0) == 0) {
    throw InputError(fmt::format("unknown site '{}': add it first", name));
  }
}

}  // namespace tianyu::publisher
