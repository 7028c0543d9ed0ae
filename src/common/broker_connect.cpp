// Opening a broker connection: the node (the one broker, or the first of a cluster's nodes that
// answers), the socket (plain TCP, or TLS checked against the CA), the connect with its
// timeout, and the login with the client's capabilities.
#include "common/broker.h"

#include "common/broker_amqp.h"
#if __has_include(<amqp_ssl_socket.h>)
#include <amqp_ssl_socket.h>
#define TIANYU_BROKER_TLS 1
#endif
#include <amqp_tcp_socket.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <mutex>
#include <vector>

#include "common/version.h"

namespace tianyu::broker {

using namespace detail;

Settings settings_from(const BrokerConfig& c) {
  Settings s;
  s.host = c.host;
  s.port = c.port;
  s.user = c.user;
  s.password = c.password;
  s.vhost = c.vhost;
  s.heartbeat_s = c.heartbeat_s;
  s.rpc_timeout_ms = c.rpc_timeout_ms;
  apply_tls(c.tls, s);
  s.nodes = c.nodes;
  s.quorum_dead_letters = c.dead_letter_queue_type == "quorum";
  return s;
}

namespace {

// Where this process's next connection to a node list starts. A daemon makes a new Connection
// after every loss; starting at the node after the lost one moves it off a node that went down
// at once, instead of waiting out a connect timeout there first.
std::mutex start_mutex;
std::map<std::string, std::size_t> start_by_list;

std::string list_key(const std::vector<BrokerNode>& nodes) {
  std::string key;
  for (const auto& n : nodes) key += fmt::format("{}:{},", n.host, n.port);
  return key;
}

std::size_t start_of(const std::vector<BrokerNode>& nodes) {
  std::lock_guard lock(start_mutex);
  const auto it = start_by_list.find(list_key(nodes));
  return it == start_by_list.end() ? 0 : it->second % nodes.size();
}

}  // namespace

void detail::start_next_time_at(const std::vector<BrokerNode>& nodes, std::size_t index) {
  std::lock_guard lock(start_mutex);
  start_by_list[list_key(nodes)] = index % nodes.size();
}

// A plain TCP socket, or a TLS one that checks the server's chain against the CA (always) and
// its name against the host (tls_verify). Bad TLS files will not fix themselves: not retryable.
amqp_socket_t* Connection::open_socket(const std::string& where) {
  if (!settings_.tls) {
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    if (!socket) throw BrokerError("cannot create a TCP socket for " + where, false);
    return socket;
  }
#ifndef TIANYU_BROKER_TLS
  // A build whose rabbitmq-c headers lack the SSL socket (the MinGW cross-check) cannot do TLS.
  throw BrokerError(where + ": broker.tls.enabled is 1 but this build has no TLS support", false);
#else
  amqp_socket_t* socket = amqp_ssl_socket_new(conn_);
  if (!socket) throw BrokerError("cannot create a TLS socket for " + where, false);
  if (amqp_ssl_socket_set_cacert(socket, settings_.tls_ca.c_str()) != AMQP_STATUS_OK) {
    throw BrokerError(fmt::format("{}: cannot read the CA file '{}' (broker.tls.ca)", where,
                                  settings_.tls_ca), false);
  }
  if (!settings_.tls_cert.empty() &&
      amqp_ssl_socket_set_key(socket, settings_.tls_cert.c_str(), settings_.tls_key.c_str()) !=
          AMQP_STATUS_OK) {
    throw BrokerError(fmt::format("{}: cannot read the client certificate '{}' or key '{}' "
                                  "(broker.tls.cert, broker.tls.key)",
                                  where, settings_.tls_cert, settings_.tls_key), false);
  }
  amqp_ssl_socket_set_verify_peer(socket, 1);
  amqp_ssl_socket_set_verify_hostname(socket, settings_.tls_verify ? 1 : 0);
  return socket;
#endif
}

Connection::Connection(Settings settings, std::string_view name)
    : settings_(std::move(settings)), name_(name) {
  const auto& nodes = settings_.nodes;
  if (nodes.empty()) {
    open(fmt::format("RabbitMQ at {}:{}{} (vhost '{}', user '{}')", settings_.host,
                     settings_.port, settings_.tls ? " with TLS" : "", settings_.vhost,
                     settings_.user));
    return;
  }
  const std::size_t first = start_of(nodes);
  std::string failures;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    node_index_ = (first + i) % nodes.size();
    settings_.host = nodes[node_index_].host;  // what TLS checks the certificate against
    settings_.port = nodes[node_index_].port;
    try {
      open(fmt::format("RabbitMQ node {} of {} at {}:{}{} (vhost '{}', user '{}')",
                       node_index_ + 1, nodes.size(), settings_.host, settings_.port,
                       settings_.tls ? " with TLS" : "", settings_.vhost, settings_.user));
      start_next_time_at(nodes, node_index_);
      spdlog::info("{}: connected to RabbitMQ node {} of {} ({})", name_, node_index_ + 1,
                   nodes.size(), node());
      return;
    } catch (const BrokerError& e) {
      // Credentials, vhost or certificates are the cluster's, not the node's: no other node
      // would take them either.
      if (!e.connection_lost()) throw;
      failures += fmt::format("{}{}", failures.empty() ? "" : "; ", e.what());
    }
  }
  throw BrokerError(fmt::format("no RabbitMQ node of {} answers (broker.nodes): {}",
                                nodes.size(), failures), true);
}

// One node: a failure at any stage frees the connection (a throwing constructor runs no
// destructor) and leaves conn_ null for the next node.
void Connection::open(const std::string& where) {
  conn_ = amqp_new_connection();
  if (!conn_) throw BrokerError("out of memory creating a connection to " + where, false);
  try {
    connect_socket(open_socket(where), where);
    alive_ = true;
    timeval rpc_timeout = to_timeval(std::chrono::milliseconds(settings_.rpc_timeout_ms));
    amqp_set_rpc_timeout(conn_, &rpc_timeout);
    log_in(where);
    amqp_channel_open(conn_, kChannel);
    check_rpc("opening a channel on " + where);
  } catch (...) {
    if (conn_) amqp_destroy_connection(conn_);
    conn_ = nullptr;
    alive_ = false;
    throw;
  }
}

std::string Connection::node() const { return fmt::format("{}:{}", settings_.host, settings_.port); }

void Connection::connect_socket(amqp_socket_t* socket, const std::string& where) {
  timeval connect_timeout = to_timeval(std::chrono::milliseconds(settings_.rpc_timeout_ms));
  const int status = amqp_socket_open_noblock(socket, settings_.host.c_str(), settings_.port,
                                              &connect_timeout);
  if (status == AMQP_STATUS_OK) return;
  // A certificate the CA does not vouch for stays so; an unreachable server may come back.
  const bool tls_refused = settings_.tls && (status == AMQP_STATUS_SSL_ERROR ||
                           status == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED ||
                           status == AMQP_STATUS_SSL_PEER_VERIFY_FAILED ||
                           status == AMQP_STATUS_SSL_CONNECTION_FAILED);
  throw BrokerError(fmt::format("cannot connect to {}: {}{}", where, amqp_error_string2(status),
                                tls_refused ? " (check broker.tls.ca and the server's certificate)"
                                            : ""),
                    !tls_refused);
}

// Logs in advertising the capabilities 0.11's plain login leaves out, so the broker tells us
// when it blocks publishers or cancels our consumer instead of going silent.
void Connection::log_in(const std::string& where) {
  std::vector<amqp_table_entry_t> capabilities = {
      bool_entry("publisher_confirms", true),     bool_entry("exchange_exchange_bindings", true),
      bool_entry("basic.nack", true),             bool_entry("consumer_cancel_notify", true),
      bool_entry("connection.blocked", true),     bool_entry("authentication_failure_close", true),
  };
  const std::string product = "tianyu";
  const std::string version = kVersion;
  std::vector<amqp_table_entry_t> properties = {
      string_entry("product", product), string_entry("version", version),
      string_entry("connection_name", name_)};
  amqp_table_entry_t caps{};
  caps.key = amqp_cstring_bytes("capabilities");
  caps.value.kind = AMQP_FIELD_KIND_TABLE;
  caps.value.value.table = table_of(capabilities);
  properties.push_back(caps);
  const amqp_table_t client_properties = table_of(properties);
  const amqp_rpc_reply_t login = amqp_login_with_properties(
      conn_, settings_.vhost.c_str(), 0, 131072, settings_.heartbeat_s, &client_properties,
      AMQP_SASL_METHOD_PLAIN, settings_.user.c_str(), settings_.password.c_str());
  if (login.reply_type == AMQP_RESPONSE_NORMAL) return;
  std::string why = login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
                        ? amqp_error_string2(login.library_error)
                        : "refused by the server";
  if (login.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
      login.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
    why = text(static_cast<amqp_connection_close_t*>(login.reply.decoded)->reply_text);
  }
  amqp_destroy_connection(conn_);
  conn_ = nullptr;
  alive_ = false;
  // Wrong credentials or vhost will not fix themselves; a broken socket might.
  throw BrokerError(fmt::format("cannot log in to {}: {}", where, why),
                    login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION);
}

}  // namespace tianyu::broker
