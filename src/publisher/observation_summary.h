#pragma once
// What `tianyu-publish status --observation O` says about a night beyond its processes: its
// astrometric solution and its noise (the gain and how it was obtained, the constant stars'
// reduced chi2). Each is JSON with a "summary" line for people.
#include <cstdint>

#include <nlohmann/json.hpp>

#include "common/db.h"

namespace tianyu::publisher {

// The observation's astrometric solution for status: {"state": "solved"|"not solved"|"not run",
// "method", "reason", "pixel_scale_arcsec", "rms_arcsec", "catalogue_stars", "summary"} where
// "summary" is one line for people, e.g. "not solved: solve-field found no solution ...".
nlohmann::json observation_astrometry(db::Connection& c, std::uint64_t observation_id);

// {"state": "measured"|"not run", "gain_e_per_adu", "gain_err", "gain_method",
// "constant_stars_reduced_chi2", "summary"}.
nlohmann::json observation_noise(db::Connection& c, std::uint64_t observation_id);

}  // namespace tianyu::publisher
