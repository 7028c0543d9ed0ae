#pragma once
// Wall-clock helpers shared by the benchmarks.
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace tianyu::bench {

inline double seconds(const std::function<void()>& work) {
  const auto t0 = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline double best_of(int n, const std::function<void()>& work) {
  double best = 1e300;
  for (int i = 0; i < n; ++i) best = std::min(best, seconds(work));
  return best;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace tianyu::bench
