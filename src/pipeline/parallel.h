#pragma once
// Row-parallel loops for per-pixel work. Each row is computed by exactly one thread from the
// same inputs, so results are identical whatever the thread count.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace tianyu::pipeline {

// `threads` <= 0: one per core. body(y0, y1) handles rows [y0, y1); the first exception thrown
// by any block is rethrown after every block has finished.
inline void parallel_rows(int rows, int threads, const std::function<void(int, int)>& body) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::clamp(threads, 1, std::max(1, rows / 16));  // blocks of at least 16 rows
  if (threads == 1) {
    body(0, rows);
    return;
  }
  std::vector<std::exception_ptr> errors(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    const int y0 = static_cast<int>(static_cast<long long>(rows) * t / threads);
    const int y1 = static_cast<int>(static_cast<long long>(rows) * (t + 1) / threads);
    pool.emplace_back([&, t, y0, y1] {
      try {
        body(y0, y1);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  }
  for (auto& thread : pool) thread.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

// Independent items 0..count-1 on `threads` workers (<= 0: one per core), taken one at a time
// so uneven items balance. Each item is computed by exactly one thread; the first exception
// thrown by any item is rethrown after every worker has stopped (no new item starts after it).
inline void parallel_for(std::size_t count, int threads, const std::function<void(std::size_t)>& body) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(threads), std::max<std::size_t>(count, 1)));
  if (threads == 1) {
    for (std::size_t i = 0; i < count; ++i) body(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::exception_ptr> errors(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      try {
        for (std::size_t i; !failed && (i = next.fetch_add(1)) < count;) body(i);
      } catch (...) {
        errors[t] = std::current_exception();
        failed = true;
      }
    });
  }
  for (auto& thread : pool) thread.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace tianyu::pipeline
