// Pages of the observations: the list, one observation, its durations.
#include <cmath>

#include <spdlog/fmt/fmt.h>

#include "web/html.h"
#include "web/pages.h"
#include "web/svg.h"

namespace tianyu::web::pages {
namespace {

using nlohmann::json;
using html::escape;
using html::text;

std::string progress_bar(double fraction) {
  return fmt::format("<span class=\"bar\"><span style=\"width:{:.0f}%\"></span></span> {:.0f}%",
                     100 * fraction, 100 * fraction);
}

// "success 812 · failed 1 · running 3", only the non-zero states, each in its colour.
std::string state_counts(const json& counts) {
  std::string out;
  for (const auto& [state, n] : counts.items()) {
    if (n.get<std::int64_t>() == 0) continue;
    out += fmt::format("<span class=\"count state-{0}\" style=\"color:{1}\">{0}&nbsp;<b>{2}</b></span> ",
                       escape(state), html::state_colour(state), n.get<std::int64_t>());
  }
  return out.empty() ? "<span class=\"note\">no processes</span>" : out;
}

std::string elapsed(const json& o) {
  return o["elapsed_s"].is_null() ? "" : html::duration(o["elapsed_s"].get<double>());
}

}  // namespace

std::string observations(const json& doc) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& o : doc["observations"]) {
    const auto id = o["observation_id"].get<std::uint64_t>();
    rows.push_back({html::link(fmt::format("/observations/{}", id), std::to_string(id)), text(o["name"]),
                    text(o["target"]), text(o["site"]), text(o["night"]), text(o["frames"]),
                    state_counts(o["counts"]), progress_bar(o["progress"].get<double>()), elapsed(o)});
  }
  if (rows.empty()) return "<p class=\"note\">No observation has been ingested yet.</p>";
  return html::table({"id", "observation", "target", "site", "night (UTC)", "frames", "processes",
                      "progress", "elapsed"}, rows, "observations");
}

namespace {

std::string grid(const json& g) {
  std::string out = "<p class=\"legend\">";
  for (const char* s : {"waiting", "queued", "running", "retry_wait", "success", "failed", "cancelled"}) {
    out += fmt::format("<span style=\"background:{}\">{}</span>", html::state_colour(s), s);
  }
  out += "</p><table class=\"grid\">";
  for (const auto& row : g["steps"]) {
    out += "<tr><th>" + text(row["step"]) + "</th>";
    for (const auto& cell : row["cells"]) {
      const std::string state = cell["state"].get<std::string>();
      out += fmt::format("<td class=\"cell state-{0}\" data-state=\"{0}\" style=\"background:{1}\" title=\"process {2}{3}: {0}\"></td>",
                         escape(state), html::state_colour(state), cell["process_id"].get<std::uint64_t>(),
                         cell.contains("frame_id") ? fmt::format(", frame {}", cell["frame_id"].get<std::uint64_t>()) : "");
    }
    out += "</tr>\n";
  }
  return out + "</table>";
}

std::string failures(const json& list) {
  if (list.empty()) return "<p class=\"note\">No failures.</p>";
  std::vector<std::vector<std::string>> rows;
  for (const auto& f : list) {
    rows.push_back({text(f["process_id"]), text(f["command"]), text(f["state"]),
                    fmt::format("{} of {}", f["attempt"].get<std::uint64_t>(), f["max_attempts"].get<std::uint64_t>()),
                    f["consumer"].get<std::string>().empty() ? "<span class=\"note\">not recorded</span>" : text(f["consumer"]),
                    text(f["finished_at"]), "<div class=\"err\">" + text(f["error"]) + "</div>"});
  }
  return html::table({"process", "step", "state", "attempt", "consumer", "time (UTC)", "error"}, rows, "failures");
}

std::string rejected(const json& list) {
  if (list.empty()) return "<p class=\"note\">No frame was rejected.</p>";
  std::vector<std::vector<std::string>> rows;
  for (const auto& f : list) {
    rows.push_back({text(f["frame_id"]), text(f["path"]), html::fixed(f["bjd_tdb"], 5), text(f["reason"]), text(f["align_failure"])});
  }
  return html::table({"frame", "file", "BJD_TDB", "reason", "alignment"}, rows, "rejected");
}

std::string diagnostics(const json& list) {
  struct Series { const char* field; const char* title; bool invert; };
  const Series series[] = {{"fwhm_px", "FWHM (px)", false}, {"background_adu", "background (ADU)", false},
                           {"background_rms_adu", "background rms (ADU)", false},
                           {"transparency", "transparency", false}, {"airmass", "airmass", true},
                           {"dx", "dx (px)", false}, {"dy", "dy (px)", false}};
  std::string out;
  for (const auto& s : series) {
    svg::Plot p = svg::titled(s.title, "JD (UTC) - first frame", s.field);
    p.invert_y = s.invert;
    double t0 = NAN;
    for (const auto& f : list) {
      if (f["jd_utc"].is_null() || f[s.field].is_null()) continue;
      if (std::isnan(t0)) t0 = f["jd_utc"].get<double>();
      p.points.push_back({f["jd_utc"].get<double>() - t0, f[s.field].get<double>(), f["good"] == false});
    }
    if (p.points.empty()) {
      out += fmt::format("<p class=\"note\">{}: not recorded for this observation.</p>", escape(s.title));
      continue;
    }
    out += svg::render(p);
  }
  return out;
}

std::string candidates(const json& doc) {
  const auto id = doc["observation_id"].get<std::uint64_t>();
  if (doc["candidates"].empty()) return "<p class=\"note\">No transit candidates (yet).</p>";
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : doc["candidates"]) {
    const auto source = c["source_id"].get<std::uint64_t>();
    rows.push_back({html::link(fmt::format("/observations/{}/sources/{}", id, source), std::to_string(source)),
                    text(c["ln_bayes_factor"]), html::fixed(c["t0_bjd_tdb"], 5), text(c["duration_d"]),
                    text(c["depth"]), text(c["points"])});
  }
  return html::table({"source", "ln Bayes factor", "T0 (BJD_TDB)", "duration (d)", "depth", "points"}, rows, "candidates");
}

}  // namespace

std::string observation(const json& doc) {
  const auto id = doc["observation_id"].get<std::uint64_t>();
  std::string out = fmt::format(
      "<p>Target <b>{}</b> at site {} · night {} · {} science frames · {} · elapsed {} · "
      "<a href=\"/observations/{}/durations\">durations</a> · <a href=\"/api/observations/{}\">JSON</a></p>",
      text(doc["target"]), text(doc["site"]), text(doc["night"]), text(doc["frames"]),
      progress_bar(doc["progress"].get<double>()), elapsed(doc), id, id);
  out += "<h2>Processes</h2><p id=\"counts\">" + state_counts(doc["status"]["counts"]) +
         fmt::format(" · total <b id=\"total\">{}</b></p>", doc["status"]["total"].get<std::int64_t>());
  out += "<h2>Steps × frames</h2>" + grid(doc["grid"]);
  out += "<h2>Failures</h2>" + failures(doc["failures"]);
  out += "<h2>Rejected frames</h2>" + rejected(doc["rejected_frames"]);
  out += "<h2>Per-frame diagnostics</h2>" + diagnostics(doc["diagnostics"]);
  out += "<h2>Transit candidates</h2>" + candidates(doc);
  out += fmt::format("<p class=\"note\">A source's light curve: /observations/{}/sources/&lt;source id&gt; "
                     "(the candidates above link theirs).</p>", id);
  return out;
}

std::string durations(const json& doc) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : doc["steps"]) {
    rows.push_back({text(s["step"]), text(s["finished"]), html::escape(fmt::format("{:.2f}", s["median_s"].get<double>())),
                    html::escape(fmt::format("{:.2f}", s["p95_s"].get<double>())), html::duration(s["total_s"].get<double>())});
  }
  std::string out = rows.empty() ? "<p class=\"note\">No step has finished yet.</p>"
                                 : html::table({"step", "finished", "median (s)", "p95 (s)", "total"}, rows, "durations");
  svg::Plot p = svg::titled("steps ended per minute", "seconds since the first start", "steps/min");
  p.bars = true;
  for (const auto& b : doc["throughput"]) p.points.push_back({b["from_s"].get<double>(), b["steps_per_min"].get<double>()});
  return out + "<h2>Throughput</h2>" + svg::render(p);
}

}  // namespace tianyu::web::pages
