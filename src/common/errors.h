#pragma once
// Typed errors. Every message names what failed (file, field, statement, queue) so an operator
// can act on it without a debugger; retryable() separates transient faults from bad input.
#include <stdexcept>
#include <string>

namespace tianyu {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  // True when repeating the same operation later may succeed (lost connection, deadlock).
  virtual bool retryable() const noexcept { return false; }
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
