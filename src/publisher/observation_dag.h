#pragma once
// The whole pipeline of one observation as a DAG (DESIGN.md §3), published in one transaction:
// masters (when calibration frames exist) -> per-frame calibration (short exposures: the frames
// of each minute co-added, and each minute a frame from then on) -> per-frame alignment onto
// the first science frame -> selection -> the stacking tree (fan-out K) -> template sources ->
// per-frame photometry -> relative flux -> the transit search of every light curve.
// Observation-wide steps wait for the per-frame ones with 'after' edges, so a bad frame fails
// alone and the rest of the night goes on.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/db.h"
#include "publisher/publisher.h"

namespace tianyu::publisher {

struct PipelineOptions {
  std::uint64_t observation_id = 0;
  int fan_out = 8;                 // frames (or nodes) per stack node
  std::string group = "general";   // every step but stacking
  std::string stack_group;         // stacking (a big-RAM group); empty: `group`
  int max_attempts = 3;
  // "long": every science frame calibrated on its own; "short": the frames co-added per minute
  // (coadd_minute), each minute then a frame of the night; "auto": short when the median
  // exposure is at most 1 s.
  std::string exposure_mode = "auto";
  // Short exposures: each minute co-added by this many coadd_minute parts (several consumers
  // share a minute), added up by combine_minute; 1: one process a minute.
  int minute_parts = 1;
  // The observation's calibration override ({"saturation_adu": 4095}), stored on the observation
  // row (steps read frame_calibration), not in any step's params.
  nlohmann::json calibration = nlohmann::json::object();
  // steps::PhotometryOptions as JSON ({"radii_fwhm": [1.5, 2, 3]}), read strictly: an unknown
  // or mistyped field is refused naming it.
  nlohmann::json photometry = nlohmann::json::object();
  // steps::AstrometryOptions as JSON ({"scale_low_arcsec": 4, "operator_wcs": "wcs/field.hdr"}),
  // read strictly like --photometry.
  nlohmann::json astrometry = nlohmann::json::object();
  // steps::MatchFieldParams' catalogue fields ({"catalogue_file": "...", "catalogue_name": "gaia-dr3"}).
  nlohmann::json field_match = nlohmann::json::object();
  // steps::FieldSearchParams as JSON ({"method": "bls"}): when given, the night ends with the
  // periodic search of its field across all its nights (after match_field and relative_flux).
  std::optional<nlohmann::json> field_search;
};

// The processes, keyed "master_bias", "calibrate/<frame_id>" (or "coadd_minute/<first frame_id>"
// per minute of short frames), "align/<frame_id>", "select",
// "stack/<node>", "detect_sources", "photometry/<frame_id>", "relative_flux", "transit_search". Throws
// InputError for an unknown observation or one without science frames.
std::vector<ProcessSpec> observation_dag(db::Connection& c, const PipelineOptions& options);

}  // namespace tianyu::publisher
