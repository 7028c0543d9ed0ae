#pragma once
// Process ids: unique 64-bit integers made without a central counter, Snowflake-style:
//   41 bits  milliseconds since 2025-01-01T00:00:00Z (good until 2094)
//   10 bits  a random generator id, drawn when the generator is made (or re-drawn)
//   12 bits  a sequence within the millisecond
// Ids from one generator never repeat; two generators collide only if they drew the same id
// in the same millisecond. The database's primary key detects that and the publisher retries
// with a new draw: a collision is never merged.
#include <cstdint>
#include <mutex>

namespace tianyu {

class ProcessIdGenerator {
 public:
  ProcessIdGenerator();
  std::uint64_t next();
  // Draws a new generator id (after a detected collision).
  void redraw();

  static constexpr std::uint64_t kEpochMs = 1735689600000ULL;  // 2025-01-01T00:00:00Z
  static std::uint64_t milliseconds_of(std::uint64_t id) { return (id >> 22) + kEpochMs; }

 private:
  std::mutex mutex_;
  std::uint64_t generator_id_ = 0;
  std::uint64_t last_ms_ = 0;
  std::uint64_t sequence_ = 0;
};

}  // namespace tianyu
