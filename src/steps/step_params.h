#pragma once
// The parameters of every step, one struct each, shared by the publisher (which builds them)
// and the consumer (which reads them back strictly). Defaults live beside their fields; the
// recipe options a step passes to src/pipeline are the pipeline's own option structs, so the
// tests and benchmarks that call the recipe run with the same defaults as production.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/recipes/detect_sources.h"
#include "steps/params.h"

namespace tianyu::steps {

// ---- diagnostic steps (the process machinery without astronomy)

struct NoParams {
  template <class V> void visit(V&) {}
};

struct SleepParams {
  std::uint64_t ms = 0;
  template <class V> void visit(V& v) { v.optional("ms", ms, "milliseconds to wait"); }
};

struct FailParams {
  std::string message = "the fail step always fails";
  template <class V> void visit(V& v) { v.optional("message", message, "the error text of every attempt"); }
};

struct FlakyParams {
  std::uint64_t failures = 1;
  template <class V> void visit(V& v) { v.optional("failures", failures, "the first k attempts fail"); }
};

struct TouchParams {
  std::uint64_t sleep_ms = 0;
  template <class V> void visit(V& v) { v.optional("sleep_ms", sleep_ms, "milliseconds to wait before writing"); }
};

struct SimulateNightParams {
  std::string out;
  std::string preset = "default";
  std::optional<std::uint64_t> seed;
  json config = json::object();
  std::uint64_t threads = 0;
  template <class V> void visit(V& v) {
    v.required("out", out, "directory for the night, relative to the site root");
    v.optional("preset", preset, "default, paper or tianyu");
    v.optional("seed", seed, "random seed (the preset's when absent)");
    v.optional("config", config, "SimConfig fields overriding the preset");
    v.optional("threads", threads, "worker threads (0: one per core)");
  }
};

// ---- an observation's pipeline

// master_bias, master_dark, master_flat, select_frames, relative_flux, transit_search.
struct ObservationParams {
  std::uint64_t observation_id = 0;
  template <class V> void visit(V& v) { v.required("observation_id", observation_id, "the observation"); }
};

// calibrate, align, photometry.
struct FrameParams {
  std::uint64_t observation_id = 0;
  std::uint64_t frame_id = 0;
  template <class V> void visit(V& v) {
    v.required("observation_id", observation_id, "the observation");
    v.required("frame_id", frame_id, "the science frame");
  }
};

struct StackParams {
  std::uint64_t observation_id = 0;
  std::uint64_t node = 0;
  bool is_template = false;
  std::vector<std::uint64_t> frame_ids;
  template <class V> void visit(V& v) {
    v.required("observation_id", observation_id, "the observation");
    v.required("node", node, "the node's index in the stacking tree");
    v.optional("template", is_template, "the root: its stack is the observation's template");
    v.optional("frame_ids", frame_ids, "the frames stacked at this node (child nodes are its dependencies)");
  }
};

// The photometry options an operator may set (`tianyu-publish pipeline --photometry JSON`).
struct PhotometryOptions {
  std::vector<double> radii_fwhm = pipeline::recipes::DetectSourcesOptions{}.radii_fwhm;
  template <class V> void visit(V& v) {
    v.optional("radii_fwhm", radii_fwhm, "aperture radii as multiples of the template's median FWHM, in (0, 20)");
  }
};

struct DetectSourcesParams {
  std::uint64_t observation_id = 0;
  PhotometryOptions options;
  template <class V> void visit(V& v) {
    v.required("observation_id", observation_id, "the observation");
    v.nested("options", options, "photometry options");
  }
};

// The astrometry options an operator may set (the solve_field step's `options`).
struct AstrometryOptions {
  double scale_low_arcsec = 0.1;   // pixel-scale range searched (arcsec per pixel)
  double scale_high_arcsec = 30;
  std::uint64_t time_limit_s = 20;  // a hinted field solves in seconds (HAT-P-32: 1-2 s)
  std::string operator_wcs;        // a WCS header file (FITS or text cards), relative to the site root
  std::optional<double> ra_deg, dec_deg;  // overrides the pointing (header, else the target)
  double radius_deg = 5;
  std::uint64_t tweak_order = 2;
  template <class V> void visit(V& v) {
    v.optional("scale_low_arcsec", scale_low_arcsec, "smallest pixel scale tried (arcsec/px), > 0");
    v.optional("scale_high_arcsec", scale_high_arcsec, "largest pixel scale tried (arcsec/px), above the smallest");
    v.optional("time_limit_s", time_limit_s, "solve-field's CPU-time limit, held on it and its engine (seconds, 1..3600; killed at twice it + 10 s of wall time); no solution within it: unsolved");
    v.optional("operator_wcs", operator_wcs, "a WCS header file (relative to the site root) used instead of solving");
    v.optional("ra_deg", ra_deg, "pointing RA (deg, 0..360) overriding the header's and the target's");
    v.optional("dec_deg", dec_deg, "pointing Dec (deg, -90..90), given with ra_deg");
    v.optional("radius_deg", radius_deg, "search radius around the pointing (deg, 0..180]");
    v.optional("tweak_order", tweak_order, "SIP distortion order fitted (1..5)");
  }
};

// InputError naming the field (as `options.<field>` of `step`) when an option is out of range.
inline void validate(const AstrometryOptions& o, const std::string& step) {
  const auto bad = [&](const char* field, const std::string& what) {
    throw InputError(step + ": parameter 'options." + field + "' " + what);
  };
  if (!(o.scale_low_arcsec > 0)) bad("scale_low_arcsec", "must be > 0, got " + std::to_string(o.scale_low_arcsec));
  if (!(o.scale_high_arcsec > o.scale_low_arcsec)) {
    bad("scale_high_arcsec", "must exceed scale_low_arcsec, got " + std::to_string(o.scale_high_arcsec));
  }
  if (o.time_limit_s < 1 || o.time_limit_s > 3600) bad("time_limit_s", "must be 1..3600, got " + std::to_string(o.time_limit_s));
  if (o.ra_deg.has_value() != o.dec_deg.has_value()) bad(o.ra_deg ? "dec_deg" : "ra_deg", "must be given with the other");
  if (o.ra_deg && !(*o.ra_deg >= 0 && *o.ra_deg < 360)) bad("ra_deg", "must be in [0, 360), got " + std::to_string(*o.ra_deg));
  if (o.dec_deg && !(*o.dec_deg >= -90 && *o.dec_deg <= 90)) bad("dec_deg", "must be in [-90, 90], got " + std::to_string(*o.dec_deg));
  if (!(o.radius_deg > 0 && o.radius_deg <= 180)) bad("radius_deg", "must be in (0, 180], got " + std::to_string(o.radius_deg));
  if (o.tweak_order < 1 || o.tweak_order > 5) bad("tweak_order", "must be 1..5, got " + std::to_string(o.tweak_order));
}

struct SolveFieldParams {
  std::uint64_t observation_id = 0;
  AstrometryOptions options;
  template <class V> void visit(V& v) {
    v.required("observation_id", observation_id, "the observation");
    v.nested("options", options, "astrometry options");
  }
};

// match_field: the night's sources into their field's catalogue.
struct MatchFieldParams {
  std::uint64_t observation_id = 0;
  bool tycho2 = true;
  std::string catalogue_file;  // relative to the site root
  std::string catalogue_name = "operator";
  template <class V> void visit(V& v) {
    v.required("observation_id", observation_id, "the observation");
    v.optional("tycho2", tycho2, "record each field source's three nearest Tycho-2 stars (installed index files)");
    v.optional("catalogue_file", catalogue_file,
               "an operator's catalogue extract (CSV or FITS table: ra, dec, mag, id), relative to the site root");
    v.optional("catalogue_name", catalogue_name, "the extract's name in field_source_catalogue_star, e.g. gaia-dr3");
  }
};

// field_search: every field source's light curve across its nights searched for periodic
// transits (issue 21); alerts for the candidates above the thresholds.
struct FieldSearchParams {
  std::uint64_t field_id = 0;
  std::uint64_t observation_id = 0;
  std::string method = "gp";
  double min_period_d = 0.5;
  double max_period_d = 0;
  std::uint64_t periods = 4000;
  std::uint64_t max_signals = 3;
  double min_snr = 7;
  std::uint64_t min_points = 40;
  double alert_snr = 10;
  double alert_false_alarm = 0.01;
  std::string role;
  std::uint64_t threads = 0;
  template <class V> void visit(V& v) {
    v.optional("field_id", field_id, "the field (or give `observation_id`)");
    v.optional("observation_id", observation_id,
               "instead of `field_id`: the field this night was matched into (the search after every night; "
               "an unsolved night has none and searches nothing)");
    v.optional("method", method, "gp (correlated noise as a GP while searching) or bls (white noise)");
    v.optional("min_period_d", min_period_d, "shortest period searched (days)");
    v.optional("max_period_d", max_period_d, "longest period searched (days; 0: half the time span)");
    v.optional("periods", periods, "periods on the grid (uniform in frequency)");
    v.optional("max_signals", max_signals, "signals per source: the strongest, then after masking it, ...");
    v.optional("min_snr", min_snr, "a signal under this SNR is not a candidate (and ends the masking)");
    v.optional("min_points", min_points, "clean points a field source needs to be searched");
    v.optional("alert_snr", alert_snr, "a candidate at or above this SNR with no flag is an alert");
    v.optional("alert_false_alarm", alert_false_alarm, "... and at most this false-alarm fraction (inverted curves)");
    v.optional("role", role, "the alerts' VOEvent role (observation, test, utility; empty: TIANYU_ALERT_ROLE or observation)");
    v.optional("threads", threads, "worker threads (0: one per core)");
  }
};

// coadd_minute: one minute of a short-exposure night's raw frames calibrated, registered and
// co-added in one pass (issue 17); the minute is given by its frames or by its index.
struct CoaddMinuteParams {
  std::uint64_t observation_id = 0;
  std::vector<std::uint64_t> frame_ids;
  std::optional<std::uint64_t> minute;
  std::uint64_t threads = 0;
  std::optional<std::uint64_t> grid_frame_id;
  template <class V> void visit(V& v) {
    v.required("observation_id", observation_id, "the observation");
    v.optional("frame_ids", frame_ids, "the minute's short science frames (or give `minute`)");
    v.optional("minute", minute,
               "the minute's index: frames whose mid-exposure time is 60k..60(k+1) s after the observation's "
               "first science frame's (instead of `frame_ids`)");
    v.optional("threads", threads, "worker threads (0: one per core)");
    v.optional("grid_frame_id", grid_frame_id,
               "a part of a minute shared by several consumers: co-added on this frame's grid (the minute's first) "
               "as a minute_part, which combine_minute adds up");
  }
};

// combine_minute: the parts of one minute (coadd_minute with grid_frame_id) added up into the
// minute's stack, as if one process had co-added it.
struct CombineMinuteParams {
  std::uint64_t observation_id = 0;
  std::vector<std::uint64_t> frame_ids;
  std::uint64_t threads = 0;
  template <class V> void visit(V& v) {
    v.required("observation_id", observation_id, "the observation");
    v.required("frame_ids", frame_ids, "all the minute's short science frames (the parts')");
    v.optional("threads", threads, "worker threads (0: one per core)");
  }
};

}  // namespace tianyu::steps
