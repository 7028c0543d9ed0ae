// tianyu-manager: Dispatches ready processes from the database to the per-(site, group) queues.
// This version checks its configuration and connectivity; the daemon loop arrives with the
// process-management work.
#include <iostream>

#include "common/cli.h"
#include "common/connectivity.h"

int main(int argc, char** argv) {
  CLI::App app{"Dispatches ready processes from the database to the per-(site, group) queues.", "tianyu-manager"};
  tianyu::cli::CommonOptions options;
  tianyu::cli::add_common_options(app, options);
  bool check = false;
  app.add_flag("--check", check,
               "Load the configuration, connect to MariaDB and RabbitMQ, report and exit");

  return tianyu::cli::run(app, argc, argv, [&] {
    const auto config = tianyu::cli::load_and_log(options, "tianyu-manager");
    if (!check) {
      std::cerr << "tianyu-manager: the daemon loop is not part of this version yet; "
                   "use --check to test configuration and connectivity\n";
      return static_cast<int>(tianyu::cli::kUsage);
    }
    std::cout << tianyu::check_connectivity(config, "tianyu-manager") << "\n";
    return static_cast<int>(tianyu::cli::kOk);
  });
}
