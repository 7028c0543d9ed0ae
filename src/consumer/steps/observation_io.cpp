#include "consumer/steps/observation_io.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <spdlog/fmt/fmt.h>

#include "common/errors.h"
#include "pipeline/calibration/calibrate.h"
#include "pipeline/fits_io.h"
#include "pipeline/photometry/aperture.h"
#include "pipeline/photometry/relative_flux.h"
#include "pipeline/temp_name.h"

namespace tianyu::consumer::steps {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFrameColumns =
    "frame_id, path, kind, width, height, COALESCE(exptime_s, 0), COALESCE(bjd_tdb_mid, 0), header";

RawFrame frame_from(const db::Row& r) {
  RawFrame f;
  f.frame_id = r.u64(0);
  f.path = r.str(1);
  f.kind = r.str(2);
  f.width = static_cast<int>(r.i64(3));
  f.height = static_cast<int>(r.i64(4));
  f.exptime_s = r.f64(5);
  f.bjd_tdb = r.f64(6);
  f.header = nlohmann::json::parse(r.str(7));
  return f;
}

ImageProduct product_from(const db::Row& r) {
  ImageProduct p;
  p.process_id = r.u64(0);
  p.path = r.str(1);
  p.mask_path = r.opt_str(2).value_or("");
  p.weight_path = r.opt_str(3).value_or("");
  p.catalog_path = r.opt_str(4).value_or("");
  p.background_rms = r.is_null(5) ? 0.0 : r.f64(5);
  p.frames = r.is_null(6) ? 0 : static_cast<int>(r.i64(6));
  return p;
}

constexpr const char* kProductColumns =
    "i.process_id, i.path, i.mask_path, i.weight_path, i.catalog_path, i.background_rms_adu, i.frames";

db::Param optional(const std::string& s) { return s.empty() ? db::Param(nullptr) : db::Param(s); }

}  // namespace

std::uint64_t uint_param(const StepContext& ctx, const char* name) {
  if (!ctx.params.contains(name) || !ctx.params[name].is_number_unsigned()) {
    throw InputError(fmt::format("{}: parameter '{}' (a positive integer) is required", ctx.command, name));
  }
  return ctx.params[name].get<std::uint64_t>();
}

std::uint64_t observation_of(const StepContext& ctx) { return uint_param(ctx, "observation_id"); }

RawFrame raw_frame(const StepContext& ctx, std::uint64_t frame_id) {
  const auto rows = ctx.db->query(fmt::format("SELECT {} FROM raw_frame WHERE frame_id = ?", kFrameColumns), {frame_id});
  if (rows.empty()) throw InputError(fmt::format("{}: frame {} does not exist", ctx.command, frame_id));
  return frame_from(rows.front());
}

std::vector<RawFrame> raw_frames(const StepContext& ctx, std::uint64_t observation_id, const std::string& kind) {
  std::vector<RawFrame> out;
  for (const auto& r : ctx.db->query(
           fmt::format("SELECT {} FROM raw_frame WHERE observation_id = ? AND kind = ? ORDER BY jd_utc_mid, frame_id",
                       kFrameColumns),
           {observation_id, kind})) {
    out.push_back(frame_from(r));
  }
  return out;
}

std::uint64_t reference_frame_id(const StepContext& ctx, std::uint64_t observation_id) {
  // The first science frames by time, up to the five the DAG offered as candidates, that have
  // a calibrated image.
  const auto rows = ctx.db->query(
      "SELECT f.frame_id FROM (SELECT frame_id, jd_utc_mid FROM raw_frame WHERE observation_id = ? AND "
      "kind = 'science' ORDER BY jd_utc_mid, frame_id LIMIT 5) f JOIN image_product i ON i.frame_id = f.frame_id "
      "AND i.kind = 'calibrated' ORDER BY f.jd_utc_mid, f.frame_id LIMIT 1",
      {observation_id});
  if (rows.empty()) {
    throw InputError(fmt::format("observation {}: none of its first 5 science frames calibrated; no reference frame",
                                 observation_id));
  }
  return rows.front().u64(0);
}

std::pair<int, int> observation_frame_size(const StepContext& ctx, std::uint64_t observation_id) {
  const auto rows = ctx.db->query(
      "SELECT width, height FROM raw_frame WHERE observation_id = ? AND kind = 'science' GROUP BY width, height "
      "ORDER BY COUNT(*) DESC, MIN(jd_utc_mid) LIMIT 1",
      {observation_id});
  if (rows.empty()) throw InputError(fmt::format("observation {} has no science frames", observation_id));
  return {static_cast<int>(rows.front().i64(0)), static_cast<int>(rows.front().i64(1))};
}

std::optional<ImageProduct> latest_product(const StepContext& ctx, std::uint64_t observation_id,
                                           const std::string& kind, std::optional<std::uint64_t> frame_id) {
  const auto rows =
      frame_id ? ctx.db->query(fmt::format("SELECT {} FROM image_product i WHERE i.observation_id = ? AND "
                                           "i.kind = ? AND i.frame_id = ? ORDER BY i.created_at DESC LIMIT 1",
                                           kProductColumns),
                               {observation_id, kind, *frame_id})
               : ctx.db->query(fmt::format("SELECT {} FROM image_product i WHERE i.observation_id = ? AND "
                                           "i.kind = ? ORDER BY i.created_at DESC LIMIT 1",
                                           kProductColumns),
                               {observation_id, kind});
  if (rows.empty()) return std::nullopt;
  return product_from(rows.front());
}

std::vector<ImageProduct> products_of_dependencies(const StepContext& ctx, const std::string& kind) {
  std::vector<ImageProduct> out;
  for (const auto& r : ctx.db->query(
           fmt::format("SELECT {} FROM image_product i JOIN process_dependency d ON d.depends_on_id = i.process_id "
                       "WHERE d.process_id = ? AND i.kind = ? ORDER BY i.process_id",
                       kProductColumns),
           {ctx.process_id, kind})) {
    out.push_back(product_from(r));
  }
  return out;
}

void record_product(StepContext& ctx, std::uint64_t observation_id, std::optional<std::uint64_t> frame_id,
                    const std::string& kind, const ImageProduct& p, std::optional<double> background,
                    std::optional<std::uint64_t> masked) {
  const auto process_id = ctx.process_id;
  ctx.on_commit([=](db::Connection& c) {
    c.execute(
        "REPLACE INTO image_product (process_id, observation_id, frame_id, kind, path, mask_path, weight_path, "
        "catalog_path, background_adu, background_rms_adu, masked_pixels, frames) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {process_id, observation_id, frame_id ? db::Param(*frame_id) : db::Param(nullptr), kind, p.path,
         optional(p.mask_path), optional(p.weight_path), optional(p.catalog_path),
         background ? db::Param(*background) : db::Param(nullptr),
         p.background_rms > 0 ? db::Param(p.background_rms) : db::Param(nullptr),
         masked ? db::Param(*masked) : db::Param(nullptr), std::int64_t{p.frames}});
  });
}

std::string product_path(const StepContext& ctx, std::uint64_t observation_id, const std::string& relative) {
  const fs::path rel = fs::path("products") / fmt::format("obs{}", observation_id) / relative;
  fs::create_directories((ctx.site_root / rel).parent_path());
  return rel.generic_string();
}

fs::path absolute(const StepContext& ctx, const std::string& relative) { return ctx.site_root / relative; }

void write_mask(const fs::path& path, const std::vector<std::uint8_t>& mask, int width, int height) {
  pipeline::Image m(width, height);
  for (std::size_t i = 0; i < mask.size(); ++i) m.pixels[i] = mask[i];
  pipeline::write_fits(path, m, {{"EXTNAME", std::string("MASK"), "MaskBit flags: 1 sat 2 hot 4 bad flat 8 not finite"}},
                       pipeline::PixelType::uint16);
}

std::vector<std::uint8_t> read_mask(const fs::path& path, int width, int height) {
  const auto m = pipeline::read_fits(path);
  if (m.image.width != width || m.image.height != height) {
    throw pipeline::FitsError(fmt::format("{}: mask is {}x{}, its image {}x{}", path.string(), m.image.width,
                                          m.image.height, width, height));
  }
  std::vector<std::uint8_t> mask(m.image.pixels.size());
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = static_cast<std::uint8_t>(m.image.pixels[i]);
  return mask;
}

void write_catalog(const fs::path& path, const std::vector<pipeline::Source>& sources) {
  const fs::path tmp = path.string() + "." + pipeline::unique_temp_suffix() + ".tmp";
  {
    std::ofstream out(tmp);
    out << "x,y,flux,peak,a,b,theta,npix,flag\n";
    out.precision(10);
    for (const auto& s : sources) {
      out << s.x << ',' << s.y << ',' << s.flux << ',' << s.peak << ',' << s.a << ',' << s.b << ',' << s.theta
          << ',' << s.npix << ',' << s.flag << '\n';
    }
    if (!out) throw Error("cannot write " + tmp.string());
  }
  fs::rename(tmp, path);
}

std::vector<pipeline::Source> read_catalog(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot open the source catalogue " + path.string());
  std::string line;
  std::getline(in, line);
  std::vector<pipeline::Source> out;
  while (std::getline(in, line)) {
    std::replace(line.begin(), line.end(), ',', ' ');
    std::istringstream row(line);
    pipeline::Source s;
    row >> s.x >> s.y >> s.flux >> s.peak >> s.a >> s.b >> s.theta >> s.npix >> s.flag;
    if (!row) throw InputError("malformed source catalogue " + path.string());
    out.push_back(s);
  }
  return out;
}

std::optional<FrameAlignment> frame_alignment(const StepContext& ctx, std::uint64_t frame_id) {
  const auto rows = ctx.db->query(
      "SELECT dx, dy, axx, axy, ayx, ayy, good, rejected_reason FROM frame_quality WHERE frame_id = ?", {frame_id});
  if (rows.empty()) return std::nullopt;
  const auto& r = rows.front();
  FrameAlignment a;
  a.transform = {r.f64(0), r.f64(1), r.f64(2), r.f64(3), r.f64(4), r.f64(5)};
  if (!r.is_null(6)) a.good = r.i64(6) != 0;
  a.rejected_reason = r.opt_str(7).value_or("");
  return a;
}

void as_step(const std::string& what, const std::function<void()>& body) {
  try {
    body();
  } catch (const InputError& e) {
    throw InputError(what + ": " + e.what());
  } catch (const pipeline::FitsError& e) {
    throw InputError(what + ": " + e.what());
  } catch (const pipeline::CalibrationError& e) {
    throw InputError(what + ": " + e.what());
  } catch (const pipeline::PhotometryError& e) {
    throw InputError(what + ": " + e.what());
  } catch (const pipeline::RelativeFluxError& e) {
    throw InputError(what + ": " + e.what());
  } catch (const std::invalid_argument& e) {
    throw InputError(what + ": " + e.what());
  }
}

}  // namespace tianyu::consumer::steps
