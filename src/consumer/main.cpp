// tianyu-consumer: Runs the processes queued for its (site, group).
// This version checks its configuration and connectivity; the daemon loop arrives with the
// process-management work.
#include <iostream>

#include "common/cli.h"
#include "common/connectivity.h"

int main(int argc, char** argv) {
  CLI::App app{"Runs the processes queued for its (site, group).", "tianyu-consumer"};
  tianyu::cli::CommonOptions options;
  tianyu::cli::add_common_options(app, options);
  bool check = false;
  app.add_flag("--check", check,
               "Load the configuration, connect to MariaDB and RabbitMQ, report and exit");

  return tianyu::cli::run(app, argc, argv, [&] {
    const auto config = tianyu::cli::load_and_log(options, "tianyu-consumer");
    if (!check) {
      std::cerr << "tianyu-consumer: the daemon loop is not part of this version yet; "
                   "use --check to test configuration and connectivity\n";
      return static_cast<int>(tianyu::cli::kUsage);
    }
    std::cout << tianyu::check_connectivity(config, "tianyu-consumer") << "\n";
    return static_cast<int>(tianyu::cli::kOk);
  });
}
