// tianyu-consumer: runs the processes queued for its (site, group). One binary for every site
// and group: the configuration says which.
#include <atomic>
#include <iostream>

#include "common/cli.h"
#include "common/connectivity.h"
#include "common/platform.h"
#include "consumer/consumer.h"

namespace {
std::atomic<int> g_stop_requests{0};
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Runs the processes queued for its (site, group).", "tianyu-consumer"};
  tianyu::cli::CommonOptions options;
  tianyu::cli::add_common_options(app, options);
  bool check = false;
  app.add_flag("--check", check,
               "Load the configuration, connect to MariaDB and RabbitMQ, report and exit");

  return tianyu::cli::run(app, argc, argv, [&] {
    const auto config = tianyu::cli::load_and_log(options, "tianyu-consumer");
    if (check) {
      std::cout << tianyu::check_connectivity(config, "tianyu-consumer") << "\n";
      return static_cast<int>(tianyu::cli::kOk);
    }
    tianyu::platform::keep_frame_buffers_in_heap();
    const std::string id = tianyu::cli::instance_id();
    tianyu::consumer::StepRegistry registry;
    tianyu::consumer::register_diagnostic_steps(registry);
    tianyu::consumer::register_simulation_steps(registry);
    tianyu::consumer::register_reduction_steps(registry);
    tianyu::consumer::register_photometry_steps(registry);
    // The first stop request drains gracefully; a second one means "now".
    tianyu::platform::on_stop_requests(g_stop_requests, true);
    tianyu::consumer::Consumer(config, std::move(registry), id).run(g_stop_requests);
    return static_cast<int>(tianyu::cli::kOk);
  });
}
