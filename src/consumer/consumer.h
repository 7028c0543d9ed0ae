#pragma once
// The consumer daemon. One I/O thread owns the broker connection (rabbitmq-c is not
// thread-safe and services heartbeats only inside its calls), takes deliveries with a prefetch
// bounded by the worker count, and performs every ack, reject and kick; N worker threads, each
// with its own database connection, claim and run the steps; a heartbeat thread renews the
// leases of running processes and stops a step whose lease was lost. A message names only
// (process, attempt): the claim is fenced by attempt and by this consumer's site and group,
// and the step run is the one the row says. A message is acked only after the step's outputs
// and its final state were committed (or it was found not ours to run).
#include <atomic>
#include <filesystem>
#include <string>

#include "common/config.h"
#include "consumer/steps/registry.h"

namespace tianyu::consumer {

class Consumer {
 public:
  Consumer(Config config, StepRegistry registry, std::string consumer_id);
  // Runs until `stop_requests` becomes non-zero; then finishes the steps in progress, returns
  // the deliveries not yet started to the queue, and returns.
  void run(const std::atomic<int>& stop_requests);

 private:
  Config config_;
  StepRegistry registry_;
  std::string id_;
};

// The site root from the configuration, else from the site's database row; throws naming the
// site when neither is known.
std::filesystem::path resolve_site_root(const Config& config);

}  // namespace tianyu::consumer
