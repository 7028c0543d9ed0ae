#pragma once
// Ingest: registers a directory of raw frames as an observation of a target at a site. Files
// stay where they are under the site root (or are copied in); their paths are stored relative
// to it, their headers read ONCE into typed columns (migration 0005) and their mid-exposure
// BJD_TDB computed for the target. Re-ingesting the same files is a no-op (it only fills typed
// columns still NULL); a file that cannot be read is reported and skipped, the rest ingested.
//
// The header policy, the only one (steps read the view `frame_calibration`, never a header):
//   card (first present of)        column              accepted values
//   EXPTIME, EXPOSURE              exptime_s           a number >= 0 (s)
//   GAIN, EGAIN                    gain_e_per_adu      a number > 0 (e-/ADU)
//   RDNOISE, READNOIS              read_noise_e        a number >= 0 (e-)
//   SATURATE                       saturation_adu      a number > 0 (ADU)
//   FILTER                         filter              any text (blank = missing)
//   RA, else OBJCTRA               pointing_ra_deg     degrees, or sexagesimal hours
//   DEC, else OBJCTDEC             pointing_dec_deg    degrees or sexagesimal, [-90, 90]
//   AIRMASS                        airmass             a number > 0
//   DATE-OBS (+ TIME-OBS ...)      start_utc, jd_utc_mid, bjd_tdb_mid
// - A card that is missing: its column is NULL; the step uses the observation's override, else
//   its documented default. EXPTIME is required for science, dark and flat frames (a missing one
//   refuses the frame unless the override gives exptime_s); science frames need a start time.
// - A card present but malformed ('5abc', 'x', '', out of range): the frame is refused at
//   ingest and reported (skipped) naming the file and the card, EXCEPT when the observation's
//   override supplies that value: then the column stays NULL, the override is used, and a
//   warning names the card ignored. Numbers must be whole FITS numbers ("5abc" is not 5).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/db.h"
#include "common/errors.h"

namespace tianyu::publisher {

// What the operator says about an observation's frames instead of their headers: each set
// field beats every frame's card (NULL in `observation` = no override). JSON fields have the
// column names: {"exptime_s", "gain_e_per_adu", "read_noise_e", "saturation_adu", "filter"};
// null clears a field.
struct CalibrationOverride {
  std::optional<double> exptime_s;       // s, >= 0
  std::optional<double> gain_e_per_adu;  // > 0
  std::optional<double> read_noise_e;    // >= 0
  std::optional<double> saturation_adu;  // > 0
  std::optional<std::string> filter;

  // InputError naming the field for an unknown field, a wrong type or a value out of range.
  static CalibrationOverride from_json(const nlohmann::json& j, const std::string& where = "--calibration");
  nlohmann::json to_json() const;  // only the fields set
  bool empty() const { return to_json().empty(); }
  bool operator==(const CalibrationOverride& o) const { return to_json() == o.to_json(); }
  bool operator!=(const CalibrationOverride& o) const { return !(*this == o); }
};

// The override stored on an observation (InputError when the observation does not exist).
CalibrationOverride calibration_override_of(db::Connection& c, std::uint64_t observation_id);

struct OverrideChange {
  CalibrationOverride before, after;
  bool changed() const { return before != after; }
  std::string describe() const;  // "calibration override {..} -> {..}" or "... unchanged"
};

// Replaces the observation's override with `override_json` (validated as from_json); called by
// both `ingest --calibration` and `pipeline --calibration`. Keys that are not override fields
// are refused unless `ignore_other_keys` (pipeline --calibration also carries step options).
OverrideChange set_calibration_override(db::Connection& c, std::uint64_t observation_id,
                                        const nlohmann::json& override_json, bool ignore_other_keys = false);

struct IngestOptions {
  std::string site;
  std::filesystem::path directory;  // searched recursively
  std::string target;
  std::optional<double> ra_deg, dec_deg;  // the target's; else the target's row, else RA/DEC headers
  std::string observation;          // default "<target>-<UTC date of the first science frame>"
  // Copy files from outside the site root into <root>/raw/<observation>/. The observation name
  // then names a directory: it must be [A-Za-z0-9._-]{1,128} not starting with '.'.
  bool copy = false;
  std::optional<std::string> kind;  // every frame is this kind (science, bias, dark, flat)
  // Replaces the observation's stored override; unset = keep the stored one (none if new).
  std::optional<CalibrationOverride> calibration;
};

struct IngestProblem {
  std::string path;
  std::string error;
};

struct IngestReport {
  std::uint64_t observation_id = 0;
  std::string observation;
  std::map<std::string, int> added;  // per kind
  int already_ingested = 0;
  std::vector<IngestProblem> skipped;
  std::vector<std::string> warnings;  // cards ignored because the override supplies them
  double ra_deg = 0, dec_deg = 0;
  std::string coordinates_from;  // "option", "target", or the header keywords
  CalibrationOverride calibration;  // the override in force after this ingest
  std::string calibration_change;   // non-empty when this ingest changed the stored override
  nlohmann::json to_json() const;
};

// The frame kind an IMAGETYP value names ("Light Frame", "BIAS", "zero", "Flat Field", ...);
// empty when it names none of them.
std::string kind_from_imagetyp(const std::string& imagetyp);

// Degrees from a header RA ("31.3121" degrees or "02:05:14.9" hours) or Dec ("+46:46:15").
double parse_angle(const std::string& text, bool hours_if_sexagesimal, const std::string& what);

// A FITS number card's value: the whole text must be a finite number ("1.5", "1.5E3", "1.5D3");
// nullopt otherwise ("5abc", "", "x").
inline std::optional<double> parse_fits_number(const std::string& text);

// True when `name` may name a directory under the site root: [A-Za-z0-9._-]{1,128}, not
// starting with '.' (so never "", ".", "..", absolute or containing a separator).
inline bool is_safe_path_name(const std::string& name);

// ---- the override's JSON form, header-only: a value type any layer can validate without the
// database (pure functions, no state).

namespace override_detail {
// The numeric override fields: name, member, and whether 0 is allowed (a gain or a saturation
// level of 0 means nothing; an exposure or a read noise of 0 does).
struct Field {
  const char* name;
  std::optional<double> CalibrationOverride::*member;
  bool zero_allowed;
};
inline constexpr Field kNumbers[] = {{"exptime_s", &CalibrationOverride::exptime_s, true},
                                     {"gain_e_per_adu", &CalibrationOverride::gain_e_per_adu, false},
                                     {"read_noise_e", &CalibrationOverride::read_noise_e, true},
                                     {"saturation_adu", &CalibrationOverride::saturation_adu, false}};
inline const Field* number(const std::string& key) {
  for (const auto& f : kNumbers) {
    if (key == f.name) return &f;
  }
  return nullptr;
}
}  // namespace override_detail

inline bool is_override_field(const std::string& key) { return key == "filter" || override_detail::number(key); }

inline CalibrationOverride CalibrationOverride::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw InputError(where + ": expected a JSON object, got " + j.dump());
  CalibrationOverride o;
  for (const auto& [key, value] : j.items()) {
    const std::string field = where + "." + key;
    if (!is_override_field(key)) {
      throw InputError(field + ": unknown field (known: exptime_s, gain_e_per_adu, read_noise_e, saturation_adu, filter)");
    }
    if (value.is_null()) continue;
    if (key == "filter") {
      if (!value.is_string()) throw InputError(field + ": expected a string, got " + value.dump());
      o.filter = value.get<std::string>();
      continue;
    }
    const auto* spec = override_detail::number(key);
    if (!value.is_number()) throw InputError(field + ": expected a number, got " + value.dump());
    const double v = value.get<double>();
    if (!std::isfinite(v) || v < 0 || (v == 0 && !spec->zero_allowed)) {
      throw InputError(field + ": " + value.dump() + " is out of range (must be " + (spec->zero_allowed ? ">=" : ">") + " 0)");
    }
    o.*(spec->member) = v;
  }
  return o;
}

inline nlohmann::json CalibrationOverride::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& f : override_detail::kNumbers) {
    if (this->*(f.member)) j[f.name] = *(this->*(f.member));
  }
  if (filter) j["filter"] = *filter;
  return j;
}

inline std::string OverrideChange::describe() const {
  return changed() ? "calibration override changed from " + before.to_json().dump() + " to " + after.to_json().dump()
                   : "calibration override unchanged: " + after.to_json().dump();
}

inline std::optional<double> parse_fits_number(const std::string& raw) {
  const auto first = raw.find_first_not_of(" \t");
  if (first == std::string::npos) return std::nullopt;
  std::string text = raw.substr(first, raw.find_last_not_of(" \t") - first + 1);
  std::replace(text.begin(), text.end(), 'D', 'E');  // FITS allows a Fortran exponent
  std::replace(text.begin(), text.end(), 'd', 'e');
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

inline bool is_safe_path_name(const std::string& name) {
  if (name.empty() || name.size() > 128 || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char ch) {
    return std::isalnum(ch) || ch == '.' || ch == '_' || ch == '-';
  });
}

IngestReport ingest(db::Connection& c, const IngestOptions& options);

}  // namespace tianyu::publisher
