#include "common/process_id.h"

#include <chrono>
#include <random>
#include <thread>

namespace tianyu {
namespace {

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

ProcessIdGenerator::ProcessIdGenerator() { redraw(); }

void ProcessIdGenerator::redraw() {
  std::lock_guard lock(mutex_);
  std::random_device rd;
  generator_id_ = rd() & 0x3FF;
}

std::uint64_t ProcessIdGenerator::next() {
  std::lock_guard lock(mutex_);
  std::uint64_t ms = now_ms();
  if (ms < last_ms_) ms = last_ms_;  // the clock stepped back: keep ids increasing
  if (ms == last_ms_) {
    if (++sequence_ > 0xFFF) {  // 4096 ids in this millisecond: wait for the next one
      while ((ms = now_ms()) <= last_ms_) std::this_thread::yield();
      sequence_ = 0;
    }
  } else {
    sequence_ = 0;
  }
  last_ms_ = ms;
  return ((ms - kEpochMs) << 22) | (generator_id_ << 12) | sequence_;
}

}  // namespace tianyu
