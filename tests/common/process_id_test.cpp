#include "common/process_id.h"

#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace tianyu {
namespace {

TEST(ProcessId, OneGeneratorNeverRepeatsEvenPastFourThousandPerMillisecond) {
  ProcessIdGenerator g;
  std::set<std::uint64_t> seen;
  std::uint64_t previous = 0;
  for (int i = 0; i < 50000; ++i) {
    const auto id = g.next();
    EXPECT_GT(id, previous) << "ids of one generator increase";
    previous = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 50000u);
}

TEST(ProcessId, FitsSixtyThreeBitsAndEncodesItsTime) {
  ProcessIdGenerator g;
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const auto id = g.next();
  EXPECT_LT(id, 1ULL << 63) << "must survive a signed BIGINT and JSON readers";
  const auto ms = static_cast<long long>(ProcessIdGenerator::milliseconds_of(id));
  EXPECT_GE(ms, before);
  EXPECT_LE(ms, before + 1000);
}

TEST(ProcessId, ConcurrentCallersGetDistinctIds) {
  ProcessIdGenerator g;
  std::vector<std::vector<std::uint64_t>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& out : per_thread) {
    threads.emplace_back([&g, &out] {
      for (int i = 0; i < 10000; ++i) out.push_back(g.next());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::uint64_t> all;
  for (const auto& v : per_thread) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 40000u);
}

}  // namespace
}  // namespace tianyu
