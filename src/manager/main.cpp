// tianyu-manager: dispatches ready processes from the database to the per-(site, group) queues.
#include <atomic>
#include <iostream>

#include "common/cli.h"
#include "common/connectivity.h"
#include "common/platform.h"
#include "manager/manager.h"

namespace {
std::atomic<int> g_stop_requests{0};
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Dispatches ready processes from the database to the per-(site, group) queues.",
               "tianyu-manager"};
  tianyu::cli::CommonOptions options;
  tianyu::cli::add_common_options(app, options);
  bool check = false;
  app.add_flag("--check", check,
               "Load the configuration, connect to MariaDB and RabbitMQ, report and exit");

  return tianyu::cli::run(app, argc, argv, [&] {
    const auto config = tianyu::cli::load_and_log(options, "tianyu-manager");
    if (check) {
      std::cout << tianyu::check_connectivity(config, "tianyu-manager") << "\n";
      return static_cast<int>(tianyu::cli::kOk);
    }
    const std::string id = tianyu::cli::instance_id();
    tianyu::platform::on_stop_requests(g_stop_requests, false);
    tianyu::manager::Manager(config, id).run(g_stop_requests);
    return static_cast<int>(tianyu::cli::kOk);
  });
}
