// tianyu-web under load, on loopback (bench/run-web.sh): pages and JSON served per second, and
// a night's consumer throughput (steps per second, from the process table) with and without
// 200 concurrent page requests, as a ratio in the same run. Bounded: two small simulated nights
// (40 frames each) through scripts/run-local.sh, 10 s per page-rate measurement.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>
#include <vector>

#include <httplib.h>
#include <spdlog/fmt/fmt.h>

#include "pipeline/sim/night.h"
#include "support/live_services.h"
#include "web/browser.h"

namespace fs = std::filesystem;
using namespace tianyu;
using Clock = std::chrono::steady_clock;

namespace {

std::string bin_dir() { return fs::read_symlink("/proc/self/exe").parent_path().string(); }

// Requests per second of `paths` (round robin) from `clients` concurrent clients for `seconds`;
// counts only 200 answers, and reports any other.
double rate(int port, const std::vector<std::string>& paths, int clients, double seconds, std::atomic<bool>* stop = nullptr) {
  std::atomic<long> ok{0}, bad{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(60, 0);
      for (std::size_t i = t; !done && !(stop && *stop); ++i) {
        const auto r = client.Get(paths[i % paths.size()].c_str());
        (r && r->status == 200 ? ok : bad)++;
      }
    });
  }
  const auto start = Clock::now();
  if (stop) {
    while (!*stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } else {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  }
  done = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (bad > 0) std::cout << fmt::format("  ({} requests failed)\n", bad.load());
  return static_cast<double>(ok) / elapsed;
}

// One night through run-local into `database` (its own output dir, so its own site).
void run_night(const fs::path& raw, const fs::path& out, const std::string& database) {
  int status = 0;
  const auto log = test::run_command("TIANYU_BIN_DIR='" + bin_dir() + "' bash '" + std::string(TIANYU_SOURCE_DIR) +
                                     "/scripts/run-local.sh' --no-build --raw '" + raw.string() + "' --out '" +
                                     out.string() + "' --database '" + database + "' --consumers 2 2>&1", &status);
  if (status != 0) throw std::runtime_error("run-local failed:\n" + log);
}

// Steps per second of one observation: successes over first start to last finish.
double throughput(db::Connection& c, std::uint64_t observation) {
  const auto r = c.query_one("SELECT COUNT(*), TIMESTAMPDIFF(MICROSECOND, MIN(started_at), MAX(finished_at)) / 1e6 "
                             "FROM process WHERE observation_id = ? AND state = 'success'", {observation});
  return static_cast<double>(r.i64(0)) / r.f64(1);
}

}  // namespace

int main() {
  const auto live = test::live_config();
  if (!live) {
    std::cerr << "web_bench: needs the local services (bash scripts/services.sh start; source run/env.sh)\n";
    return 2;
  }
  const fs::path dir = fs::temp_directory_path() / test::unique_name("web_bench");
  test::ScratchDatabase scratch(live->db);
  pipeline::sim::SimConfig night;
  night.width = night.height = 256;
  night.frames = 40;
  night.stars = 80;
  night.bias_frames = night.flat_frames = 3;
  pipeline::sim::simulate_night(night, dir / "night", 2);
  // The web daemon runs through both nights (idle in the first), under the reader account.
  test::ShellDaemon web("source '" + std::string(TIANYU_SOURCE_DIR) + "/run/env-reader.sh' && export TIANYU_DB_NAME='" +
                            scratch.name() + "' TIANYU_LOG_LEVEL=warn && exec '" + bin_dir() +
                            "/tianyu-web' --listen 127.0.0.1:0", dir / "web.log");
  const int port = web.wait_for_port();
  run_night(dir / "night", dir / "out-quiet", scratch.name());
  db::Connection c(scratch.settings());
  const auto first = c.query_one("SELECT MIN(observation_id) FROM observation").u64(0);
  const std::string obs = std::to_string(first);

  std::cout << "tianyu-web on loopback, 8 concurrent clients, 10 s each:\n";
  for (const auto& [what, paths] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"observations page", {"/"}}, {"observation page", {"/observations/" + obs}},
           {"observation JSON", {"/api/observations/" + obs}}, {"observations JSON", {"/api/observations"}},
           {"queues page", {"/queues"}}, {"daemons JSON", {"/api/daemons"}}}) {
    std::cout << fmt::format("  {:<20} {:8.1f} /s\n", what, rate(port, paths, 8, 10));
  }
  // The second night with 200 clients loading pages all along.
  std::atomic<bool> night_over{false};
  double loaded_rate = 0;
  std::thread load([&] {
    loaded_rate = rate(port, {"/", "/observations/" + obs, "/queues", "/api/observations/" + obs}, 200, 0, &night_over);
  });
  try {
    run_night(dir / "night", dir / "out-loaded", scratch.name());
  } catch (...) {
    night_over = true;
    load.join();
    throw;
  }
  night_over = true;
  load.join();
  const auto second = c.query_one("SELECT MAX(observation_id) FROM observation").u64(0);
  const double quiet = throughput(c, first), loaded = throughput(c, second);
  std::cout << fmt::format("night throughput (2 consumers): {:.2f} steps/s quiet, {:.2f} steps/s under 200 concurrent "
                           "page requests ({:.1f} pages/s served meanwhile): ratio {:.2f}\n",
                           quiet, loaded, loaded_rate, loaded / quiet);
  web.stop();
  fs::remove_all(dir);
  return 0;
}
