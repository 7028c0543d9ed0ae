#include "publisher/observation_dag.h"

#include <map>

#include <spdlog/fmt/fmt.h>

#include "common/errors.h"
#include "pipeline/stacking/stack_plan.h"

namespace tianyu::publisher {
namespace {

using json = nlohmann::json;

}  // namespace

std::vector<ProcessSpec> observation_dag(db::Connection& c, const PipelineOptions& o) {
  const auto obs = c.query(
      "SELECT s.name FROM observation o JOIN site s ON s.site_id = o.site_id WHERE o.observation_id = ?",
      {o.observation_id});
  if (obs.empty()) throw InputError(fmt::format("observation {} does not exist", o.observation_id));
  if (o.fan_out < 2) throw InputError(fmt::format("--fan-out must be at least 2, got {}", o.fan_out));
  const std::string site = obs.front().str(0);
  std::map<std::string, int> calibration;
  for (const auto& r : c.query("SELECT kind, COUNT(*) FROM raw_frame WHERE observation_id = ? GROUP BY kind",
                               {o.observation_id})) {
    calibration[r.str(0)] = static_cast<int>(r.i64(1));
  }
  std::vector<std::uint64_t> frames;  // science frames in time order
  for (const auto& r : c.query("SELECT frame_id FROM raw_frame WHERE observation_id = ? AND kind = 'science' "
                               "ORDER BY jd_utc_mid, frame_id",
                               {o.observation_id})) {
    frames.push_back(r.u64(0));
  }
  if (frames.empty()) throw InputError(fmt::format("observation {} has no science frames", o.observation_id));

  std::vector<ProcessSpec> dag;
  auto add = [&](std::string key, std::string command, json params, std::vector<Dependency> depends_on,
                 std::vector<Dependency> after = {}, const std::string& group = "") {
    ProcessSpec p;
    p.key = std::move(key);
    p.command = std::move(command);
    params["observation_id"] = o.observation_id;
    p.params = std::move(params);
    p.site = site;
    p.group = group.empty() ? o.group : group;
    p.depends_on = std::move(depends_on);
    p.after = std::move(after);
    p.max_attempts = o.max_attempts;
    p.observation_id = o.observation_id;
    dag.push_back(std::move(p));
  };
  const auto key = [](const char* step, std::uint64_t id) { return fmt::format("{}/{}", step, id); };

  std::vector<Dependency> masters;
  if (calibration["bias"] > 0) {
    add("master_bias", "master_bias", json::object(), {});
    masters.emplace_back(std::string("master_bias"));
  }
  if (calibration["dark"] > 0) {
    add("master_dark", "master_dark", json::object(), masters);
    masters.emplace_back(std::string("master_dark"));
  }
  if (calibration["flat"] > 0) {
    add("master_flat", "master_flat", json::object(), masters);
    masters.emplace_back(std::string("master_flat"));
  }
  // The reference (the grid of alignment, stacking and the template) is the first of the
  // night's first frames that calibrated: a truncated or foreign first frame must not take the
  // whole night down with it. Every align waits for those frames' calibration to end, so all
  // of them see the same set and pick the same reference.
  const std::size_t candidates = std::min<std::size_t>(5, frames.size());
  json reference_candidates = json::array();
  for (std::size_t i = 0; i < candidates; ++i) reference_candidates.push_back(frames[i]);
  std::vector<Dependency> aligned;
  for (const auto f : frames) {
    add(key("calibrate", f), "calibrate", {{"frame_id", f}, {"calibration", o.calibration}}, masters);
  }
  for (const auto f : frames) {
    std::vector<Dependency> waits;
    for (std::size_t i = 0; i < candidates; ++i) {
      if (frames[i] != f) waits.emplace_back(key("calibrate", frames[i]));
    }
    add(key("align", f), "align", {{"frame_id", f}, {"reference_candidates", reference_candidates}},
        {key("calibrate", f)}, waits);
    aligned.emplace_back(key("align", f));
  }
  add("select", "select_frames", json::object(), {}, aligned);

  const auto plan = pipeline::plan_stack_tree(static_cast<int>(frames.size()), o.fan_out);
  for (std::size_t n = 0; n < plan.nodes.size(); ++n) {
    const auto& node = plan.nodes[n];
    json children = json::array();
    std::vector<Dependency> needs{std::string("select")};
    for (const auto& child : node.children) {
      if (child.is_node) {
        children.push_back({{"node", child.index}});
        needs.emplace_back(fmt::format("stack/{}", child.index));
      } else {
        children.push_back({{"frame_id", frames[static_cast<std::size_t>(child.index)]}});
      }
    }
    const bool root = plan.root.is_node && plan.root.index == static_cast<int>(n);
    add(fmt::format("stack/{}", n), "stack",
        {{"node", n}, {"level", node.level}, {"children", children}, {"template", root}}, needs, {},
        o.stack_group);
  }
  // A single frame is its own template.
  std::vector<Dependency> template_ready{std::string("select")};
  if (plan.root.is_node) template_ready = {fmt::format("stack/{}", plan.root.index)};
  add("detect_sources", "detect_sources", {{"options", o.photometry}}, template_ready);
  std::vector<Dependency> measured;
  for (const auto f : frames) {
    add(key("photometry", f), "photometry", {{"frame_id", f}, {"options", o.photometry}},
        {std::string("detect_sources"), key("align", f)});
    measured.emplace_back(key("photometry", f));
  }
  add("relative_flux", "relative_flux", json::object(), {std::string("detect_sources")}, measured);
  add("transit_search", "transit_search", json::object(), {std::string("relative_flux")});
  return dag;
}

}  // namespace tianyu::publisher
