#pragma once
// A field's catalogue (the DESIGN's "sky", table field_source) and how one night's detections
// join it: ids stable across nights, a mean position over the nights, the nights counted.
//
// The rule (DESIGN section 8, after the published Tianyu code): a night source is
//   matched  when its nearest field source is within the radius and the second nearest is at
//            least 1.5x farther;
//   new      when no field source is within the radius: it is appended with the next id;
//   blend    otherwise (a rival closer than 1.5x the nearest): matched to the nearest anyway,
//            the rivals' ids listed in blend_with (source_field_match.blend_with).
// A field source is claimed by at most one source of a night, so a light curve never has two
// points in one frame: when two night sources have the same nearest field source the closer
// one keeps it (equal separations: the one earlier in the night's list); the other becomes a new
// field source of its own with kind blend and blend_with starting with the id it lost to (a
// pair resolved tonight that earlier nights saw as one). Same-night sources are never merged
// with each other. Everything is deterministic: the same field and night give the same ids.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

namespace tianyu::pipeline::sky {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One row of field_source.
struct FieldSource {
  std::uint32_t id = 0;             // field_source_id: never reused
  double ra_deg = 0, dec_deg = 0;   // mean position over the nights seen (mean unit vector)
  int nights_seen = 1;              // >= 1
  double mean_instrumental_mag = kNaN;  // mean over the nights with a finite magnitude
};

// One of the night's detections (table source, with its RA/Dec from the solved WCS).
struct NightSource {
  std::uint32_t source_id = 0;      // source.source_id, unique within the night
  double ra_deg = 0, dec_deg = 0;
  double instrumental_mag = kNaN;   // optional: -2.5 log10(template flux), NaN when unknown
};

enum class MatchKind { matched, new_source, blend };
// "matched", "new", "blend": the values of source_field_match.match_kind.
std::string_view to_string(MatchKind kind);

// One row of source_field_match.
struct SourceMatch {
  std::uint32_t source_id = 0;
  std::uint32_t field_source_id = 0;
  MatchKind kind = MatchKind::new_source;
  // To the field source's position before tonight; NaN (SQL NULL) for a new field source.
  double separation_arcsec = kNaN;
  std::vector<std::uint32_t> blend_with;  // rival field source ids, nearest first
};

struct MatchOptions {
  double radius_arcsec = 4.0;    // see match_radius_arcsec()
  double ambiguity_ratio = 1.5;  // the second nearest must be at least this much farther
  // The first id handed to a new field source; 0: one past the largest id in the field (pass
  // the stored high-water mark when field sources can ever be deleted, so ids are never reused).
  std::uint32_t next_id = 0;
};

struct NightMerge {
  std::vector<SourceMatch> matches;  // one per night source, in the night's order
  // The field after tonight: the given sources in their order (updated where seen), then the
  // new ones in id order.
  std::vector<FieldSource> field;
  std::vector<std::uint32_t> changed_ids;  // field sources seen tonight (updated or new), ascending
  std::uint32_t next_id = 0;               // the next id to hand out after tonight
};

// Matches one night into the field. Throws tianyu::Failure (bad input, not retryable) naming
// the source on a non-finite position, a duplicate id or nights_seen < 1, or a bad option.
// Call it once per night: a re-run of the same night must start from the field as it was
// before that night (matching a night again against a field that already holds it gives the
// same ids, every source "matched", but would count the night twice).
NightMerge merge_night_into_field(const std::vector<FieldSource>& field, const std::vector<NightSource>& night,
                                  const MatchOptions& options = {});

// The match radius for a night: max(4", kMatchRadiusFwhm x FWHM x pixel scale). 4" is the
// published radius (9 px at Tianyu-I's 0.43"/px); on coarse pixels (HAT-P-32: 5.2"/px) 4" is
// under a pixel, smaller than the night-to-night astrometric scatter, so the radius grows to
// one FWHM: two stars closer than that are not separated by detection anyway. Throws
// tianyu::Failure when the scale or FWHM is not finite and positive.
inline constexpr double kPublishedMatchRadiusArcsec = 4.0;
inline constexpr double kMatchRadiusFwhm = 1.0;
double match_radius_arcsec(double pixel_scale_arcsec, double fwhm_px);

}  // namespace tianyu::pipeline::sky
