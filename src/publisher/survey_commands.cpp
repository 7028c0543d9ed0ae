#include "publisher/survey_commands.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "common/platform.h"
#include <spdlog/fmt/fmt.h>

#include "common/alerts.h"
#include "common/broker.h"
#include "common/errors.h"
#include "publisher/aavso_report.h"
#include "publisher/publisher.h"

namespace tianyu::publisher {
namespace {

using nlohmann::json;

// A field by id (digits) or by name.
std::uint64_t field_id_of(db::Connection& c, const std::string& field) {
  const bool digits = !field.empty() && std::all_of(field.begin(), field.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  const auto rows = digits ? c.query("SELECT field_id FROM field WHERE field_id = ?", {std::stoull(field)})
                           : c.query("SELECT field_id FROM field WHERE name = ?", {field});
  if (rows.empty()) throw InputError("--field: no field '" + field + "' (an id or a name from the field table)");
  return rows.front().u64(0);
}

// The site that holds the field's newest matched night: the search runs where its light curves are.
std::string site_of_field(db::Connection& c, std::uint64_t field_id) {
  const auto rows = c.query("SELECT s.name FROM observation o JOIN site s ON s.site_id = o.site_id "
                            "WHERE o.observation_id IN (SELECT observation_id FROM source_field_match WHERE field_id = ?) "
                            "ORDER BY o.observation_id DESC LIMIT 1",
                            {field_id});
  if (rows.empty()) throw InputError(fmt::format("field {} has no observations to search", field_id));
  return rows.front().str(0);
}

std::uint64_t publish_search(db::Connection& c, ProcessIdGenerator& ids, std::uint64_t field_id,
                             const std::string& group, const std::string& params_text, int max_attempts) {
  ProcessSpec spec;
  spec.key = "field_search";
  spec.command = "field_search";
  spec.params = params_text.empty() ? json::object() : json::parse(params_text, nullptr, false);
  if (!spec.params.is_object()) throw InputError("--params: must be a JSON object, got '" + params_text + "'");
  spec.params["field_id"] = field_id;
  spec.site = site_of_field(c, field_id);
  spec.group = group;
  spec.max_attempts = max_attempts;
  return publish(c, {spec}, ids).at(spec.key);
}

json candidate_rows(db::Connection& c, std::uint64_t field_id, int limit) {
  json out = json::array();
  for (const auto& r : c.query(
           "SELECT k.field_rank, k.field_source_id, k.signal_index, k.method, k.period_d, k.epoch_bjd_tdb, k.duration_d, "
           "k.depth, k.depth_err, k.snr, k.sde, k.transits_with_data, k.nights_covered, k.odd_even_depth_diff, "
           "k.odd_even_sigma, k.secondary_depth, k.secondary_sigma, k.single_ln_bf, k.false_alarm, k.flags, "
           "s.ra_deg, s.dec_deg FROM survey_candidate k LEFT JOIN field_source s ON s.field_id = k.field_id "
           "AND s.field_source_id = k.field_source_id WHERE k.field_id = ? ORDER BY k.field_rank LIMIT ?",
           {field_id, std::int64_t{limit}})) {
    auto opt = [&](std::size_t i) { return r.is_null(i) ? json(nullptr) : json(r.f64(i)); };
    out.push_back({{"rank", r.i64(0)}, {"field_source_id", r.u64(1)}, {"signal", r.i64(2)}, {"method", r.str(3)},
                   {"period_d", r.f64(4)}, {"epoch_bjd_tdb", r.f64(5)}, {"duration_d", r.f64(6)},
                   {"depth", r.f64(7)}, {"depth_err", r.f64(8)}, {"snr", r.f64(9)}, {"sde", r.f64(10)},
                   {"transits_with_data", r.i64(11)}, {"nights_covered", r.i64(12)}, {"odd_even_diff", opt(13)},
                   {"odd_even_sigma", opt(14)}, {"secondary_depth", opt(15)}, {"secondary_sigma", opt(16)},
                   {"single_ln_bf", opt(17)}, {"false_alarm", opt(18)}, {"flags", r.str(19)},
                   {"ra_deg", opt(20)}, {"dec_deg", opt(21)}});
  }
  return out;
}

void print_candidates(const json& rows) {
  std::printf("%4s %6s %3s %11s %14s %7s %15s %6s %3s %3s %8s %8s %7s  %s\n", "rank", "source", "sig", "period_d",
              "epoch_bjd_tdb", "dur_h", "depth_%", "snr", "tr", "nt", "oe_sig", "sec_sig", "fap", "flags");
  auto num = [](const json& v) { return v.is_null() ? std::string("-") : fmt::format("{:.1f}", v.get<double>()); };
  for (const auto& k : rows) {
    std::printf("%4lld %6llu %3lld %11.6f %14.5f %7.2f %7.3f+-%-6.3f %6.1f %3lld %3lld %8s %8s %7s  %s\n",
                k["rank"].get<long long>(), k["field_source_id"].get<unsigned long long>(), k["signal"].get<long long>(),
                k["period_d"].get<double>(), k["epoch_bjd_tdb"].get<double>(), 24 * k["duration_d"].get<double>(),
                100 * k["depth"].get<double>(), 100 * k["depth_err"].get<double>(), k["snr"].get<double>(),
                k["transits_with_data"].get<long long>(), k["nights_covered"].get<long long>(),
                num(k["odd_even_sigma"]).c_str(), num(k["secondary_sigma"]).c_str(),
                k["false_alarm"].is_null() ? "-" : fmt::format("{:.4f}", k["false_alarm"].get<double>()).c_str(),
                k["flags"].get<std::string>().c_str());
  }
}

void list_alerts(db::Connection& c, int limit, bool as_json) {
  const auto rows = c.query("SELECT json, published_at IS NOT NULL FROM alert ORDER BY alert_id DESC LIMIT ?",
                            {std::int64_t{limit}});
  for (const auto& r : rows) {
    auto j = json::parse(r.str(0));
    j["published"] = r.i64(1) != 0;
    if (as_json) {
      std::cout << j.dump() << "\n";
    } else {
      std::cout << j.value("ivorn", "") << "  " << j.value("summary", "") << (j["published"] ? "" : "  (not yet published)")
                << "\n";
    }
  }
}

// Prints the messages of tianyu.alerts as they come: the JSON twins (one line each) or, with
// --xml, the VOEvent documents. Stops after `count` messages (0: never) or `timeout_s` (0: never).
void follow_alerts(const Config& config, bool xml, int count, double timeout_s) {
  broker::Connection b(broker::settings_from(config.broker), "tianyu-publish-alerts");
  alerts::declare_exchanges(b);
  const std::string queue = fmt::format("tianyu.alerts.follow.{}", platform::process_id());
  broker::QueueOptions q;
  q.durable = false, q.exclusive = true, q.auto_delete = true;
  b.declare_queue(queue, q);
  b.bind_queue(queue, alerts::kAlertExchange, xml ? "#.voevent" : "#.json");
  b.consume(queue, 16);
  std::fprintf(stderr, "following %s (%s); Ctrl-C stops\n", alerts::kAlertExchange, xml ? "VOEvent XML" : "JSON");
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
  for (int seen = 0; count == 0 || seen < count;) {
    if (timeout_s > 0 && std::chrono::steady_clock::now() >= until) break;
    const auto d = b.next_delivery(std::chrono::milliseconds(500));
    if (!d) continue;
    std::cout << d->body << (xml ? "" : "\n") << std::flush;
    b.ack(d->delivery_tag);
    ++seen;
  }
}

}  // namespace

void SurveyCommands::add(CLI::App& app) {
  search_ = app.add_subcommand("search", "Publish the periodic transit search of a field (the field_search step)");
  search_->add_option("--field", field_, "Field id or name")->required();
  search_->add_option("--group", group_, "Group that runs it (default general)");
  search_->add_option("--params", params_, "More field_search parameters as JSON, e.g. {\"method\": \"bls\"}");
  search_->add_option("--max-attempts", max_attempts_, "Attempts (default 3)");
  candidates_ = app.add_subcommand("candidates", "A field's periodic candidates, ranked");
  candidates_->add_option("--field", field_, "Field id or name")->required();
  candidates_->add_flag("--json", json_, "JSON array instead of a table");
  candidates_->add_option("--limit", limit_, "Rows (default 20)");
  alerts_ = app.add_subcommand("alerts", "The alerts raised (newest first), or with --follow the messages of "
                                         "tianyu.alerts as they come");
  alerts_->add_flag("--follow", follow_, "Print the alert messages as they arrive");
  alerts_->add_flag("--xml", xml_, "With --follow: the VOEvent XML instead of the JSON twin");
  alerts_->add_flag("--json", json_, "Without --follow: the JSON twins");
  alerts_->add_option("--count", count_, "With --follow: stop after this many messages (default: never)");
  alerts_->add_option("--timeout", timeout_s_, "With --follow: stop after this many seconds (default: never)");
  alerts_->add_option("--limit", limit_, "Without --follow: rows (default 20)");
  aavso_ = app.add_subcommand("aavso", "A night's AAVSO Exoplanet Database report of one source");
  aavso_->add_option("--observation", observation_, "Observation id")->required();
  aavso_->add_option("--source", source_, "Source id of the night")->required();
  aavso_->add_option("--out", out_, "Report file to write")->required();
  aavso_->add_option("--obscode", obscode_, "The observer's AAVSO observer code")->required();
}

bool SurveyCommands::run(db::Connection& c, ProcessIdGenerator& ids, const Config& config) {
  if (search_ && *search_) {
    std::cout << publish_search(c, ids, field_id_of(c, field_), group_, params_, max_attempts_) << "\n";
  } else if (candidates_ && *candidates_) {
    const auto rows = candidate_rows(c, field_id_of(c, field_), limit_);
    if (json_) {
      std::cout << rows.dump(2) << "\n";
    } else {
      print_candidates(rows);
    }
  } else if (alerts_ && *alerts_) {
    if (follow_) {
      follow_alerts(config, xml_, count_, timeout_s_);
    } else {
      list_alerts(c, limit_, json_);
    }
  } else if (aavso_ && *aavso_) {
    auto report = load_aavso(c, observation_, source_);
    report.obscode = obscode_;
    std::ofstream out(out_);
    out << format_aavso(report);
    if (!out.flush()) throw Error("aavso: cannot write " + out_ + " (disk full or no permission; a retry may help)");
    std::fprintf(stderr, "%zu points of source %llu written to %s\n", report.points.size(),
                 static_cast<unsigned long long>(source_), out_.c_str());
  } else {
    return false;
  }
  return true;
}

}  // namespace tianyu::publisher
