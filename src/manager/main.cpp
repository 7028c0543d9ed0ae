// tianyu-manager: dispatches ready processes from the database to the per-(site, group) queues.
#include <atomic>
#include <csignal>
#include <iostream>

#include "common/cli.h"
#include "common/connectivity.h"
#include "manager/manager.h"

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }
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
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    tianyu::manager::Manager(config, id).run(g_stop);
    return static_cast<int>(tianyu::cli::kOk);
  });
}
