#include "publisher/observation_dag.h"

#include <algorithm>
#include <map>
#include <optional>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "pipeline/stacking/stack_plan.h"
#include "pipeline/streaming/minute_frame.h"
#include "steps/step_params.h"

namespace tianyu::publisher {
namespace {

// The night as the DAG needs it: its site, its calibration frames by kind, and its frames in
// time order: each science frame (long exposures), or each minute of short frames under its
// first frame's id (short-exposure mode), made by `frame_step`.
struct Night {
  std::string site;
  std::map<std::string, int> calibration_frames;
  std::vector<std::uint64_t> frames;
  std::string frame_step = "calibrate";
  std::map<std::uint64_t, std::vector<std::uint64_t>> minutes;  // first frame -> the minute's frames
};

// Short exposures are co-added per minute: chosen by the operator, or (auto) when the night's
// median exposure is at most 1 s, as in Tianyu-I's 0.3-s mode.
bool use_minute_stacks(const std::string& mode, std::vector<double> exptimes) {
  if (mode == "short") return true;
  if (mode == "long") return false;
  if (mode != "auto") {
    throw InputError(fmt::format("--exposure-mode must be auto, long or short, got '{}'", mode));
  }
  if (exptimes.empty()) return false;
  std::nth_element(exptimes.begin(), exptimes.begin() + exptimes.size() / 2, exptimes.end());
  return exptimes[exptimes.size() / 2] <= 1.0;
}

void group_minutes(Night& n, const PipelineOptions& o, const std::vector<std::uint64_t>& ids,
                   const std::vector<std::optional<double>>& times) {
  const auto observation_id = o.observation_id;
  std::vector<double> jd;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!times[i]) {
      throw InputError(fmt::format("observation {}: frame {} has no mid-exposure time (jd_utc_mid): short exposures "
                                   "are co-added by the minute they were taken in",
                                   observation_id, ids[i]));
    }
    jd.push_back(*times[i]);
  }
  n.frame_step = o.minute_parts > 1 ? "combine_minute" : "coadd_minute";
  std::size_t fullest = 0;
  for (const auto& group : pipeline::streaming::minute_groups(jd)) {
    std::vector<std::uint64_t> minute;
    for (const auto i : group) minute.push_back(ids[i]);
    fullest = std::max(fullest, minute.size());
    n.frames.push_back(minute.front());
    n.minutes[minute.front()] = std::move(minute);
  }
  for (const char* kind : {"bias", "dark"}) {
    const auto found = n.calibration_frames.find(kind);
    const auto advice = pipeline::streaming::coherent_master_noise_advice(
        kind, found == n.calibration_frames.end() ? 0 : found->second, fullest);
    if (!advice.empty()) spdlog::warn("observation {}: {}", observation_id, advice);
  }
}

Night read_night(db::Connection& c, const PipelineOptions& o) {
  const auto observation_id = o.observation_id;
  const auto obs = c.query(
      "SELECT s.name FROM observation o JOIN site s ON s.site_id = o.site_id WHERE o.observation_id = ?",
      {observation_id});
  if (obs.empty()) throw InputError(fmt::format("observation {} does not exist", observation_id));
  Night n;
  n.site = obs.front().str(0);
  for (const auto& r : c.query("SELECT kind, COUNT(*) FROM raw_frame WHERE observation_id = ? GROUP BY kind",
                               {observation_id})) {
    n.calibration_frames[r.str(0)] = static_cast<int>(r.i64(1));
  }
  std::vector<std::uint64_t> ids;
  std::vector<std::optional<double>> times;
  std::vector<double> exptimes;
  for (const auto& r : c.query("SELECT frame_id, jd_utc_mid, exptime_s FROM frame_calibration WHERE observation_id = ? "
                               "AND kind = 'science' ORDER BY jd_utc_mid, frame_id",
                               {observation_id})) {
    ids.push_back(r.u64(0));
    times.push_back(r.is_null(1) ? std::nullopt : std::optional<double>(r.f64(1)));
    if (!r.is_null(2)) exptimes.push_back(r.f64(2));
  }
  if (ids.empty()) throw InputError(fmt::format("observation {} has no science frames", observation_id));
  if (use_minute_stacks(o.exposure_mode, exptimes)) {
    group_minutes(n, o, ids, times);
  } else {
    n.frames = std::move(ids);
  }
  return n;
}

std::string key(const char* step, std::uint64_t id) { return fmt::format("{}/{}", step, id); }

class DagBuilder {
 public:
  DagBuilder(const PipelineOptions& o, std::string site) : options_(o), site_(std::move(site)) {}

  template <class P>
  void add(std::string key, std::string command, const P& params, std::vector<Dependency> depends_on,
           std::vector<Dependency> after = {}, const std::string& group = "") {
    ProcessSpec p;
    p.key = std::move(key);
    p.command = std::move(command);
    p.params = steps::write_params(params);
    p.site = site_;
    p.group = group.empty() ? options_.group : group;
    p.depends_on = std::move(depends_on);
    p.after = std::move(after);
    p.max_attempts = options_.max_attempts;
    p.observation_id = options_.observation_id;
    dag_.push_back(std::move(p));
  }
  steps::ObservationParams observation() const { return {options_.observation_id}; }
  steps::FrameParams frame(std::uint64_t id) const { return {options_.observation_id, id}; }
  std::vector<ProcessSpec> take() { return std::move(dag_); }

 private:
  const PipelineOptions& options_;
  std::string site_;
  std::vector<ProcessSpec> dag_;
};

// Masters only for the kinds the night has; each later master needs the earlier ones.
std::vector<Dependency> add_masters(DagBuilder& dag, const Night& night) {
  std::vector<Dependency> masters;
  for (const char* kind : {"bias", "dark", "flat"}) {
    if (night.calibration_frames.count(kind) == 0) continue;
    const std::string command = std::string("master_") + kind;
    dag.add(command, command, dag.observation(), masters);
    masters.emplace_back(command);
  }
  return masters;
}

// A minute shared by several consumers: its frames in contiguous parts, each co-added on the
// grid of the minute's first frame, then added up.
void add_shared_minute(DagBuilder& dag, const PipelineOptions& o, const std::vector<std::uint64_t>& frames,
                       const std::vector<Dependency>& masters) {
  const std::size_t parts = std::min<std::size_t>(static_cast<std::size_t>(o.minute_parts), frames.size());
  std::vector<Dependency> made;
  for (std::size_t k = 0; k < parts; ++k) {
    steps::CoaddMinuteParams part;
    part.observation_id = o.observation_id;
    part.grid_frame_id = frames.front();
    part.frame_ids.assign(frames.begin() + static_cast<std::ptrdiff_t>(k * frames.size() / parts),
                          frames.begin() + static_cast<std::ptrdiff_t>((k + 1) * frames.size() / parts));
    const auto name = key("coadd_minute", part.frame_ids.front());
    dag.add(name, "coadd_minute", part, masters);
    made.emplace_back(name);
  }
  steps::CombineMinuteParams minute;
  minute.observation_id = o.observation_id;
  minute.frame_ids = frames;
  dag.add(key("combine_minute", frames.front()), "combine_minute", minute, made);
}

// Each frame of the night made: calibrated (long exposures) or co-added from its minute of
// short frames, with the masters.
void add_frames(DagBuilder& dag, const Night& night, const PipelineOptions& o, const std::vector<Dependency>& masters) {
  for (const auto f : night.frames) {
    if (night.frame_step == "calibrate") {
      dag.add(key("calibrate", f), "calibrate", dag.frame(f), masters);
      continue;
    }
    const auto& frames = night.minutes.at(f);
    if (night.frame_step == "coadd_minute") {
      steps::CoaddMinuteParams minute;
      minute.observation_id = o.observation_id;
      minute.frame_ids = frames;
      dag.add(key("coadd_minute", f), "coadd_minute", minute, masters);
      continue;
    }
    add_shared_minute(dag, o, frames, masters);
  }
}

// The reference (the grid of alignment, stacking and the template) is the first of the night's
// first frames that was made: a truncated or foreign first frame must not take the whole night
// down with it. Every align waits for those frames to end ('after' edges), so all of them see
// the same candidates among their dependencies and pick the same one.
std::vector<Dependency> add_alignment(DagBuilder& dag, const Night& night) {
  constexpr std::size_t kReferenceCandidates = 5;
  const std::size_t candidates = std::min(kReferenceCandidates, night.frames.size());
  const char* made = night.frame_step.c_str();
  std::vector<Dependency> aligned;
  for (const auto f : night.frames) {
    std::vector<Dependency> waits;
    for (std::size_t i = 0; i < candidates; ++i) {
      if (night.frames[i] != f) waits.emplace_back(key(made, night.frames[i]));
    }
    dag.add(key("align", f), "align", dag.frame(f), {key(made, f)}, waits);
    aligned.emplace_back(key("align", f));
  }
  return aligned;
}

// The stacking tree (fan-out K). A node's frames come from their calibrate processes ('after'
// edges: a frame that failed is simply absent), its child nodes from theirs. Returns what the
// template's detection depends on.
std::vector<Dependency> add_stack_tree(DagBuilder& dag, const Night& night, const PipelineOptions& o) {
  const auto plan = pipeline::plan_stack_tree(static_cast<int>(night.frames.size()), o.fan_out);
  for (std::size_t n = 0; n < plan.nodes.size(); ++n) {
    steps::StackParams params;
    params.observation_id = o.observation_id;
    params.node = n;
    params.is_template = plan.root.is_node && plan.root.index == static_cast<int>(n);
    std::vector<Dependency> needs{std::string("select")}, frames;
    for (const auto& child : plan.nodes[n].children) {
      if (child.is_node) {
        needs.emplace_back(key("stack", static_cast<std::uint64_t>(child.index)));
      } else {
        const auto frame = night.frames[static_cast<std::size_t>(child.index)];
        params.frame_ids.push_back(frame);
        frames.emplace_back(key(night.frame_step.c_str(), frame));
      }
    }
    dag.add(key("stack", n), "stack", params, needs, frames, o.stack_group);
  }
  // A single frame is its own template.
  if (!plan.root.is_node) return {std::string("select"), key(night.frame_step.c_str(), night.frames.front())};
  return {key("stack", static_cast<std::uint64_t>(plan.root.index))};
}

}  // namespace

std::vector<ProcessSpec> observation_dag(db::Connection& c, const PipelineOptions& o) {
  if (o.fan_out < 2) throw InputError(fmt::format("--fan-out must be at least 2, got {}", o.fan_out));
  if (o.minute_parts < 1) throw InputError(fmt::format("--minute-parts must be at least 1, got {}", o.minute_parts));
  const Night night = read_night(c, o);
  DagBuilder dag(o, night.site);
  const auto masters = add_masters(dag, night);
  add_frames(dag, night, o, masters);
  const auto aligned = add_alignment(dag, night);
  dag.add("select", "select_frames", dag.observation(), {}, aligned);
  const auto template_ready = add_stack_tree(dag, night, o);
  steps::DetectSourcesParams detect;
  detect.observation_id = o.observation_id;
  detect.options = steps::read_params<steps::PhotometryOptions>(o.photometry, "pipeline --photometry");
  dag.add("detect_sources", "detect_sources", detect, template_ready);
  // The template's astrometry: nothing of this night waits for it (an unsolved field still
  // completes with pixel positions); the field catalogue's matching will.
  steps::SolveFieldParams solve;
  solve.observation_id = o.observation_id;
  solve.options = steps::read_params<steps::AstrometryOptions>(o.astrometry, "pipeline --astrometry");
  steps::validate(solve.options, "pipeline --astrometry");
  dag.add("solve_field", "solve_field", solve, {std::string("detect_sources")});
  auto match_json = o.field_match;
  match_json["observation_id"] = o.observation_id;
  dag.add("match_field", "match_field", steps::read_params<steps::MatchFieldParams>(match_json, "pipeline --field-match"),
          {std::string("solve_field")});
  std::vector<Dependency> measured;
  for (const auto f : night.frames) {
    dag.add(key("photometry", f), "photometry", dag.frame(f),
            {std::string("detect_sources"), key("align", f), key(night.frame_step.c_str(), f)});
    measured.emplace_back(key("photometry", f));
  }
  dag.add("relative_flux", "relative_flux", dag.observation(), {std::string("detect_sources")}, measured);
  dag.add("transit_search", "transit_search", dag.observation(), {std::string("relative_flux")});
  if (o.field_search) {
    auto search_json = *o.field_search;
    if (search_json.is_object() && (search_json.contains("field_id") || search_json.contains("observation_id"))) {
      throw InputError("pipeline --field-search: parameters 'field_id' and 'observation_id' are not taken: the search "
                       "after a night covers that night's field (its 'observation_id' is set)");
    }
    search_json["observation_id"] = o.observation_id;
    dag.add("field_search", "field_search",
            steps::read_params<steps::FieldSearchParams>(search_json, "pipeline --field-search"),
            {std::string("match_field"), std::string("relative_flux")});
  }
  return dag.take();
}

}  // namespace tianyu::publisher
