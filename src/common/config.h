#pragma once
// Deployment configuration: one JSON file per role (config/*.json), every field overridable by
// an environment variable named TIANYU_<SECTION>_<FIELD> (db.host -> TIANYU_DB_HOST).
// Unknown fields are errors, so a typo never silently falls back to a default.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tianyu {

// Transport encryption of one connection. Off unless `enabled`; with it on, the server's
// certificate is checked against `ca` (and, with `verify`, its name against the host) so a
// stolen address cannot pose as the server. `cert`/`key`: a client certificate, when the server
// asks for one. Paths are read by the client library at connect time.
struct TlsConfig {
  int enabled = 0;     // 0 or 1 (an int so TIANYU_DB_TLS_ENABLED=1 reads like every int field)
  std::string ca;      // PEM file of the certificate authority that signed the server's cert
  std::string cert;    // optional client certificate (PEM)
  std::string key;     // its private key (PEM)
  int verify = 1;      // 1: the server's certificate must name the host we connected to
};

// The TLS fields of a client's settings (db::Settings, broker::Settings) from the configuration.
template <class ClientSettings> void apply_tls(const TlsConfig& c, ClientSettings& s) {
  s.tls = c.enabled != 0;
  s.tls_ca = c.ca;
  s.tls_cert = c.cert;
  s.tls_key = c.key;
  s.tls_verify = c.verify != 0;
}

struct DbConfig {
  std::string host = "127.0.0.1";
  int port = 33061;
  std::string user = "tianyu";
  std::string password;  // never committed: set TIANYU_DB_PASSWORD
  std::string name = "tianyu";
  int connect_timeout_s = 5;
  int read_timeout_s = 300;
  int lock_wait_timeout_s = 5;
  TlsConfig tls;
};

// One RabbitMQ node of a cluster: "host:port" in the configuration ("[::1]:5672" for IPv6).
struct BrokerNode {
  std::string host;
  int port = 0;
  bool operator==(const BrokerNode& other) const { return host == other.host && port == other.port; }
};

// Parses "host:port" strictly (a host name or address, a port in 1-65535); throws ConfigError
// naming `origin` (the file or variable), the field `path` and the text.
BrokerNode parse_broker_node(const std::string& text, const std::string& path,
                             const std::string& origin);

struct BrokerConfig {
  std::string host = "127.0.0.1";  // a single broker; ignored when `nodes` is set
  int port = 56720;
  std::string user = "tianyu";
  std::string password;  // never committed: set TIANYU_BROKER_PASSWORD
  std::string vhost = "/";
  int heartbeat_s = 15;
  int rpc_timeout_ms = 10000;
  TlsConfig tls;
  // A cluster's nodes, tried in order: a client connects to the first that answers and, when
  // that connection is lost, starts from the next one. JSON: ["host:port", ...]; environment
  // (TIANYU_BROKER_NODES): "host:port,host:port". Empty: the one broker at host:port.
  std::vector<BrokerNode> nodes;
  // The dead-letter and overflow queues: "classic" (single-node brokers, as before) or
  // "quorum" (replicated, so they outlive the node that held them). More than one node needs
  // "quorum": a classic queue is unusable while its node is down, and declaring it then fails.
  // Work queues are quorum queues either way. Switching an existing broker: an empty queue is
  // redeclared with the new type; one holding messages keeps its old type until drained.
  std::string dead_letter_queue_type = "classic";
};

struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string format = "text";
};

// tianyu-manager: how often it looks for work and how it retries.
struct ManagerConfig {
  int poll_interval_ms = 50;       // longest wait between claims when no kick arrives
  int claim_batch = 500;           // processes claimed per transaction
  int confirm_timeout_ms = 5000;   // unconfirmed publishes are republished after this
  int sweep_interval_ms = 500;     // expired leases and due retries
  int retry_base_ms = 1000;        // back-off before attempt n+1: base * 2^(n-1), capped
  int retry_max_ms = 60000;
  int lost_dispatch_s = 60;  // queued this long, its queue empty: the message is lost
};

// tianyu-consumer: how much it runs at once and how long a claim lives without a heartbeat.
struct ConsumerConfig {
  int workers = 2;       // worker threads, each with its own database connection
  int prefetch = 0;      // unacked deliveries, at most workers; 0 means equal to workers
  int lease_s = 30;      // a running process whose lease is this old is given to another
  // 1: the success transaction of a step also queues the dependents it made ready and the
  // consumer publishes them itself (after the commit, confirmed, then marked published; the
  // manager republishes any it never confirmed), saving a chain the manager's round trip.
  // 0: the manager dispatches them on the consumer's kick.
  int hand_off_children = 1;
  // 1 (with hand_off_children): the worker whose commit queued a dependent of this consumer's
  // own site and group runs it next itself, claimed from its row with no message in between.
  int continue_chains = 1;
  std::string site_root; // empty: the site's root_path recorded in the database
};

struct Config {
  DbConfig db;
  BrokerConfig broker;
  ManagerConfig manager;
  ConsumerConfig consumer;
  std::string site = "local";
  std::string group = "general";
  LogConfig log;
};

// Returns the value of an environment variable, or nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_environment();

// Defaults, then the file (when given), then the environment. Throws ConfigError naming the
// file and field (or the environment variable) that is wrong.
Config load_config(const std::optional<std::filesystem::path>& file,
                   const EnvLookup& env = process_environment());

// The environment variable that overrides a dotted field path ("db.host" -> "TIANYU_DB_HOST").
std::string env_name_for(const std::string& field_path);

// Every field path the loader understands, in a stable order (for docs and tests).
std::vector<std::string> config_field_paths();

}  // namespace tianyu
