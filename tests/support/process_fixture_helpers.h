#pragma once
// Helpers the process-machinery tests share (ProcessFlow and the fixtures built on it): queueing
// processes without a message, forging broker messages, polling for a condition, the files a
// step must never touch, and the check that a step refused a path as bad input.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/broker.h"
#include "common/config.h"
#include "common/db.h"
#include "common/queues.h"

namespace tianyu::test {

// Moves processes to queued at attempt 1 as a manager would, without publishing a message:
// the only messages in the queue are the ones a test forges.
inline void queue_without_messages(db::Connection& c, const std::vector<std::uint64_t>& ids) {
  for (auto id : ids) {
    c.execute("UPDATE process SET state = 'queued', attempt = 1, queued_at = NOW(6), "
              "published_at = NOW(6) WHERE process_id = ?", {id});
  }
}

// Publishes `body` straight onto the group's work queue, as anyone with broker access could;
// `forger` names the connection in the broker's own listing.
inline void forge_work_message(const Config& config, const std::string& site, const std::string& group,
                               const std::string& body, const std::string& forger) {
  using namespace std::chrono_literals;
  broker::Connection b(broker::settings_from(config.broker), forger);
  queues::declare_work_queue(b, site, group);
  b.enable_confirms();
  b.publish("", queues::work_queue(site, group), body, {});
  ASSERT_EQ(b.wait_for_confirms(5s).acked.size(), 1u);
}

// Polls `done` every 20 ms until it holds (true) or `timeout` passes (false): daemons work on
// their own clock, so a test waits for the effect rather than for a fixed time.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Where the files a step must never touch live, around a site root.
struct ProtectedFiles {
  std::string night;         // raw/<night>/sci_0001.fits: the only copy of a raw frame
  std::string link;          // <root>/<link>: a symlink to `outside`
  std::string outside_file;  // outside/<outside_file>: a file beside the root
};

// Lays out what a step must never touch: a file in a directory beside the root, a raw frame,
// an existing product, and a symlink out of the root.
inline void lay_out_protected_files(const std::filesystem::path& root, const std::filesystem::path& outside,
                                    const ProtectedFiles& where) {
  namespace fs = std::filesystem;
  fs::create_directories(outside);
  std::ofstream(outside / where.outside_file) << "outside the site root";
  fs::create_directories(root / "raw" / where.night);
  std::ofstream(root / "raw" / where.night / "sci_0001.fits") << "the only copy";
  fs::create_directories(root / "products" / "kept");
  std::ofstream(root / "products" / "kept" / "stack.fits") << "a product";
  fs::create_directory_symlink(outside, root / where.link);
}

// Each keyed process failed at attempt 1 with an error naming its refused path (`outs`, by the
// same key): a path the step does not own is bad input, never retried.
inline void expect_paths_refused(db::Connection& c, const std::map<std::string, std::uint64_t>& id,
                                 const std::map<std::string, std::string>& outs) {
  for (const auto& [key, out] : outs) {
    const auto r = c.query_one("SELECT state, attempt, COALESCE(error, '') FROM process WHERE process_id = ?",
                               {id.at(key)});
    EXPECT_EQ(r.str(0), "failed") << key;
    EXPECT_EQ(r.i64(1), 1) << key << ": a refused path is bad input, never retried";
    EXPECT_NE(r.str(2).find("path '" + out + "'"), std::string::npos) << key << ": " << r.str(2);
  }
}

}  // namespace tianyu::test
