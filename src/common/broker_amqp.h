#pragma once
// rabbitmq-c plumbing shared by the broker client's two files (not part of its interface).
#ifndef _WIN32
#include <sys/time.h>  // timeval (amqp.h brings winsock2's on Windows)
#endif

#include <amqp.h>
#include <amqp_framing.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"

namespace tianyu::broker::detail {

// The node of `nodes` this process's next Connection tries first (broker_connect.cpp).
void start_next_time_at(const std::vector<BrokerNode>& nodes, std::size_t index);

inline constexpr amqp_channel_t kChannel = 1;

inline amqp_bytes_t bytes(std::string_view s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

inline std::string text(amqp_bytes_t b) { return std::string(static_cast<const char*>(b.bytes), b.len); }

inline timeval to_timeval(std::chrono::milliseconds ms) {
  if (ms.count() < 0) ms = std::chrono::milliseconds(0);
  // The field types differ by platform (Windows' winsock timeval holds two longs).
  return timeval{static_cast<decltype(timeval{}.tv_sec)>(ms.count() / 1000),
                 static_cast<decltype(timeval{}.tv_usec)>((ms.count() % 1000) * 1000)};
}

inline amqp_table_entry_t bool_entry(const char* key, bool value) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
  e.value.value.boolean = value;
  return e;
}

inline amqp_table_entry_t string_entry(const char* key, const std::string& value) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = bytes(value);
  return e;
}

inline amqp_table_entry_t i64_entry(const char* key, std::int64_t value) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_I64;
  e.value.value.i64 = value;
  return e;
}

inline amqp_table_t table_of(std::vector<amqp_table_entry_t>& entries) {
  return amqp_table_t{static_cast<int>(entries.size()), entries.data()};
}

inline std::string message_id_of(const amqp_basic_properties_t& p) {
  return (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) ? text(p.message_id) : std::string();
}

}  // namespace tianyu::broker::detail
