#pragma once
// Row-parallel loops for per-pixel work. Each row is computed by exactly one thread from the
// same inputs, so results are identical whatever the thread count.
#include <algorithm>
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

}  // namespace tianyu::pipeline
