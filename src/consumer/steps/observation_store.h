#pragma once
// The observation's rows as the step adapters see them: every database read and write of an
// adapter goes through ObservationStore, so an adapter can run against an in-memory double in a
// unit test and against MariaDB in the consumer (sql_observation_store.cpp) with the same code.
//
// Reads answer for rows committed by earlier processes. Writes are *staged*: they become rows
// only in the transaction that records the process's success (StepContext::on_commit for the
// SQL store), so a step's rows and its status commit together or not at all. Every staged write
// of a kind replaces what an earlier run of the same step wrote (a re-run is idempotent).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/alignment/align.h"
#include "pipeline/geometry.h"
#include "pipeline/transit/search.h"
#include "pipeline/recipes/detect_sources.h"
#include "pipeline/selection/quality.h"
#include "pipeline/time/airmass.h"

namespace tianyu::db {
class Connection;
}

namespace tianyu::consumer {
struct StepContext;
}

namespace tianyu::consumer::steps {

// ---- what is read

struct RawFrame {
  std::uint64_t frame_id = 0;
  std::string path;  // relative to the site root
  int width = 0, height = 0;
};

// A frame's calibration values (frame_calibration: the header read once at ingest, the
// observation's override applied); empty when neither had it.
struct FrameCalibration {
  double exptime_s = 0;
  std::optional<double> gain_e_per_adu, read_noise_e, saturation_adu;
};

// An image_product row.
struct ImageProduct {
  std::uint64_t process_id = 0;
  std::optional<std::uint64_t> frame_id;
  std::string path, mask_path, weight_path, catalog_path;  // relative; empty when none
  double background_rms = 0;
  int frames = 0;
};

// A frame's alignment and the selection's verdict (frame_quality).
struct FrameAlignment {
  pipeline::FrameTransform transform;
  std::optional<bool> good;  // empty until select_frames ran
  std::string rejected_reason;
};

// One frame_quality row as the selection reads it.
struct FrameQualityRow {
  std::uint64_t frame_id = 0;
  pipeline::FrameQuality quality;
};

// The template's sources (by source_id) and the observation's aperture radii.
struct TemplateSources {
  std::vector<std::uint64_t> ids;
  std::vector<double> x, y;
  std::vector<bool> isolated;
  std::vector<double> radii_px;  // by aperture_index
  std::vector<double> flux;      // template_flux by source (empty: not read; ids are brightest first)
};

// Where the telescope pointed: the first science frame's header (frame_calibration's
// pointing_ra_deg/dec), else the target's catalogue position.
struct SkyPointing {
  double ra_deg = 0, dec_deg = 0;
  std::string from;  // "header" or "target"
};

// A frame the selection kept, in time order.
struct GoodFrame {
  std::uint64_t frame_id = 0;
  double bjd_tdb_mid = 0;
  std::optional<double> exptime_s;
};

// What a good frame's systematics are computed from (frame_calibration, the header, the
// calibrated product and the alignment), in time order.
struct FrameConditions {
  std::uint64_t frame_id = 0;
  std::optional<double> jd_utc_mid;
  std::optional<double> airmass;         // the AIRMASS card
  std::optional<double> altitude_deg;    // a header altitude card (TELALT, ALTITUDE, OBJCTALT, CENTALT)
  std::optional<double> background_adu;  // the calibrated frame's sky level
  double dx = 0, dy = 0;                 // the alignment's shift against the reference frame
};

// One raw_flux row; flux and flux_err are empty when not finite.
struct RawFlux {
  std::uint64_t frame_id = 0, source_id = 0;
  int aperture_index = 0;
  std::optional<double> flux, flux_err;
  std::uint32_t flags = 0;
};

// One source's clean light-curve points (flags 0, a positive relative flux), in time order.
struct SourceLightCurve {
  std::uint64_t source_id = 0;
  pipeline::LightCurveData curve;
};

// ---- what is staged for the success transaction

// The observation's astrometric solution (observation_wcs): solved or, with the reason, not.
struct ObservationWcsRecord {
  bool solved = false;
  std::string method;       // "solve-field", "operator", "none"
  std::string reason;       // why there is no solution (empty when solved)
  std::string wcs_header;   // TAN-SIP cards, 80-character records joined by newlines
  std::optional<double> center_ra_deg, center_dec_deg, pixel_scale_arcsec, rotation_deg;
  std::optional<std::int64_t> catalogue_stars;
  std::optional<double> rms_arcsec, solve_seconds;
};

// A template source's sky position through the solution.
struct SourceSky {
  std::uint64_t source_id = 0;
  double ra_deg = 0, dec_deg = 0;
};

// A minute stack's place in time (short-exposure mode): it stands for its minute under its
// first short frame's id; its time is the mean of its frames', its exposure their sum.
struct MinuteRecord {
  std::uint64_t frame_id = 0, observation_id = 0, process_id = 0;
  std::vector<std::uint64_t> frame_ids;  // the short frames summed, in time order
};

struct ImageProductRecord {
  std::uint64_t process_id = 0, observation_id = 0;
  std::string kind;
  ImageProduct product;
  std::optional<double> background_adu;
  std::optional<std::uint64_t> masked_pixels;
};

// The quality numbers of an aligned (or unalignable) frame; the verdict comes later.
struct FrameQualityRecord {
  std::uint64_t frame_id = 0, observation_id = 0, process_id = 0;
  std::uint64_t star_count = 0;
  double background_rms_adu = 0;
  pipeline::AlignResult alignment;
  double trail_length_px = 0;
};

struct FrameVerdict {
  std::uint64_t frame_id = 0;
  bool good = false;
  std::string rejected_reason;  // when not good
};

// A source's relative flux in one frame; values empty when not finite.
struct RelativeFluxPoint {
  std::uint64_t source_id = 0, frame_id = 0;
  std::optional<double> rel_flux, rel_flux_err;
  std::uint32_t flags = 0;
};

// A source's photometric decisions (source_photometry).
struct SourcePhotometry {
  std::uint64_t source_id = 0;
  std::optional<std::uint64_t> best_aperture;
  std::optional<std::int64_t> group;
  bool is_reference = false;
  std::string decision;
  std::optional<double> median_flux, instrumental_mag, rms, cdpp_ppm;
  std::int64_t points = 0;
};

struct ReferenceGroup {
  std::int64_t group_id = 0, position_bin = 0;
  double min_flux = 0, max_flux = 0, snr = 0;
  std::int64_t references_kept = 0;
  std::string dropped_json;  // [{"source_id":…, "reason":…}]
};

struct RelativeFluxRecords {
  std::vector<RelativeFluxPoint> curves;
  std::vector<SourcePhotometry> sources;
  std::vector<ReferenceGroup> groups;
};

// The gain the observation's errors rest on and whether they match the scatter (observation_noise).
struct ObservationNoiseRecord {
  std::optional<double> gain_e_per_adu, gain_err, gain_used_by_photometry, read_noise_e;
  std::string gain_method;  // "observation", "header", "flat_photon_transfer", "constant_star_scatter", "assumed"
  std::string gain_detail;
  std::int64_t constant_stars = 0;
  std::optional<double> constant_stars_reduced_chi2;
};

// One good frame's systematics (frame_systematics); empty when not measurable.
struct FrameSystematicsRecord {
  std::uint64_t frame_id = 0;
  std::optional<double> airmass;
  std::string airmass_from;  // "header", "site", "altitude"; empty with no airmass
  std::optional<double> fwhm_px, background_adu, transparency, dx_px, dy_px;
};

struct TransitCandidate {
  std::uint64_t source_id = 0;
  double ln_bayes_factor = 0, t0_bjd_tdb = 0, duration_d = 0, depth = 0;
  std::int64_t points = 0;
};

class ObservationStore {
 public:
  virtual ~ObservationStore() = default;

  virtual std::optional<RawFrame> raw_frame(std::uint64_t frame_id) = 0;
  // The observation's frames of `kind` (science, bias, dark, flat), in time order.
  virtual std::vector<RawFrame> raw_frames(std::uint64_t observation_id, const std::string& kind) = 0;
  // The most common size among the observation's science frames (ties: the earliest); empty
  // when it has none.
  virtual std::optional<std::pair<int, int>> frame_size(std::uint64_t observation_id) = 0;
  virtual std::optional<FrameCalibration> frame_calibration(std::uint64_t frame_id) = 0;
  // The products of `kind` made by the processes `process_id` depends on, in the time order of
  // their frames (then by frame and process id).
  virtual std::vector<ImageProduct> dependency_products(std::uint64_t process_id, const std::string& kind) = 0;
  virtual std::optional<FrameAlignment> frame_alignment(std::uint64_t frame_id) = 0;
  // Every frame_quality row of the observation, by frame id.
  virtual std::vector<FrameQualityRow> frame_quality(std::uint64_t observation_id) = 0;
  virtual TemplateSources template_sources(std::uint64_t observation_id) = 0;
  virtual std::vector<GoodFrame> good_frames(std::uint64_t observation_id) = 0;
  // Hands `visit` each raw_flux row of the observation (1.7 million for 200 frames of 2,878
  // sources at 3 radii: streamed, not gathered).
  virtual void each_raw_flux(std::uint64_t observation_id, const std::function<void(const RawFlux&)>& visit) = 0;
  // By source id.
  virtual std::vector<SourceLightCurve> light_curves(std::uint64_t observation_id) = 0;
  // Empty when neither the frames' headers nor the target give a position.
  virtual std::optional<SkyPointing> pointing(std::uint64_t observation_id) = 0;
  // The good frames' conditions, in time order.
  virtual std::vector<FrameConditions> frame_conditions(std::uint64_t observation_id) = 0;
  // The coordinates of the observation's site, when the operator stored them.
  virtual std::optional<pipeline::Site> site_location(std::uint64_t observation_id) = 0;

  virtual void stage_image_product(const ImageProductRecord& record) = 0;
  virtual void stage_frame_quality(const FrameQualityRecord& record) = 0;
  // Replaces the minute's minute_time row.
  virtual void stage_minute(const MinuteRecord& record) = 0;
  virtual void stage_frame_verdicts(std::vector<FrameVerdict> verdicts) = 0;
  // Replaces the observation's sources and apertures.
  virtual void stage_template_catalogue(std::uint64_t observation_id,
                                        const pipeline::recipes::TemplateCatalogue& catalogue) = 0;
  // Replaces the frame's raw_flux rows (no rows: the frame's earlier rows are deleted).
  virtual void stage_raw_fluxes(std::uint64_t observation_id, std::uint64_t frame_id, std::vector<RawFlux> rows) = 0;
  virtual void stage_relative_flux(std::uint64_t observation_id, RelativeFluxRecords records) = 0;
  // Replaces the observation's observation_noise row and frame_systematics rows.
  virtual void stage_noise_and_systematics(std::uint64_t observation_id, const ObservationNoiseRecord& noise,
                                           std::vector<FrameSystematicsRecord> frames) = 0;
  virtual void stage_transit_candidates(std::uint64_t observation_id, std::vector<TransitCandidate> candidates) = 0;
  // Replaces the observation's observation_wcs row and sets every source's RA/Dec (sources not
  // listed, e.g. all of them when unsolved, get NULL).
  virtual void stage_observation_wcs(std::uint64_t observation_id, const ObservationWcsRecord& record,
                                     std::vector<SourceSky> positions) = 0;
};

// The MariaDB store of a step: reads through `db`, writes staged with ctx.on_commit().
std::unique_ptr<ObservationStore> sql_observation_store(db::Connection& db, StepContext& ctx);

}  // namespace tianyu::consumer::steps
