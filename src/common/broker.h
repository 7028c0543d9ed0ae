#pragma once
// The broker client: RAII over rabbitmq-c 0.11 with one channel per connection. A connection
// is not thread-safe and services heartbeats only inside library calls, so it belongs to one
// thread that calls into it at least every few seconds (next_delivery / wait_for_confirms).
// Nothing reconnects behind the caller's back: any BrokerError means "drop this connection,
// make a new one, redeclare, republish what was not confirmed".
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>
#include <string_view>

#include "common/config.h"
#include "common/errors.h"

struct amqp_connection_state_t_;
struct amqp_socket_t_;
struct amqp_frame_t_;

namespace tianyu::broker {

class BrokerError : public Error {
 public:
  BrokerError(const std::string& message, bool connection_lost)
      : Error(message), connection_lost_(connection_lost) {}
  // The connection is unusable and must be replaced; the operation may be redone.
  bool connection_lost() const noexcept { return connection_lost_; }
  bool retryable() const noexcept override { return connection_lost_; }
  bool transient_resource() const noexcept override { return connection_lost_; }

 private:
  bool connection_lost_;
};

struct QueueOptions {
  bool durable = true;
  bool exclusive = false;                 // only this connection; deleted with it
  bool auto_delete = false;
  bool quorum = false;                    // x-queue-type = quorum
  std::string dead_letter_exchange;       // x-dead-letter-exchange (empty: none)
  std::string dead_letter_routing_key;    // x-dead-letter-routing-key
  std::optional<int> delivery_limit;      // x-delivery-limit (quorum queues only)
  std::optional<std::int64_t> max_length;      // x-max-length (the overflow is dead-lettered)
  std::optional<std::int64_t> message_ttl_ms;  // x-message-ttl
};

struct PublishOptions {
  bool persistent = true;
  bool mandatory = true;   // an unroutable message comes back instead of vanishing
  std::string message_id;  // carried to the consumer; also how returns are matched
  std::string content_type = "application/json";
};

struct Delivery {
  std::uint64_t delivery_tag = 0;
  bool redelivered = false;
  std::string exchange;
  std::string routing_key;
  std::string message_id;
  std::string body;
};

// Outcome of the confirms awaited so far, by publish sequence number.
struct Confirms {
  std::set<std::uint64_t> acked;     // stored by the broker (on disk when persistent+durable)
  std::set<std::uint64_t> nacked;    // refused by the broker: publish again
  std::set<std::uint64_t> returned;  // unroutable (no such queue): acked but not stored
  std::set<std::uint64_t> pending;   // no answer before the deadline
};

struct Settings {
  std::string host = "127.0.0.1";
  int port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  int heartbeat_s = 15;
  int rpc_timeout_ms = 10000;
  // TLS (config broker.tls.*): the server's certificate must chain to `tls_ca` and, with
  // tls_verify, name `host`. Off: plain TCP.
  bool tls = false;
  std::string tls_ca;
  std::string tls_cert;  // optional client certificate and key
  std::string tls_key;
  bool tls_verify = true;
  // A cluster (config broker.nodes): tried in order from where this process last succeeded;
  // after a lost connection, from the node after the lost one. Empty: host and port.
  std::vector<BrokerNode> nodes;
  // Dead-letter and overflow queues as quorum queues (config broker.dead_letter_queue_type).
  bool quorum_dead_letters = false;
};

Settings settings_from(const BrokerConfig& config);

class Connection {
 public:
  // Connects, logs in and opens channel 1. `name` shows in the broker's connection list.
  Connection(Settings settings, std::string_view name);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // "host:port" of the node this connection reached.
  std::string node() const;
  bool quorum_dead_letters() const noexcept { return settings_.quorum_dead_letters; }

  void declare_exchange(const std::string& name, const std::string& type, bool durable = true);
  // Idempotent when the options are the same each time (different ones are a channel error).
  void declare_queue(const std::string& name, const QueueOptions& options = {});
  void bind_queue(const std::string& queue, const std::string& exchange,
                  const std::string& routing_key);
  void delete_queue(const std::string& name);
  // Drops every ready message of the queue; returns how many.
  std::uint32_t purge_queue(const std::string& name);
  // Messages ready in the queue (passive declare); throws when the queue does not exist.
  std::uint32_t message_count(const std::string& queue);

  // Puts the channel in confirm mode; publish() then returns a sequence number per message.
  void enable_confirms();
  std::uint64_t publish(const std::string& exchange, const std::string& routing_key,
                        std::string_view body, const PublishOptions& options = {});
  // Reads broker frames until every outstanding publish is settled or the timeout passes (a
  // zero timeout reads what has already arrived). Settled sequence numbers are reported once
  // and forgotten; confirms that arrive during next_delivery() are kept for the next call.
  Confirms wait_for_confirms(std::chrono::milliseconds timeout);
  std::size_t unconfirmed() const noexcept { return outstanding_.size(); }

  // Starts consuming with manual acks and at most `prefetch` unacked deliveries.
  void consume(const std::string& queue, std::uint16_t prefetch);
  // Stops every consumer of this connection: the broker sends no new deliveries (ones already
  // on the wire still arrive and must be settled). A draining consumer calls this first, or
  // the messages it hands back come straight back to it and spend their delivery limit.
  void cancel_consumers();
  // The next delivery, or nullopt when none arrives within the timeout.
  std::optional<Delivery> next_delivery(std::chrono::milliseconds timeout);
  void ack(std::uint64_t delivery_tag);
  // requeue=false sends the message to the queue's dead-letter exchange (if any).
  void reject(std::uint64_t delivery_tag, bool requeue);

 private:
  void open(const std::string& where);
  ::amqp_socket_t_* open_socket(const std::string& where);
  void connect_socket(::amqp_socket_t_* socket, const std::string& where);
  void log_in(const std::string& where);
  void check_rpc(const std::string& what);
  void handle_frame(const ::amqp_frame_t_& frame);
  void read_buffered_delivery(const ::amqp_frame_t_& frame);
  void settle(std::uint64_t tag, bool multiple, std::set<std::uint64_t>& into);
  void reopen_channel();
  [[noreturn]] void fail(const std::string& what, int status);

  Settings settings_;
  std::string name_;
  std::size_t node_index_ = 0;  // into settings_.nodes, when it is not empty
  amqp_connection_state_t_* conn_ = nullptr;
  bool alive_ = false;
  bool confirms_ = false;
  std::uint64_t next_seq_ = 1;
  std::set<std::uint64_t> outstanding_;
  std::set<std::uint64_t> returned_unsettled_;
  std::map<std::uint64_t, std::string> message_id_by_seq_;
  std::map<std::string, std::uint64_t> seq_by_message_id_;
  Confirms settled_;
  std::deque<Delivery> buffered_;
  std::vector<std::string> consumer_tags_;
};

}  // namespace tianyu::broker
