#pragma once
// Typed errors. Every message names what failed (file, field, statement, queue) so an operator
// can act on it without a debugger; retryable() separates transient faults from bad input.
#include <stdexcept>
#include <string>

#include "pipeline/failure.h"

namespace tianyu {

// retryable() (from Failure) is true when repeating the same operation later may succeed
// (lost connection, deadlock, a full disk).
class Error : public Failure {
 public:
  using Failure::Failure;
};

// A configuration file or environment variable is wrong; `field` names it.
class ConfigError : public Error {
 public:
  ConfigError(std::string field, const std::string& message)
      : Error(message), field_(std::move(field)) {}
  const std::string& field() const noexcept { return field_; }

 private:
  std::string field_;
};

// Input data (a file, a message, a parameter) is unusable; never retried.
class InputError : public Error {
 public:
  using Error::Error;
};

}  // namespace tianyu
