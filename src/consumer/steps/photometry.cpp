// photometry: every template source measured in one good frame at every aperture radius, the
// rows bulk-inserted (a re-run replaces the frame's rows). A rejected frame gets no rows.
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/fits_io.h"
#include "pipeline/photometry/aperture.h"

namespace tianyu::consumer::steps {
namespace {

void measure_frame(StepContext& ctx) {
  const auto obs = observation_of(ctx);
  const auto frame_id = uint_param(ctx, "frame_id");
  as_step(fmt::format("photometry of frame {}", frame_id), [&] {
    const auto alignment = frame_alignment(ctx, frame_id);
    if (!alignment) throw InputError("the frame has no alignment");
    if (!alignment->good.value_or(false)) {
      spdlog::info("process {}: frame {} rejected ({}): no photometry", ctx.process_id, frame_id,
                   alignment->rejected_reason);
      ctx.on_commit([=](db::Connection& c) { c.execute("DELETE FROM raw_flux WHERE frame_id = ?", {frame_id}); });
      return;
    }
    const auto frame = raw_frame(ctx, frame_id);
    const auto product = latest_product(ctx, obs, "calibrated", frame_id);
    if (!product) throw InputError("no calibrated image");
    const auto image = pipeline::read_fits(absolute(ctx, product->path)).image;
    const auto mask = read_mask(absolute(ctx, product->mask_path), image.width, image.height);
    std::vector<std::uint64_t> ids;
    std::vector<double> xs, ys;
    for (const auto& r : ctx.db->query("SELECT source_id, x_px, y_px FROM source WHERE observation_id = ? "
                                       "ORDER BY source_id", {obs})) {
      ids.push_back(r.u64(0));
      xs.push_back(r.f64(1));
      ys.push_back(r.f64(2));
    }
    pipeline::ApertureOptions options;
    for (const auto& r : ctx.db->query("SELECT radius_px FROM aperture WHERE observation_id = ? ORDER BY aperture_index",
                                       {obs})) {
      options.radii_px.push_back(r.f64(0));
    }
    if (ids.empty() || options.radii_px.empty()) throw InputError("the observation has no sources or apertures");
    if (frame.header.contains("GAIN")) {
      try {
        options.gain_e_per_adu = std::stod(frame.header["GAIN"].get<std::string>());
      } catch (const std::exception&) {
        throw InputError(fmt::format("GAIN = '{}' is not a number", frame.header["GAIN"].get<std::string>()));
      }
    }
    const auto p = pipeline::measure_apertures(image, &mask, product->background_rms, xs, ys, alignment->transform,
                                               options);
    std::vector<db::Param> rows;
    rows.reserve(static_cast<std::size_t>(p.stars) * p.radii * 7);
    for (int s = 0; s < p.stars; ++s) {
      for (int r = 0; r < p.radii; ++r) {
        const std::size_t k = static_cast<std::size_t>(s) * p.radii + r;
        const bool finite = std::isfinite(p.flux[k]) && std::isfinite(p.flux_err[k]);
        rows.insert(rows.end(), {frame_id, ids[static_cast<std::size_t>(s)], std::uint64_t(r), obs,
                                 finite ? db::Param(p.flux[k]) : db::Param(nullptr),
                                 finite ? db::Param(p.flux_err[k]) : db::Param(nullptr), std::uint64_t{p.flags[k]}});
      }
    }
    ctx.on_commit([frame_id, rows = std::move(rows)](db::Connection& c) {
      c.execute("DELETE FROM raw_flux WHERE frame_id = ?", {frame_id});
      db::insert_rows(c,
                      "INSERT INTO raw_flux (frame_id, source_id, aperture_index, observation_id, flux, flux_err, "
                      "flags) VALUES ",
                      "(?,?,?,?,?,?,?)", 7, rows, 1000);
    });
  });
}

}  // namespace

void register_photometry_step(StepRegistry& registry) { registry.add("photometry", measure_frame); }

}  // namespace tianyu::consumer::steps
