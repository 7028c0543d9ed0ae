#pragma once
// Science alerts and operations events on the broker. A periodic candidate of the field search
// or a night's single transit above its threshold is an `alert` row (the truth, written in the
// step's success transaction) and, once committed, two messages on the topic exchange
// tianyu.alerts: the VOEvent 2.0 XML (routing key "<role>.<kind>.voevent") and its JSON twin
// ("<role>.<kind>.json"). The outbox rule: the relay publishes rows whose published_at is NULL
// and sets it only after the broker confirmed both, so a crash between the two repeats a
// message (a subscriber dedups on the ivorn) and never loses one. Pipeline failures are not
// science: they go to tianyu.operations ("failed.<command>").
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/broker.h"
#include "common/db.h"

namespace tianyu::alerts {

inline constexpr const char* kAlertExchange = "tianyu.alerts";
inline constexpr const char* kOperationsExchange = "tianyu.operations";
inline constexpr const char* kIvornBase = "ivo://tianyu.survey/pipeline";

struct Alert {
  std::string kind;  // "periodic" or "single_transit"
  std::string role = "observation";  // VOEvent role: observation, test (from tests) or utility
  std::string ivorn;
  std::optional<std::uint64_t> field_id, field_source_id, observation_id, source_id;
  std::optional<double> ra_deg, dec_deg, position_err_arcsec;
  double event_bjd_tdb = 0;  // mid-transit (periodic: the epoch)
  std::string event_utc;     // the same instant in ISO 8601 UTC at the geocentre
  std::optional<double> period_d;
  double duration_d = 0, depth = 0, depth_err = 0;
  std::optional<double> snr, ln_bayes_factor;
  std::string summary;  // one line in words (flags, false-alarm estimate)
};

// The alert's role for this process: TIANYU_ALERT_ROLE when set to observation, test or
// utility (tests set it to "test"), otherwise "observation".
std::string default_role();

// The VOEvent 2.0 document (Who/What/WhereWhen/How/Why) and its JSON twin.
std::string voevent_xml(const Alert& a, const std::string& issued_utc);
nlohmann::json alert_json(const Alert& a, const std::string& issued_utc);

// The row for `a` (INSERT IGNORE on the ivorn: a re-run that finds the same thing raises no
// second alert). Returns true when a new row was written. Runs inside the caller's transaction.
bool insert_alert(db::Connection& c, const Alert& a);

// Both exchanges, durable topics; idempotent.
void declare_exchanges(broker::Connection& b);

// Publishes up to `limit` alert rows not yet published (oldest first) with publisher confirms
// and marks those confirmed; returns how many were marked. `b` must have confirms enabled.
int relay_unpublished(db::Connection& c, broker::Connection& b, int limit = 100,
                      std::chrono::milliseconds confirm_timeout = std::chrono::seconds(5));

// One operations event (JSON) on tianyu.operations, routing key `routing_key`.
void publish_operations(broker::Connection& b, const std::string& routing_key, const nlohmann::json& event);

// The manager's relay: its own broker connection (so the dispatch confirms stay apart),
// reconnecting after a broker error. Alerts and the failed processes since the relay started
// (operations events: a failure seen twice after a restart is harmless, one missed is not
// science). relay() never throws for the broker: it logs and retries next time.
class Relay {
 public:
  explicit Relay(broker::Settings settings);
  ~Relay();
  void relay(db::Connection& c);

 private:
  void relay_failures(db::Connection& c);
  broker::Settings settings_;
  std::unique_ptr<broker::Connection> broker_;
  std::string failures_since_;  // DATETIME(6) text of the newest failure already reported
};

}  // namespace tianyu::alerts
