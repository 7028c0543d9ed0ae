#pragma once
// The one error boundary of the whole system: every error says whether repeating the same
// work later can help. Bad input (a truncated file, a malformed header card, a frame SEP cannot
// process, an unknown parameter) never can: the process fails at attempt 1 naming the file or
// field. A transient resource fault (no space left, an I/O error, a lost connection) always
// can: the process waits and runs again, and the night is never cancelled over it.
//
// This header is pure (src/pipeline may include it); tianyu::Error in common/errors.h derives
// from Failure, so the consumer classifies any failure by the one property retryable().
#include <exception>
#include <new>
#include <stdexcept>
#include <string>

namespace tianyu {

class Failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  virtual bool retryable() const noexcept { return false; }
  // A resource that was short for a while (a full disk, an I/O error, a lost connection): the
  // work is retried without spending its attempt budget, so a night waits for the operator to
  // free space instead of being cancelled. Implies retryable().
  virtual bool transient_resource() const noexcept { return false; }
};

// A transient resource fault: ENOSPC, EIO, EAGAIN, a lost connection. Retrying can help.
class ResourceFailure : public Failure {
 public:
  using Failure::Failure;
  bool retryable() const noexcept override { return true; }
  bool transient_resource() const noexcept override { return true; }
};

// A failure that may pass on another attempt (a flaky device, a race), retried within the
// process's attempt budget.
class RetryableFailure : public Failure {
 public:
  using Failure::Failure;
  bool retryable() const noexcept override { return true; }
};

// Whether a later attempt of the same work may succeed. A Failure says so itself; running out
// of memory may pass; any other exception is a defect we cannot classify, retried within the
// attempt budget (never cancelling a night on the first try).
inline bool retry_can_help(const std::exception& e) noexcept {
  if (const auto* f = dynamic_cast<const Failure*>(&e)) return f->retryable();
  return true;
}

// Whether a failure counts against the process's attempt budget (see transient_resource()).
inline bool spends_attempt(const std::exception& e) noexcept {
  if (const auto* f = dynamic_cast<const Failure*>(&e)) return !f->transient_resource();
  return true;
}

}  // namespace tianyu
