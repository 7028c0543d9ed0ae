#include "common/alerts.h"

#include <cstdlib>
#include <ctime>
#include <map>
#include <set>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

namespace tianyu::alerts {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string param(const std::string& name, const std::string& type, const std::string& value,
                  const std::string& unit, const std::string& ucd) {
  std::string p = fmt::format("    <Param name=\"{}\" dataType=\"{}\" value=\"{}\"", name, type, escape(value));
  if (!unit.empty()) p += fmt::format(" unit=\"{}\"", unit);
  if (!ucd.empty()) p += fmt::format(" ucd=\"{}\"", ucd);
  return p + "/>\n";
}

std::string num(double v) { return fmt::format("{:.10g}", v); }

std::string what_section(const Alert& a) {
  std::string w = "  <What>\n" + param("kind", "string", a.kind, "", "meta.code.class");
  if (a.field_id) w += param("field_id", "int", std::to_string(*a.field_id), "", "meta.id");
  if (a.field_source_id) w += param("field_source_id", "int", std::to_string(*a.field_source_id), "", "meta.id;src");
  if (a.observation_id) w += param("observation_id", "int", std::to_string(*a.observation_id), "", "meta.id;obs");
  if (a.source_id) w += param("source_id", "int", std::to_string(*a.source_id), "", "meta.id;src");
  w += param("event_bjd_tdb", "float", fmt::format("{:.6f}", a.event_bjd_tdb), "d", "time.epoch");
  if (a.period_d) w += param("period", "float", num(*a.period_d), "d", "time.period");
  w += param("duration", "float", num(a.duration_d), "d", "time.duration");
  w += param("depth", "float", num(a.depth), "", "phot.flux;arith.ratio");
  w += param("depth_err", "float", num(a.depth_err), "", "stat.error;phot.flux;arith.ratio");
  if (a.snr) w += param("snr", "float", num(*a.snr), "", "stat.snr");
  if (a.ln_bayes_factor) w += param("ln_bayes_factor", "float", num(*a.ln_bayes_factor), "", "stat.likelihood");
  return w + "  </What>\n";
}

std::string where_when_section(const Alert& a) {
  std::string w =
      "  <WhereWhen>\n    <ObsDataLocation>\n      <ObservatoryLocation id=\"GEOLUN\"/>\n"
      "      <ObservationLocation>\n        <AstroCoordSystem id=\"UTC-ICRS-GEO\"/>\n"
      "        <AstroCoords coord_system_id=\"UTC-ICRS-GEO\">\n";
  w += fmt::format("          <Time unit=\"s\"><TimeInstant><ISOTime>{}</ISOTime></TimeInstant></Time>\n",
                   escape(a.event_utc));
  if (a.ra_deg && a.dec_deg) {
    w += fmt::format(
        "          <Position2D unit=\"deg\"><Name1>RA</Name1><Name2>Dec</Name2>"
        "<Value2><C1>{:.7f}</C1><C2>{:.7f}</C2></Value2><Error2Radius>{:.7f}</Error2Radius></Position2D>\n",
        *a.ra_deg, *a.dec_deg, a.position_err_arcsec.value_or(0.0) / 3600.0);
  }
  return w + "        </AstroCoords>\n      </ObservationLocation>\n    </ObsDataLocation>\n  </WhereWhen>\n";
}

std::string now_utc() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
#ifdef _WIN32
  gmtime_s(&tm, &t);
#else
  gmtime_r(&t, &tm);
#endif
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  return text;
}

}  // namespace

std::string default_role() {
  const char* role = std::getenv("TIANYU_ALERT_ROLE");
  if (role && (std::string(role) == "test" || std::string(role) == "utility" || std::string(role) == "observation")) {
    return role;
  }
  return "observation";
}

std::string voevent_xml(const Alert& a, const std::string& issued_utc) {
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += fmt::format(
      "<voe:VOEvent xmlns:voe=\"http://www.ivoa.net/xml/VOEvent/v2.0\" "
      "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
      "xsi:schemaLocation=\"http://www.ivoa.net/xml/VOEvent/v2.0 http://www.ivoa.net/xml/VOEvent/VOEvent-v2.0.xsd\" "
      "version=\"2.0\" role=\"{}\" ivorn=\"{}\">\n",
      escape(a.role), escape(a.ivorn));
  x += fmt::format("  <Who>\n    <AuthorIVORN>{}</AuthorIVORN>\n    <Date>{}</Date>\n"
                   "    <Author><shortName>Tianyu</shortName><contactName>Tianyu survey pipeline</contactName></Author>\n"
                   "  </Who>\n",
                   kIvornBase, escape(issued_utc));
  x += what_section(a) + where_when_section(a);
  x += fmt::format("  <How>\n    <Description>{}</Description>\n  </How>\n",
                   a.kind == "periodic" ? "Tianyu field search: GP/BLS periodic transit search over the field's nights"
                                        : "Tianyu night transit search: single-transit Bayes factor, vetted");
  x += fmt::format("  <Why importance=\"{}\">\n    <Inference><Concept>{}</Concept></Inference>\n"
                   "    <Description>{}</Description>\n  </Why>\n",
                   a.kind == "periodic" ? "0.8" : "0.5",
                   a.kind == "periodic" ? "periodic transit candidate" : "single transit candidate", escape(a.summary));
  return x + "</voe:VOEvent>\n";
}

nlohmann::json alert_json(const Alert& a, const std::string& issued_utc) {
  nlohmann::json j = {{"ivorn", a.ivorn},         {"role", a.role},           {"kind", a.kind},
                      {"issued_utc", issued_utc}, {"event_bjd_tdb", a.event_bjd_tdb},
                      {"event_utc", a.event_utc}, {"duration_d", a.duration_d}, {"depth", a.depth},
                      {"depth_err", a.depth_err}, {"summary", a.summary}};
  auto put = [&](const char* k, const auto& v) {
    if (v) j[k] = *v;
  };
  put("field_id", a.field_id);
  put("field_source_id", a.field_source_id);
  put("observation_id", a.observation_id);
  put("source_id", a.source_id);
  put("ra_deg", a.ra_deg);
  put("dec_deg", a.dec_deg);
  put("position_err_arcsec", a.position_err_arcsec);
  put("period_d", a.period_d);
  put("snr", a.snr);
  put("ln_bayes_factor", a.ln_bayes_factor);
  return j;
}

bool insert_alert(db::Connection& c, const Alert& a) {
  const auto issued = now_utc();
  auto opt_u = [](const std::optional<std::uint64_t>& v) { return v ? db::Param(*v) : db::Param(nullptr); };
  auto opt_d = [](const std::optional<double>& v) { return v ? db::Param(*v) : db::Param(nullptr); };
  return c.execute(
             "INSERT IGNORE INTO alert (ivorn, kind, role, field_id, field_source_id, observation_id, source_id, ra_deg, "
             "dec_deg, position_err_arcsec, event_bjd_tdb, event_utc, period_d, duration_d, depth, depth_err, snr, "
             "ln_bayes_factor, voevent, json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
             {a.ivorn, a.kind, a.role, opt_u(a.field_id), opt_u(a.field_source_id), opt_u(a.observation_id),
              opt_u(a.source_id), opt_d(a.ra_deg), opt_d(a.dec_deg), opt_d(a.position_err_arcsec), a.event_bjd_tdb,
              a.event_utc, opt_d(a.period_d), a.duration_d, a.depth, a.depth_err, opt_d(a.snr), opt_d(a.ln_bayes_factor),
              voevent_xml(a, issued), alert_json(a, issued).dump()}) > 0;
}

void declare_exchanges(broker::Connection& b) {
  b.declare_exchange(kAlertExchange, "topic", true);
  b.declare_exchange(kOperationsExchange, "topic", true);
}

int relay_unpublished(db::Connection& c, broker::Connection& b, int limit, std::chrono::milliseconds confirm_timeout) {
  const auto rows = c.query("SELECT alert_id, ivorn, kind, role, voevent, json FROM alert WHERE published_at IS NULL "
                            "ORDER BY alert_id LIMIT ?",
                            {std::int64_t{limit}});
  if (rows.empty()) return 0;
  std::map<std::uint64_t, std::uint64_t> alert_of;  // publish sequence -> alert id
  std::map<std::uint64_t, int> confirmed;           // alert id -> messages confirmed (of 2)
  for (const auto& r : rows) {
    const auto id = r.u64(0);
    const std::string key = r.str(3) + "." + r.str(2);
    broker::PublishOptions xml;
    xml.mandatory = false;  // nobody subscribed is not an error: the row stays the record
    xml.message_id = r.str(1);
    xml.content_type = "application/xml";
    alert_of[b.publish(kAlertExchange, key + ".voevent", r.str(4), xml)] = id;
    broker::PublishOptions json = xml;
    json.content_type = "application/json";
    json.message_id = r.str(1) + "#json";
    alert_of[b.publish(kAlertExchange, key + ".json", r.str(5), json)] = id;
  }
  const auto deadline = std::chrono::steady_clock::now() + confirm_timeout;
  while (b.unconfirmed() > 0 && std::chrono::steady_clock::now() < deadline) {
    for (const auto seq : b.wait_for_confirms(std::chrono::milliseconds(200)).acked) {
      if (alert_of.count(seq)) ++confirmed[alert_of[seq]];
    }
  }
  int marked = 0;
  for (const auto& [id, n] : confirmed) {
    if (n == 2) marked += static_cast<int>(c.execute("UPDATE alert SET published_at = NOW(6) WHERE alert_id = ? "
                                                     "AND published_at IS NULL", {id}));
  }
  return marked;
}

void publish_operations(broker::Connection& b, const std::string& routing_key, const nlohmann::json& event) {
  broker::PublishOptions o;
  o.mandatory = false;
  b.publish(kOperationsExchange, routing_key, event.dump(), o);
}

Relay::Relay(broker::Settings settings) : settings_(std::move(settings)) {}
Relay::~Relay() = default;

void Relay::relay(db::Connection& c) {
  try {
    if (!broker_) {
      broker_ = std::make_unique<broker::Connection>(settings_, "tianyu-alert-relay");
      broker_->enable_confirms();
      declare_exchanges(*broker_);
    }
    if (const int n = relay_unpublished(c, *broker_); n > 0) spdlog::info("published {} alerts on {}", n, kAlertExchange);
    relay_failures(c);
  } catch (const broker::BrokerError& e) {
    spdlog::warn("alert relay: broker: {}; the alerts stay unpublished until the next round", e.what());
    broker_.reset();
  } catch (const db::DbError& e) {
    if (e.connection_lost()) throw;  // the caller reconnects its database
    // A database without the alert table (an older schema) must not stop the dispatch.
    spdlog::warn("alert relay: {}; skipped this round", e.what());
  }
}

void Relay::relay_failures(db::Connection& c) {
  if (failures_since_.empty()) {
    failures_since_ = c.query_one("SELECT DATE_FORMAT(NOW(6), '%Y-%m-%d %H:%i:%s.%f')").str(0);
    return;
  }
  const auto rows = c.query(
      "SELECT process_id, command, attempt, COALESCE(error, ''), DATE_FORMAT(finished_at, '%Y-%m-%d %H:%i:%s.%f') "
      "FROM process WHERE state = 'failed' AND finished_at > ? ORDER BY finished_at LIMIT 200",
      {failures_since_});
  for (const auto& r : rows) {
    publish_operations(*broker_, "failed." + r.str(1),
                       {{"event", "process_failed"}, {"process_id", r.u64(0)}, {"command", r.str(1)},
                        {"attempt", r.i64(2)}, {"error", r.str(3)}, {"finished_at", r.str(4)}});
    failures_since_ = r.str(4);
  }
}

}  // namespace tianyu::alerts
