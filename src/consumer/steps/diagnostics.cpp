// Diagnostic steps for tests and operations: they exercise the process machinery without any
// astronomy. `touch` leaves a countable effect (a file and a row keyed by process id) so that
// "exactly once" is something a test can count.
#include <chrono>
#include <fstream>
#include <thread>

#include <spdlog/fmt/fmt.h>

#include "common/errors.h"
#include "consumer/steps/registry.h"

namespace tianyu::consumer {
namespace {

long long int_param(const StepContext& ctx, const char* name, long long fallback) {
  if (!ctx.params.contains(name)) return fallback;
  const auto& v = ctx.params[name];
  if (!v.is_number_integer() || v.get<long long>() < 0) {
    throw InputError(fmt::format("{} step: parameter '{}' must be a non-negative integer, got {}",
                                 ctx.command, name, v.dump()));
  }
  return v.get<long long>();
}

void sleep_ms(long long ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

void touch(StepContext& ctx) {
  sleep_ms(int_param(ctx, "sleep_ms", 0));
  const auto dir = ctx.site_root / "touch";
  std::filesystem::create_directories(dir);
  const auto path = dir / std::to_string(ctx.process_id);
  const auto tmp = dir / fmt::format(".{}.{}.tmp", ctx.process_id, ctx.attempt);
  {
    std::ofstream out(tmp);
    out << ctx.process_id << " " << ctx.attempt << " " << ctx.consumer_id << "\n";
    if (!out) throw Error("touch: cannot write " + tmp.string());
  }
  std::filesystem::rename(tmp, path);  // a re-run replaces its own file, never another's
  const std::string relative = std::filesystem::relative(path, ctx.site_root).generic_string();
  ctx.on_commit([&ctx, relative](db::Connection& c) {
    c.execute(
        "INSERT INTO touch_effect (process_id, attempt, consumer_id, path) VALUES (?, ?, ?, ?) "
        "ON DUPLICATE KEY UPDATE writes = writes + 1",
        {ctx.process_id, std::uint64_t{ctx.attempt}, ctx.consumer_id, relative});
  });
}

}  // namespace

void register_diagnostic_steps(StepRegistry& registry) {
  registry.add("noop", [](StepContext&) {});
  registry.add("sleep", [](StepContext& ctx) { sleep_ms(int_param(ctx, "ms", 0)); });
  registry.add("fail", [](StepContext& ctx) {
    throw Error(ctx.params.value("message", std::string("the fail step always fails")));
  });
  registry.add("flaky", [](StepContext& ctx) {
    const auto failures = int_param(ctx, "failures", 1);
    if (ctx.attempt <= failures) {
      throw Error(fmt::format("flaky step: attempt {} of the first {} fails", ctx.attempt,
                              failures));
    }
  });
  registry.add("touch", touch);
}

}  // namespace tianyu::consumer
