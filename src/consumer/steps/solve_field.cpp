// solve_field: the template's astrometric solution (issue 16) and every source's RA/Dec.
// The template's SEP sources go to astrometry.net's solve-field as an xylist, hinted by the
// pointing and a pixel-scale range; solve-field runs as a subprocess (never linked) in a
// directory of this attempt alone, bounded by the time limit. An operator's WCS header file
// replaces the solver. No solution (too few stars, a field narrower than the index files
// cover, clouds, the time limit) is not a failure: the step succeeds with solved = 0 and the
// reason, and the night completes with pixel positions.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/platform.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/astrometry/solver.h"
#include "pipeline/astrometry/wcs.h"
#include "pipeline/temp_name.h"
#include "steps/step_params.h"

namespace tianyu::consumer::steps {
namespace {

namespace fs = std::filesystem;
namespace astro = pipeline::astrometry;

// Fewer stars than this cannot make the quads solve-field matches and verify.
constexpr std::size_t kMinStars = 6;
// The time limit is CPU time, held by the kernel (RLIMIT_CPU) on solve-field and its engine:
// astrometry-engine overruns its own --cpulimit (95 s of CPU for 20 on the "paper" preset's
// field, which is not on the sky). On a busy machine the wall time is longer, and the index
// files take a moment to load: the process group is killed at twice the limit + 10 s of wall
// time only as a backstop.
std::chrono::seconds wall_limit(std::uint64_t cpu_limit_s) { return std::chrono::seconds(2 * cpu_limit_s + 10); }

// A working directory of this attempt alone, removed with its contents when the step ends.
class ScratchDir {
 public:
  explicit ScratchDir(const StepContext& ctx)
      : path_(fs::temp_directory_path() / fmt::format("tianyu-solve-p{}a{}-{}", ctx.process_id, ctx.attempt,
                                                      pipeline::unique_temp_suffix())) {
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct Solution {
  ObservationWcsRecord record;
  std::optional<astro::TanSipWcs> wcs;
};

Solution unsolved(std::string reason, std::optional<double> seconds = {}) {
  Solution s;
  s.record.method = "none";
  s.record.reason = std::move(reason);
  s.record.solve_seconds = seconds;
  return s;
}

Solution solved(const std::string& method, astro::TanSipWcs wcs, int width, int height) {
  if (wcs.image_width == 0) wcs.image_width = width;
  if (wcs.image_height == 0) wcs.image_height = height;
  const auto summary = astro::summarise(wcs, width, height);
  Solution s;
  s.record.solved = true;
  s.record.method = method;
  s.record.wcs_header = astro::wcs_header_text(wcs);
  s.record.center_ra_deg = summary.centre.ra_deg;
  s.record.center_dec_deg = summary.centre.dec_deg;
  s.record.pixel_scale_arcsec = summary.pixel_scale_arcsec;
  s.record.rotation_deg = summary.rotation_deg;
  s.wcs = std::move(wcs);
  return s;
}

// The last lines of solve-field's log, for an error message.
std::string log_tail(const fs::path& log, std::size_t lines = 5) {
  std::ifstream in(log);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += all[i] + " | ";
  return out;
}

// Whether the log reports a process of the run killed by SIGXCPU: solve-field runs its engine
// through /bin/sh, which says so in these words. The CPU the kernel charged when it sent the
// signal and the CPU wait4 reports for the run need not agree under contention (a fresh-clone
// CI run: two nights' engines killed by SIGXCPU while the run's reported CPU stayed under the
// 20-s limit, so the unsolvable fields failed three attempts instead of ending unsolved).
bool log_reports_cpu_limit(const fs::path& log) {
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find("CPU time limit exceeded") != std::string::npos) return true;
  }
  return false;
}

std::vector<astro::FieldStar> field_stars(const TemplateSources& t) {
  std::vector<astro::FieldStar> stars;
  for (std::size_t i = 0; i < t.ids.size(); ++i) {
    // Without fluxes the ids (brightest first) keep the order.
    stars.push_back({t.x[i], t.y[i], i < t.flux.size() ? t.flux[i] : static_cast<double>(t.ids.size() - i)});
  }
  return stars;
}

Solution run_solver(StepContext& ctx, const contract::AstrometryOptions& o, const TemplateSources& sources,
                    std::optional<SkyPointing> pointing, int width, int height) {
  if (sources.ids.size() < kMinStars) {
    return unsolved(fmt::format("only {} sources on the template; at least {} are needed to solve", sources.ids.size(),
                                kMinStars));
  }
  ScratchDir dir(ctx);
  astro::SolveFieldRequest request;
  request.xylist = dir.path() / "field.xyls";
  request.out_dir = dir.path();
  request.width = width;
  request.height = height;
  request.scale_low_arcsec = o.scale_low_arcsec;
  request.scale_high_arcsec = o.scale_high_arcsec;
  if (pointing) request.ra_deg = pointing->ra_deg, request.dec_deg = pointing->dec_deg;
  request.radius_deg = o.radius_deg;
  request.cpu_limit_s = static_cast<int>(o.time_limit_s);
  request.tweak_order = static_cast<int>(o.tweak_order);
  astro::write_xylist(request.xylist, field_stars(sources), width, height);
  ctx.check_lease();
  const auto log = dir.path() / "solve-field.log";
  const auto run = platform::run_with_time_limit(astro::solve_field_arguments(request), wall_limit(o.time_limit_s),
                                                 log.string(), std::chrono::seconds(o.time_limit_s));
  const std::string tried = fmt::format(
      "{} stars, pixel scale {}-{}\"/px, {}", std::min<std::size_t>(sources.ids.size(), 1000), o.scale_low_arcsec,
      o.scale_high_arcsec,
      pointing ? fmt::format("within {} deg of RA {:.4f} Dec {:.4f} ({})", o.radius_deg, pointing->ra_deg,
                             pointing->dec_deg, pointing->from)
               : std::string("anywhere on the sky (no pointing known)"));
  const bool out_of_cpu_time = run.out_of_cpu_time || log_reports_cpu_limit(log);
  if (run.timed_out || (out_of_cpu_time && run.exit_code != 0)) {
    return unsolved(fmt::format("solve-field found no solution within the time limit of {} s ({})", o.time_limit_s, tried),
                    run.seconds);
  }
  if (run.exit_code != 0) {
    throw RetryableFailure(fmt::format("solve-field failed (exit code {}, signal {}, {:.1f} s of CPU): {}", run.exit_code,
                                       run.signal, run.cpu_seconds, log_tail(log)));
  }
  if (!fs::exists(astro::wcs_output(request))) {
    return unsolved(fmt::format("solve-field found no solution ({})", tried), run.seconds);
  }
  auto s = solved("solve-field", astro::read_wcs_file(astro::wcs_output(request)), width, height);
  const auto check = astro::check_solution(*s.wcs, astro::read_correspondences(astro::correspondence_output(request)));
  s.record.catalogue_stars = check.catalogue_stars;
  s.record.rms_arcsec = check.rms_arcsec;
  s.record.solve_seconds = run.seconds;
  return s;
}

std::vector<SourceSky> sky_positions(const TemplateSources& t, const std::optional<astro::TanSipWcs>& wcs) {
  std::vector<SourceSky> out;
  if (!wcs) return out;
  for (std::size_t i = 0; i < t.ids.size(); ++i) {
    const auto sky = wcs->pixel_to_sky(t.x[i], t.y[i]);
    out.push_back({t.ids[i], sky.ra_deg, sky.dec_deg});
  }
  return out;
}

void solve_field(StepContext& ctx, const contract::SolveFieldParams& params) {
  const auto obs = params.observation_id;
  const auto& o = params.options;
  contract::validate(o, "solve_field");
  run_with_failure_context(fmt::format("solve the field of observation {}", obs), [&] {
    auto& store = ctx.observation_store();
    const auto [width, height] = observation_frame_size(ctx, obs);
    const auto sources = store.template_sources(obs);
    Solution s;
    if (!o.operator_wcs.empty()) {
      s = solved("operator", astro::read_wcs_file(readable(ctx, o.operator_wcs)), width, height);
    } else {
      std::optional<SkyPointing> pointing = store.pointing(obs);
      if (o.ra_deg) pointing = SkyPointing{*o.ra_deg, *o.dec_deg, "options"};
      s = run_solver(ctx, o, sources, pointing, width, height);
    }
    if (s.record.solved) {
      spdlog::info("process {}: observation {}: solved ({}), centre {:.5f} {:+.5f}, {:.3f}\"/px, {} catalogue stars at "
                   "rms {:.2f}\"",
                   ctx.process_id, obs, s.record.method, *s.record.center_ra_deg, *s.record.center_dec_deg,
                   *s.record.pixel_scale_arcsec, s.record.catalogue_stars.value_or(0), s.record.rms_arcsec.value_or(0));
    } else {
      spdlog::warn("process {}: observation {}: not solved: {}", ctx.process_id, obs, s.record.reason);
    }
    store.stage_observation_wcs(obs, s.record, sky_positions(sources, s.wcs));
  });
}

}  // namespace

void register_solve_field_step(StepRegistry& registry) {
  registry.add<contract::SolveFieldParams>("solve_field", solve_field);
}

}  // namespace tianyu::consumer::steps
