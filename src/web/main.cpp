// tianyu-web: the operators' read-only web pages and JSON API over the database (and the
// broker's queue depths). Listens on 127.0.0.1:8080 unless --listen or TIANYU_WEB_LISTEN says
// otherwise; connect it with a read-only database account (run/env-reader.sh).
#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/cli.h"
#include "common/platform.h"
#include "web/server.h"

namespace {
std::atomic<int> g_stop_requests{0};
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Serves the operators' read-only web pages and JSON API.", "tianyu-web"};
  tianyu::cli::CommonOptions options;
  tianyu::cli::add_common_options(app, options);
  std::string listen;
  app.add_option("--listen", listen,
                 "HOST:PORT to listen on (default 127.0.0.1:8080, or $TIANYU_WEB_LISTEN; port 0: any free)");

  return tianyu::cli::run(app, argc, argv, [&] {
    const auto config = tianyu::cli::load_and_log(options, "tianyu-web");
    tianyu::web::ListenAddress address;
    if (!listen.empty()) {
      address = tianyu::web::parse_listen(listen, "--listen");
    } else if (const auto env = tianyu::process_environment()("TIANYU_WEB_LISTEN")) {
      address = tianyu::web::parse_listen(*env, "TIANYU_WEB_LISTEN");
    }
    tianyu::web::WebServer server(config);
    server.bind(address);
    // The URL on stdout (one line, flushed): scripts and tests read the port from it.
    std::cout << "tianyu-web listening on http://" << address.host << ":" << server.port() << "/" << std::endl;
    spdlog::info("tianyu-web serving database {} on {}:{}", config.db.name, address.host, server.port());
    tianyu::platform::on_stop_requests(g_stop_requests, false);
    std::thread watcher([&] {
      while (g_stop_requests == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      server.stop();
    });
    server.serve();
    g_stop_requests = 1;
    watcher.join();
    spdlog::info("tianyu-web stopped");
    return static_cast<int>(tianyu::cli::kOk);
  });
}
