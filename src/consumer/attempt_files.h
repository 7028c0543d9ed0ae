#pragma once
// What a consumer does with the files of an attempt that does not commit.
#include <exception>

#include <spdlog/spdlog.h>

#include "common/site_store.h"
#include "consumer/steps/registry.h"

namespace tianyu::consumer {

// The files one attempt wrote (ctx.written, named for the attempt): they become products only
// through its success transaction, so an attempt that does not commit (failed, fenced out,
// lease lost) removes them, and the directories it made for them when they are left empty; a
// committed product of another attempt is never touched.
class AttemptFiles {
 public:
  explicit AttemptFiles(const StepContext& ctx) : ctx_(ctx) {}
  AttemptFiles(const AttemptFiles&) = delete;
  AttemptFiles& operator=(const AttemptFiles&) = delete;
  ~AttemptFiles() {
    if (kept_ || !ctx_.store) return;
    for (const auto& relative : ctx_.written) {
      try {
        ctx_.store->remove(relative);
      } catch (const std::exception& e) {  // an orphan: the next attempt removes it by name
        spdlog::warn("process {} attempt {}: cannot remove {}: {}", ctx_.process_id, ctx_.attempt, relative,
                     e.what());
      }
    }
    const auto& made = ctx_.created_directories;
    for (auto d = made.rbegin(); d != made.rend(); ++d) {  // deepest first
      try {
        ctx_.store->remove_if_empty(*d);
      } catch (const std::exception& e) {
        spdlog::warn("process {} attempt {}: cannot remove directory {}: {}", ctx_.process_id, ctx_.attempt, *d,
                     e.what());
      }
    }
  }
  void keep() { kept_ = true; }

 private:
  const StepContext& ctx_;
  bool kept_ = false;
};

}  // namespace tianyu::consumer
