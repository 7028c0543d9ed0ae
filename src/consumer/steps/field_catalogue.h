#pragma once
// The field catalogue in the database (schema/0008_sky_catalogue.sql): a night's sources joined
// to their field's catalogue inside the match_field step's success transaction. The merge runs
// in that transaction, under a lock on the field's row, because two nights of one field may be
// matched at the same time by two consumers: each must see the other's new field sources, or
// both would hand out the same ids.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/catalogues/catalogue_star.h"
#include "pipeline/sky/field_match.h"

namespace tianyu::db {
class Connection;
}

namespace tianyu::consumer::steps {

// What match_field loads before its transaction.
struct FieldNight {
  std::uint64_t observation_id = 0;
  std::vector<pipeline::sky::NightSource> sources;  // the sources with RA/Dec
  double radius_arcsec = 0;
  // External catalogues around the field (name, stars): their three nearest stars are recorded
  // for every field source seen tonight.
  std::vector<std::pair<std::string, pipeline::catalogues::CatalogueStars>> catalogues;
};

// The observation's astrometric solution as match_field needs it; empty when unsolved (or when
// solve_field has not run).
struct SolvedObservation {
  double centre_ra_deg = 0, centre_dec_deg = 0, pixel_scale_arcsec = 0;
  double radius_deg = 0;  // of the circle holding the whole frame
  double median_fwhm_px = 0;
  std::vector<pipeline::sky::NightSource> sources;
};
std::optional<SolvedObservation> load_solved_observation(db::Connection& c, std::uint64_t observation_id);

struct FieldNightSummary {
  std::uint32_t field_id = 0;
  std::size_t matched = 0, new_sources = 0, blends = 0, field_size = 0;
};

// Replaces the observation's contribution to its field (a re-run first takes the earlier one
// out: its matches, the field sources only it had seen, its share of the others' means) and
// merges the night in. Call inside the success transaction.
FieldNightSummary merge_night_rows(db::Connection& c, const FieldNight& night);

}  // namespace tianyu::consumer::steps
