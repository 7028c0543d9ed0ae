#pragma once
// The survey steps' own reads and writes (transit_search's vetting, field_search): what the
// night knows of each source beyond its clean light curve, a field's light curves across nights,
// and the staged vetting and candidate rows. Reads answer for rows committed by earlier
// processes; writes are staged with StepContext::on_commit, so they commit with the step.
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "common/alerts.h"
#include "pipeline/survey/field_search.h"
#include "pipeline/survey/night_vetting.h"

namespace tianyu::db {
class Connection;
}

namespace tianyu::consumer {
struct StepContext;
}

namespace tianyu::consumer::steps {

// One vetted row of transit_vetting.
struct TransitVettingRow {
  std::uint64_t source_id = 0;
  pipeline::survey::NightVetting vetting;
};

// A field source's points across nights, flags as stored (the search leaves flagged ones out).
struct FieldPoint {
  double bjd_tdb = 0, rel_flux = 0, rel_flux_err = 0;
  std::uint32_t flags = 0;
  std::uint64_t observation_id = 0;
};
struct FieldSourceCurve {
  std::uint64_t field_source_id = 0;
  std::vector<FieldPoint> points;  // by time
};

// One ranked row of survey_candidate.
struct SurveyCandidateRow {
  std::uint64_t field_source_id = 0;
  int rank = 0;
  std::string method;
  pipeline::survey::PeriodicCandidate candidate;
  double false_alarm = 0;
};

struct SkyPosition {
  double ra_deg = 0, dec_deg = 0;
};

class SurveyStore {
 public:
  SurveyStore(db::Connection& db, StepContext& ctx) : db_(db), ctx_(ctx) {}

  // Every source of the night with its position, reference role, and flagged-point counts; the
  // count of good frames in `frames`. By source id.
  std::vector<pipeline::survey::NightSource> night_sources(std::uint64_t observation_id);
  // The most common science-frame size of the observation.
  std::optional<std::pair<int, int>> frame_size(std::uint64_t observation_id);
  // Replaces the observation's transit_vetting rows.
  void stage_transit_vetting(std::uint64_t observation_id, std::vector<TransitVettingRow> rows);

  // Every field source's points across nights (field_light_curve), by source then time.
  std::vector<FieldSourceCurve> field_curves(std::uint64_t field_id);
  // The field sources' mean positions.
  std::map<std::uint64_t, SkyPosition> field_positions(std::uint64_t field_id);
  // The worst astrometric rms (arcsec) of the field's solved nights; nullopt: none solved.
  std::optional<double> field_astrometry_rms(std::uint64_t field_id);
  // A night source's position (NULL when the night was not solved).
  std::optional<SkyPosition> source_position(std::uint64_t observation_id, std::uint64_t source_id);
  // Replaces the field's survey_candidate rows.
  void stage_survey_candidates(std::uint64_t field_id, std::vector<SurveyCandidateRow> rows);
  // New alert rows (the relay publishes them once committed).
  void stage_alerts(std::vector<alerts::Alert> alerts);

 private:
  db::Connection& db_;
  StepContext& ctx_;
};

}  // namespace tianyu::consumer::steps
