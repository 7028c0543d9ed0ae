#pragma once
// A suffix for temporary files no other writer (thread, process or host sharing the site
// root) draws: files are written under it and renamed into place, so readers never see half a
// file. Portable: no process ids or OS calls.
#include <atomic>
#include <cstdint>
#include <random>
#include <string>

namespace tianyu::pipeline {

inline std::string unique_temp_suffix() {
  static const std::uint64_t session = [] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }();
  static std::atomic<std::uint64_t> counter{0};
  const std::uint64_t n = counter.fetch_add(1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const std::uint64_t v : {session, n}) {
    for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(v >> shift) & 15];
  }
  return out;
}

}  // namespace tianyu::pipeline
