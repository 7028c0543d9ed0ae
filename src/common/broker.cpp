#include "common/broker.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <vector>

#include "common/broker_amqp.h"

namespace tianyu::broker {

using namespace detail;

namespace {

// A redelivery means an earlier holder of the message lost it unacknowledged (its connection,
// or a cluster node, went away): worth a line, and the count a fault test reports.
Delivery noted(Delivery d) {
  if (d.redelivered) {
    spdlog::info("RabbitMQ redelivered message {} from '{}' (an earlier delivery was not acknowledged)",
                 d.message_id.empty() ? "(no id)" : d.message_id, d.routing_key);
  }
  return d;
}

}  // namespace

Connection::~Connection() {
  if (!conn_) return;
  // A lost connection's node may be down: the next connection starts at the one after it.
  if (!alive_ && !settings_.nodes.empty()) start_next_time_at(settings_.nodes, node_index_ + 1);
  if (alive_) {
    amqp_channel_close(conn_, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(conn_);
}

void Connection::fail(const std::string& what, int status) {
  alive_ = false;
  throw BrokerError(fmt::format("{}: {}", what, amqp_error_string2(status)), true);
}

void Connection::reopen_channel() {
  // A channel-level error closes our only channel; everything unconfirmed on it is unknown.
  amqp_channel_close_ok_t close_ok{};
  amqp_send_method(conn_, kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
  for (auto seq : outstanding_) settled_.pending.insert(seq);
  outstanding_.clear();
  returned_unsettled_.clear();
  message_id_by_seq_.clear();
  seq_by_message_id_.clear();
  const bool had_confirms = confirms_;
  confirms_ = false;
  next_seq_ = 1;
  amqp_channel_open(conn_, kChannel);
  const amqp_rpc_reply_t r = amqp_get_rpc_reply(conn_);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    alive_ = false;
    return;
  }
  if (had_confirms) enable_confirms();
}

void Connection::check_rpc(const std::string& what) {
  const amqp_rpc_reply_t r = amqp_get_rpc_reply(conn_);
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return;
    case AMQP_RESPONSE_NONE:
      alive_ = false;
      throw BrokerError(what + ": no reply from the broker", true);
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      fail(what, r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
        const std::string message = fmt::format("{}: broker closed the channel ({} {})", what,
                                                m->reply_code, text(m->reply_text));
        reopen_channel();
        throw BrokerError(message, false);
      }
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
        const std::string message = fmt::format("{}: broker closed the connection ({} {})", what,
                                                m->reply_code, text(m->reply_text));
        amqp_connection_close_ok_t close_ok{};
        amqp_send_method(conn_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &close_ok);
        alive_ = false;
        throw BrokerError(message, true);
      }
      alive_ = false;
      throw BrokerError(fmt::format("{}: unexpected broker method 0x{:08x}", what, r.reply.id),
                        true);
  }
}

void Connection::declare_exchange(const std::string& name, const std::string& type,
                                  bool durable) {
  amqp_exchange_declare(conn_, kChannel, bytes(name), bytes(type), 0, durable, 0, 0,
                        amqp_empty_table);
  check_rpc("declaring exchange '" + name + "'");
}

void Connection::declare_queue(const std::string& name, const QueueOptions& options) {
  const std::string quorum = "quorum";
  std::vector<amqp_table_entry_t> args;
  if (options.quorum) args.push_back(string_entry("x-queue-type", quorum));
  if (!options.dead_letter_exchange.empty()) {
    args.push_back(string_entry("x-dead-letter-exchange", options.dead_letter_exchange));
  }
  if (!options.dead_letter_routing_key.empty()) {
    args.push_back(string_entry("x-dead-letter-routing-key", options.dead_letter_routing_key));
  }
  if (options.delivery_limit) args.push_back(i64_entry("x-delivery-limit", *options.delivery_limit));
  if (options.max_length) args.push_back(i64_entry("x-max-length", *options.max_length));
  if (options.message_ttl_ms) args.push_back(i64_entry("x-message-ttl", *options.message_ttl_ms));
  amqp_queue_declare(conn_, kChannel, bytes(name), 0, options.durable, options.exclusive,
                     options.auto_delete, table_of(args));
  check_rpc("declaring queue '" + name + "'");
}

void Connection::bind_queue(const std::string& queue, const std::string& exchange,
                            const std::string& routing_key) {
  amqp_queue_bind(conn_, kChannel, bytes(queue), bytes(exchange), bytes(routing_key),
                  amqp_empty_table);
  check_rpc("binding queue '" + queue + "' to exchange '" + exchange + "'");
}

void Connection::delete_queue(const std::string& name) {
  amqp_queue_delete(conn_, kChannel, bytes(name), 0, 0);
  check_rpc("deleting queue '" + name + "'");
}

std::uint32_t Connection::purge_queue(const std::string& queue) {
  const auto* ok = amqp_queue_purge(conn_, kChannel, bytes(queue));
  check_rpc("purging queue '" + queue + "'");
  return ok->message_count;
}

std::uint32_t Connection::message_count(const std::string& queue) {
  const auto* ok =
      amqp_queue_declare(conn_, kChannel, bytes(queue), 1, 0, 0, 0, amqp_empty_table);
  check_rpc("looking up queue '" + queue + "'");
  return ok->message_count;
}

void Connection::enable_confirms() {
  amqp_confirm_select(conn_, kChannel);
  check_rpc("enabling publisher confirms");
  confirms_ = true;
}

std::uint64_t Connection::publish(const std::string& exchange, const std::string& routing_key,
                                  std::string_view body, const PublishOptions& options) {
  const std::uint64_t seq = confirms_ ? next_seq_ : 0;
  // Returns are matched to publishes by message id, so every confirmed publish carries one.
  const std::string message_id =
      options.message_id.empty() && confirms_ ? fmt::format("seq-{}", seq) : options.message_id;
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.content_type = bytes(options.content_type);
  props.delivery_mode = options.persistent ? AMQP_DELIVERY_PERSISTENT : AMQP_DELIVERY_NONPERSISTENT;
  if (!message_id.empty()) {
    props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    props.message_id = bytes(message_id);
  }
  const int status = amqp_basic_publish(conn_, kChannel, bytes(exchange), bytes(routing_key),
                                        options.mandatory, 0, &props, bytes(body));
  if (status != AMQP_STATUS_OK) {
    fail(fmt::format("publishing to '{}' (routing key '{}')", exchange, routing_key), status);
  }
  if (confirms_) {
    ++next_seq_;
    outstanding_.insert(seq);
    message_id_by_seq_[seq] = message_id;
    seq_by_message_id_[message_id] = seq;
  }
  return seq;
}

void Connection::settle(std::uint64_t tag, bool multiple, std::set<std::uint64_t>& into) {
  auto first = multiple ? outstanding_.begin() : outstanding_.find(tag);
  auto last = multiple ? outstanding_.upper_bound(tag)
                       : (first == outstanding_.end() ? first : std::next(first));
  for (auto it = first; it != last; ++it) {
    const std::uint64_t seq = *it;
    if (returned_unsettled_.erase(seq) > 0 && &into == &settled_.acked) {
      settled_.returned.insert(seq);
    } else {
      into.insert(seq);
    }
    if (auto id = message_id_by_seq_.find(seq); id != message_id_by_seq_.end()) {
      seq_by_message_id_.erase(id->second);
      message_id_by_seq_.erase(id);
    }
  }
  outstanding_.erase(first, last);
}

void Connection::read_buffered_delivery(const amqp_frame_t& frame) {
  const auto* m = static_cast<amqp_basic_deliver_t*>(frame.payload.method.decoded);
  Delivery d;
  d.delivery_tag = m->delivery_tag;
  d.redelivered = m->redelivered;
  d.exchange = text(m->exchange);
  d.routing_key = text(m->routing_key);
  amqp_message_t message;
  const amqp_rpc_reply_t r = amqp_read_message(conn_, frame.channel, &message, 0);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) fail("reading a delivery", r.library_error);
  d.message_id = message_id_of(message.properties);
  d.body = text(message.body);
  amqp_destroy_message(&message);
  buffered_.push_back(std::move(d));
}

void Connection::handle_frame(const amqp_frame_t& frame) {
  if (frame.frame_type != AMQP_FRAME_METHOD) return;
  switch (frame.payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
      const auto* m = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      settle(m->delivery_tag, m->multiple, settled_.acked);
      return;
    }
    case AMQP_BASIC_NACK_METHOD: {
      const auto* m = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
      settle(m->delivery_tag, m->multiple, settled_.nacked);
      return;
    }
    case AMQP_BASIC_RETURN_METHOD: {
      const auto* m = static_cast<amqp_basic_return_t*>(frame.payload.method.decoded);
      const std::string reason = text(m->reply_text);
      amqp_message_t message;
      const amqp_rpc_reply_t r = amqp_read_message(conn_, frame.channel, &message, 0);
      if (r.reply_type != AMQP_RESPONSE_NORMAL) fail("reading a returned message", r.library_error);
      const std::string id = message_id_of(message.properties);
      amqp_destroy_message(&message);
      if (auto it = seq_by_message_id_.find(id); it != seq_by_message_id_.end()) {
        returned_unsettled_.insert(it->second);
      }
      spdlog::warn("broker returned message '{}' as unroutable: {}", id, reason);
      return;
    }
    case AMQP_BASIC_DELIVER_METHOD:
      read_buffered_delivery(frame);
      return;
    case AMQP_CONNECTION_BLOCKED_METHOD:
      spdlog::warn("broker blocked this connection (resource alarm)");
      return;
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
      spdlog::info("broker unblocked this connection");
      return;
    case AMQP_BASIC_CANCEL_METHOD:
      alive_ = false;
      throw BrokerError("broker cancelled our consumer (queue deleted?)", true);
    case AMQP_CHANNEL_CLOSE_METHOD: {
      const auto* m = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
      const std::string message =
          fmt::format("broker closed the channel ({} {})", m->reply_code, text(m->reply_text));
      reopen_channel();
      throw BrokerError(message, false);
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
      const auto* m = static_cast<amqp_connection_close_t*>(frame.payload.method.decoded);
      alive_ = false;
      throw BrokerError(fmt::format("broker closed the connection ({} {})", m->reply_code,
                                    text(m->reply_text)),
                        true);
    }
    default:
      spdlog::debug("ignoring broker method 0x{:08x}", frame.payload.method.id);
  }
}

Confirms Connection::wait_for_confirms(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!outstanding_.empty()) {
    // A zero wait still reads every frame that has already arrived.
    const auto left = std::max(std::chrono::milliseconds(0),
                               std::chrono::duration_cast<std::chrono::milliseconds>(
                                   deadline - std::chrono::steady_clock::now()));
    timeval tv = to_timeval(left);
    amqp_frame_t frame;
    const int status = amqp_simple_wait_frame_noblock(conn_, &frame, &tv);
    if (status == AMQP_STATUS_TIMEOUT) break;
    if (status != AMQP_STATUS_OK) fail("waiting for publisher confirms", status);
    handle_frame(frame);
  }
  Confirms out = std::move(settled_);
  settled_ = Confirms{};
  out.pending.insert(outstanding_.begin(), outstanding_.end());
  return out;
}

void Connection::consume(const std::string& queue, std::uint16_t prefetch) {
  amqp_basic_qos(conn_, kChannel, 0, prefetch, 0);
  check_rpc("setting prefetch on queue '" + queue + "'");
  const auto* ok = amqp_basic_consume(conn_, kChannel, bytes(queue), amqp_empty_bytes, 0,
                                      /*no_ack=*/0, 0, amqp_empty_table);
  check_rpc("consuming from queue '" + queue + "'");
  consumer_tags_.push_back(text(ok->consumer_tag));
}

void Connection::cancel_consumers() {
  // Deliveries that arrive before each cancel-ok are queued by the library and read by
  // next_delivery() as usual.
  for (const auto& tag : consumer_tags_) {
    amqp_basic_cancel(conn_, kChannel, bytes(tag));
    check_rpc("cancelling consumer '" + tag + "'");
  }
  consumer_tags_.clear();
}

std::optional<Delivery> Connection::next_delivery(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (buffered_.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    amqp_maybe_release_buffers(conn_);
    timeval tv = to_timeval(left);
    amqp_envelope_t envelope;
    const amqp_rpc_reply_t r = amqp_consume_message(conn_, &envelope, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
      Delivery d;
      d.delivery_tag = envelope.delivery_tag;
      d.redelivered = envelope.redelivered;
      d.exchange = text(envelope.exchange);
      d.routing_key = text(envelope.routing_key);
      d.message_id = message_id_of(envelope.message.properties);
      d.body = text(envelope.message.body);
      amqp_destroy_envelope(&envelope);
      return noted(std::move(d));
    }
    if (r.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION) {
      alive_ = false;
      throw BrokerError("consuming: unexpected reply from the broker", true);
    }
    if (r.library_error == AMQP_STATUS_TIMEOUT) return std::nullopt;
    if (r.library_error != AMQP_STATUS_UNEXPECTED_STATE) fail("consuming", r.library_error);
    // A frame other than a delivery arrived (a confirm, a close, a cancel): handle it.
    amqp_frame_t frame;
    timeval now{0, 0};
    const int status = amqp_simple_wait_frame_noblock(conn_, &frame, &now);
    if (status == AMQP_STATUS_TIMEOUT) continue;
    if (status != AMQP_STATUS_OK) fail("consuming", status);
    handle_frame(frame);
    if (left.count() <= 0 && buffered_.empty()) return std::nullopt;
  }
  Delivery d = std::move(buffered_.front());
  buffered_.pop_front();
  return noted(std::move(d));
}

void Connection::ack(std::uint64_t delivery_tag) {
  const int status = amqp_basic_ack(conn_, kChannel, delivery_tag, 0);
  if (status != AMQP_STATUS_OK) fail(fmt::format("acking delivery {}", delivery_tag), status);
}

void Connection::reject(std::uint64_t delivery_tag, bool requeue) {
  const int status = amqp_basic_reject(conn_, kChannel, delivery_tag, requeue);
  if (status != AMQP_STATUS_OK) fail(fmt::format("rejecting delivery {}", delivery_tag), status);
}

}  // namespace tianyu::broker
