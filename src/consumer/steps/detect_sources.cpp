// detect_sources: the template's sources (ids 1..N, brightest first) and the observation's
// aperture radii, multiples of the template's median FWHM.
#include <algorithm>
#include <cmath>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "consumer/steps/observation_io.h"
#include "pipeline/calibration/calibrate.h"
#include "pipeline/fits_io.h"
#include "pipeline/photometry/template_sources.h"

namespace tianyu::consumer::steps {
namespace {

std::vector<double> radii_fwhm(const nlohmann::json& options) {
  std::vector<double> radii{1.5, 2.0, 3.0};
  if (options.contains("radii_fwhm")) radii = options["radii_fwhm"].get<std::vector<double>>();
  if (radii.empty() || std::any_of(radii.begin(), radii.end(), [](double r) { return !(r > 0 && r < 20); })) {
    throw InputError("photometry option 'radii_fwhm' must list multiples of the FWHM in (0, 20)");
  }
  return radii;
}

void detect_sources(StepContext& ctx) {
  const auto obs = observation_of(ctx);
  as_step(fmt::format("detect sources of observation {}", obs), [&] {
    auto product = latest_product(ctx, obs, "template");
    if (!product) product = latest_product(ctx, obs, "calibrated", reference_frame_id(ctx, obs));
    if (!product) throw InputError("no template and no calibrated first frame");
    const auto stacked = pipeline::read_fits(absolute(ctx, product->path)).image;
    // The stack's pixels where no frame contributed are 0: masked, so they make no sources.
    std::vector<std::uint8_t> mask(stacked.pixels.size(), 0);
    if (!product->weight_path.empty()) {
      const auto weight = pipeline::read_fits(absolute(ctx, product->weight_path)).image;
      for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = weight.pixels[i] > 0 ? 0 : pipeline::kNotFinite;
    }
    // The stack's own background and noise (deeper than any frame's).
    pipeline::CalibrationOptions flat_options;
    flat_options.saturation_adu = std::numeric_limits<double>::infinity();
    auto flat = pipeline::calibrate(stacked, 1.0, {}, flat_options);
    for (std::size_t i = 0; i < mask.size(); ++i) flat.mask[i] |= mask[i];
    const auto first = pipeline::detect_template_sources(flat.image, &flat.mask, flat.background_rms, 1.0);
    if (first.empty()) throw InputError("no sources on the template");
    std::vector<double> fwhm;
    for (const auto& s : first) {
      if (s.isolated && s.sep_flag == 0 && s.fwhm > 0) fwhm.push_back(s.fwhm);
    }
    if (fwhm.empty()) for (const auto& s : first) fwhm.push_back(s.fwhm);
    std::nth_element(fwhm.begin(), fwhm.begin() + fwhm.size() / 2, fwhm.end());
    const double seeing = fwhm[fwhm.size() / 2];
    const nlohmann::json options = ctx.params.value("options", nlohmann::json::object());
    const auto multiples = radii_fwhm(options);
    // Isolation within the largest aperture and two FWHM more: a neighbour there with a tenth
    // of a star's light keeps it from the references.
    const double isolation = (*std::max_element(multiples.begin(), multiples.end()) + 2.0) * seeing;
    auto sources = pipeline::detect_template_sources(flat.image, &flat.mask, flat.background_rms, isolation);
    pipeline::assign_source_ids({}, sources, 1.0, 1);  // no earlier sources of this sky yet
    spdlog::info("process {}: observation {}: {} sources on the template, median FWHM {:.2f} px", ctx.process_id,
                 obs, sources.size(), seeing);
    ctx.on_commit([=](db::Connection& c) {
      c.execute("DELETE FROM source WHERE observation_id = ?", {obs});
      c.execute("DELETE FROM aperture WHERE observation_id = ?", {obs});
      std::vector<db::Param> rows;
      for (const auto& s : sources) {
        rows.insert(rows.end(), {obs, std::uint64_t(s.id), s.x, s.y, s.flux, s.fwhm, s.a, s.b, s.theta,
                                 std::int64_t{s.sep_flag}, std::int64_t{s.isolated}});
      }
      db::insert_rows(c,
                      "INSERT INTO source (observation_id, source_id, x_px, y_px, template_flux, fwhm_px, a_px, b_px, "
                      "theta_rad, sep_flag, isolated) VALUES ",
                      "(?,?,?,?,?,?,?,?,?,?,?)", 11, rows, 500);
      for (std::size_t r = 0; r < multiples.size(); ++r) {
        c.execute("INSERT INTO aperture (observation_id, aperture_index, radius_px) VALUES (?, ?, ?)",
                  {obs, std::uint64_t(r), multiples[r] * seeing});
      }
    });
  });
}

}  // namespace

void register_detect_sources_step(StepRegistry& registry) { registry.add("detect_sources", detect_sources); }

}  // namespace tianyu::consumer::steps
