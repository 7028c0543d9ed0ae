// Diagnostic steps for tests and operations: they exercise the process machinery without any
// astronomy. `touch` leaves a countable effect (a file and a row keyed by process id) so that
// "exactly once" is something a test can count.
#include <chrono>
#include <fstream>
#include <optional>
#include <thread>

#include <spdlog/fmt/fmt.h>

#include "common/errors.h"
#include "common/site_store.h"
#include "consumer/steps/registry.h"
#include "pipeline/temp_name.h"
#include "steps/step_params.h"

namespace tianyu::consumer {
namespace {

namespace contract = ::tianyu::steps;

void sleep_ms(std::uint64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

void touch(StepContext& ctx, const contract::TouchParams& params) {
  sleep_ms(params.sleep_ms);
  // The consumer sets ctx.store; without one, a store over ctx.site_root (never a bare path).
  std::optional<store::SiteStore> own;
  const store::SiteStore& store = ctx.store ? *ctx.store : own.emplace(ctx.site_root);
  const std::string relative = "touch/" + std::to_string(ctx.process_id);
  const auto tmp_relative =
      fmt::format("touch/.{}.{}.{}.tmp", ctx.process_id, ctx.attempt, pipeline::unique_temp_suffix());
  const auto path = store.for_writing(relative);
  const auto tmp = store.for_writing(tmp_relative);
  ctx.written.push_back(tmp_relative);  // removed by the consumer unless this attempt commits
  ctx.check_lease();
  {
    std::ofstream out(tmp);
    out << ctx.process_id << " " << ctx.attempt << " " << ctx.consumer_id << "\n";
    out.close();  // checked after close: a full disk shows at the flush
    if (!out) {
      store.remove(tmp_relative);
      throw ResourceFailure("touch: cannot write " + tmp.string() + " (a full disk? a retry may help)");
    }
  }
  // The file becomes the product inside the success transaction: an attempt fenced out (its
  // lease lost, another attempt committed) never runs this, so it cannot replace the file.
  ctx.on_commit([&ctx, relative, tmp, path](db::Connection& c) {
    c.execute(
        "INSERT INTO touch_effect (process_id, attempt, consumer_id, path) VALUES (?, ?, ?, ?) "
        "ON DUPLICATE KEY UPDATE writes = writes + 1",
        {ctx.process_id, std::uint64_t{ctx.attempt}, ctx.consumer_id, relative});
    std::error_code error;  // a transaction redone after a deadlock finds it renamed already
    std::filesystem::rename(tmp, path, error);
    if (error && !std::filesystem::exists(path)) {
      throw ResourceFailure("touch: cannot rename " + tmp.string() + ": " + error.message());
    }
  });
}

}  // namespace

void register_diagnostic_steps(StepRegistry& registry) {
  registry.add<contract::NoParams>("noop", [](StepContext&, const contract::NoParams&) {});
  registry.add<contract::SleepParams>("sleep", [](StepContext&, const contract::SleepParams& p) { sleep_ms(p.ms); });
  // A retryable failure: the process machinery's retries are what `fail` exercises.
  registry.add<contract::FailParams>("fail", [](StepContext&, const contract::FailParams& p) {
    throw RetryableFailure(p.message);
  });
  registry.add<contract::FlakyParams>("flaky", [](StepContext& ctx, const contract::FlakyParams& p) {
    if (ctx.attempt <= p.failures) {
      throw RetryableFailure(fmt::format("flaky step: attempt {} of the first {} fails", ctx.attempt, p.failures));
    }
  });
  registry.add<contract::TouchParams>("touch", touch);
}

}  // namespace tianyu::consumer
