#include "consumer/steps/registry.h"

#include "common/errors.h"

namespace tianyu::consumer {

void StepRegistry::add(const std::string& command, StepHandler handler) {
  if (!handlers_.emplace(command, std::move(handler)).second) {
    throw Error("step '" + command + "' is registered twice");
  }
}

const StepHandler* StepRegistry::find(const std::string& command) const {
  auto it = handlers_.find(command);
  return it == handlers_.end() ? nullptr : &it->second;
}

std::vector<std::string> StepRegistry::commands() const {
  std::vector<std::string> out;
  for (const auto& [name, handler] : handlers_) out.push_back(name);
  return out;
}

}  // namespace tianyu::consumer
