#pragma once
// Where a site is on the Earth: the relative_flux step computes each frame's airmass from it
// (with the frame's time and the pointing) when the frames carry no AIRMASS card.
#include <string>

#include "common/db.h"

namespace tianyu::publisher {

struct SiteLocation {
  double latitude_deg = 0;   // geodetic, north positive, [-90, 90]
  double longitude_deg = 0;  // east positive, [-180, 360)
  double altitude_m = 0;     // above sea level, [-500, 9000]
};

// Stores the location of the registered site `name`. Throws InputError (never retryable) naming
// the field out of range, or the site when it is unknown.
void set_site_location(db::Connection& c, const std::string& name, const SiteLocation& where);

}  // namespace tianyu::publisher
