// Pages of the site: a light curve, the queues, the daemons, the route index, errors.
#include <spdlog/fmt/fmt.h>

#include "web/html.h"
#include "web/pages.h"
#include "web/svg.h"

namespace tianyu::web::pages {

using nlohmann::json;
using html::text;

std::string light_curve(const json& doc) {
  const auto points = doc["points"].size();
  std::size_t flagged = 0;
  svg::Plot p = svg::titled("relative flux", "BJD_TDB - first point", "relative flux");
  p.width = 900;
  p.height = 320;
  double t0 = points ? doc["points"][0]["bjd_tdb"].get<double>() : 0;
  for (const auto& pt : doc["points"]) {
    const bool flag = pt["flags"].get<std::int64_t>() != 0;
    flagged += flag;
    p.points.push_back({pt["bjd_tdb"].get<double>() - t0, pt["rel_flux"].get<double>(), flag});
  }
  for (const auto& b : doc["bins"]) p.line.push_back({b["bjd_tdb"].get<double>() - t0, b["rel_flux"].get<double>()});
  std::string out = fmt::format(
      "<p>Observation <a href=\"/observations/{0}\">{0}</a> · source {1} at ({2:.1f}, {3:.1f}) px · "
      "<b id=\"points\">{4}</b> points, <span id=\"flagged\">{5}</span> flagged (red) · line: bins of {6} "
      "unflagged points · <a href=\"/api/observations/{0}/sources/{1}\">JSON</a></p>",
      doc["observation_id"].get<std::uint64_t>(), doc["source_id"].get<std::uint64_t>(), doc["x_px"].get<double>(),
      doc["y_px"].get<double>(), points, flagged, doc["bin"].get<int>());
  out += "<div id=\"light-curve\">" + svg::render(p) + "</div>";
  if (doc["candidate"].is_null()) return out + "<p class=\"note\">No transit candidate for this source.</p>";
  const auto& c = doc["candidate"];
  return out + "<h2>Transit candidate</h2>" +
         html::table({"ln Bayes factor", "T0 (BJD_TDB)", "duration (d)", "depth", "points"},
                     {{text(c["ln_bayes_factor"]), html::fixed(c["t0_bjd_tdb"], 5), text(c["duration_d"]), text(c["depth"]),
                       text(c["points"])}}, "candidate");
}

namespace {

// A step handed back again and again for want of a resource spends no attempt, so it never
// fails and nothing else on the site says it is stuck: say it in words under the table.
std::string resource_wait_warning(const json& q) {
  const auto& w = q["longest_resource_wait"];
  const auto times = w["resource_waits"].get<std::int64_t>();
  const auto others = q["resource_waiting"].get<std::int64_t>() - 1;
  return fmt::format(
      "<p class=\"resource-wait\" style=\"color:#c0392b\"><b>{}</b> (process {}) of site {}, group {} has been "
      "handed back {} time{} in a row: <span class=\"err\">{}</span>. No consumer of this group can run it now; it "
      "spends no attempt, so it waits until one can.{}</p>",
      text(w["command"]), text(w["process_id"]), text(q["site"]), text(q["group"]), times, times == 1 ? "" : "s",
      w["error"].is_null() ? "no error recorded" : text(w["error"]),
      others > 0 ? fmt::format(" {} more step{} of this group also wait{} for a resource.", others,
                               others == 1 ? "" : "s", others == 1 ? "s" : "")
                 : "");
}

}  // namespace

std::string queues(const json& doc) {
  std::vector<std::vector<std::string>> rows;
  std::string warnings;
  for (const auto& q : doc["queues"]) {
    const std::string ready = q["ready"].is_null()
        ? "<span class=\"note\" title=\"" + text(q["broker_error"]) + "\">unknown</span>" : text(q["ready"]);
    rows.push_back({text(q["site"]), text(q["group"]), text(q["queue"]), ready, text(q["queued"]), text(q["running"]),
                    text(q["retry_wait"]), text(q["resource_waiting"]), text(q["failed"]), text(q["consumers"]),
                    text(q["workers"]), text(q["dead_letters_dropped"])});
    if (q["resource_waiting"].get<std::int64_t>() > 0) warnings += resource_wait_warning(q);
  }
  std::string out = html::table({"site", "group", "queue", "ready (broker)", "queued (db)", "running = unacked (db)",
                                 "waiting to retry", "waiting for a resource", "failed", "consumers alive", "workers",
                                 "dead letters dropped"},
                                rows, "queues") + warnings;
  const auto& dl = doc["dead_letters"];
  out += fmt::format("<p>Dead letters kept in <code>{}</code>: <b>{}</b> (all queues; {}).</p>", text(dl["queue"]),
                     dl["ready"].is_null() ? "unknown" : text(dl["ready"]),
                     dl["ready"].is_null() ? text(dl["broker_error"]) : "inspect them with the broker's tools");
  return out + "<p class=\"note\">Ready: messages waiting in the broker. Queued: dispatched, not yet claimed "
               "(in the queue or on the wire). Running: claimed by a consumer, its message unacknowledged.</p>";
}

std::string daemons(const json& doc) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : doc["daemons"]) {
    const bool alive = d["alive"].get<bool>();
    rows.push_back({fmt::format("<span style=\"color:{}\">{}</span>", alive ? "#2e8b57" : "#c0392b",
                                alive ? "alive" : "silent"),
                    text(d["kind"]), text(d["daemon_id"]), text(d["host"]), text(d["site"]), text(d["group"]),
                    text(d["workers"]), text(d["doing"]), text(d["started_at"]), text(d["last_heartbeat"]),
                    html::duration(d["seconds_since"].get<double>()) + " ago"});
  }
  if (rows.empty()) return "<p class=\"note\">No manager or consumer has reported yet.</p>";
  return html::table({"", "kind", "instance", "host", "site", "group", "workers", "doing", "started (UTC)",
                      "last heartbeat (UTC)", ""}, rows, "daemons");
}

std::string api_index() {
  const std::vector<std::vector<std::string>> routes = {
      {"/", "/api/observations", "observations: target, night, frames, processes per state, progress, elapsed"},
      {"/observations/ID", "/api/observations/ID", "one observation: steps × frames grid, failures, rejected frames, per-frame diagnostics, candidates"},
      {"/observations/ID/durations", "/api/observations/ID/durations", "per step type: median and p95 duration; throughput over time"},
      {"/observations/ID/sources/SOURCE", "/api/observations/ID/sources/SOURCE", "a source's light curve (binned, flagged points marked) and candidate"},
      {"/queues", "/api/queues", "queues per (site, group): ready, queued, running (unacked), waiting for a resource, consumers, dead letters"},
      {"/daemons", "/api/daemons", "managers and consumers: host, site, group, workers, doing, last heartbeat"},
      {"", "/api/status[?observation=ID]", "exactly `tianyu-publish status --json [--observation ID]`"}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : routes) rows.push_back({html::escape(r[0]), html::escape(r[1]), html::escape(r[2])});
  return html::table({"page", "JSON", "what"}, rows, "routes") +
         "<p class=\"note\">GET (and HEAD) only: nothing here changes state; other methods get 405.</p>";
}

std::string error(int status, const std::string& message) {
  return html::page(status == 404 ? "Not found" : status == 405 ? "Method not allowed" : "Error",
                    "<p class=\"error\">" + html::escape(message) + "</p>");
}

}  // namespace tianyu::web::pages
