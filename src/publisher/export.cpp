#include "publisher/export.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <algorithm>
#include <map>
#include <optional>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "common/light_curve_rows.h"
#include "common/platform.h"
#include "pipeline/geometry.h"
#include "pipeline/robust_stats.h"

namespace tianyu::publisher {
namespace {

namespace fs = std::filesystem;

std::string cell(const db::Row& r, std::size_t i, const char* format = "{:.10g}") {
  if (r.is_null(i)) return "";
  return fmt::format(fmt::runtime(format), r.f64(i));
}

// Writes `path` whole or not at all.
class AtomicFile {
 public:
  explicit AtomicFile(fs::path path) : path_(std::move(path)), tmp_(path_.string() + ".part"), out_(tmp_) {
    if (!out_) throw Error("cannot write " + tmp_.string());
  }
  std::ofstream& stream() { return out_; }
  void commit() {
    out_.close();
    if (!out_) throw Error("cannot write " + tmp_.string());
    fs::rename(tmp_, path_);
  }

 private:
  fs::path path_, tmp_;
  std::ofstream out_;
};

struct Point {
  double t, f, e;
};

// Means of `n` consecutive points (time, flux, error of the mean from the scatter).
std::vector<Point> binned(const std::vector<Point>& points, int n) {
  std::vector<Point> out;
  for (std::size_t i = 0; i + n <= points.size(); i += n) {
    double t = 0, f = 0, ff = 0;
    for (int k = 0; k < n; ++k) {
      t += points[i + k].t;
      f += points[i + k].f;
      ff += points[i + k].f * points[i + k].f;
    }
    t /= n;
    f /= n;
    const double var = std::max(0.0, ff / n - f * f) * n / std::max(1, n - 1);
    out.push_back({t, f, std::sqrt(var / n)});
  }
  return out;
}

// `path` as a gnuplot single-quoted string: there a backslash is literal and a quote is
// written twice, so no file name can end the string and inject a command. A line break
// would end the command itself and cannot be quoted: refused, naming the path.
std::string gnuplot_string(const fs::path& path) {
  const std::string text = path.string();
  if (text.find_first_of(std::string("\n\r\0", 3)) != std::string::npos) {
    throw InputError(fmt::format("export: output path '{}' contains a line break or NUL, which a gnuplot script "
                                 "cannot name; choose another --out directory",
                                 text));
  }
  std::string out = "'";
  for (const char ch : text) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out + "'";
}

fs::path plot(const fs::path& dir, std::uint64_t source, double x, double y, const std::vector<Point>& points,
              int bin) {
  const fs::path data = dir / fmt::format(".plot_{}.dat", source);
  const fs::path binned_data = dir / fmt::format(".plot_{}_bin.dat", source);
  const fs::path png = dir / fmt::format("lightcurve_{}.png", source);
  double t0 = std::floor(points.front().t);
  // Plotted normalised to the median, as observers read a light curve.
  std::vector<double> f;
  for (const auto& p : points) f.push_back(p.f);
  const double median = pipeline::median_in_place(f);
  std::vector<Point> normalised;
  for (const auto& p : points) normalised.push_back({p.t, p.f / median, p.e / median});
  {
    std::ofstream a(data), b(binned_data);
    for (const auto& p : normalised) a << fmt::format("{:.8f} {:.8g} {:.8g}\n", p.t - t0, p.f, p.e);
    for (const auto& p : binned(normalised, bin)) b << fmt::format("{:.8f} {:.8g} {:.8g}\n", p.t - t0, p.f, p.e);
  }
  const std::string script = fmt::format(
      "set terminal pngcairo size 1000,600 noenhanced\n"
      "set output {}\n"
      "set title 'source {} at ({:.1f}, {:.1f}): relative flux, {} frames, bins of {}'\n"
      "set xlabel 'BJD_TDB - {:.0f}'\nset ylabel 'relative flux / median'\nset grid\nset key bottom right\n"
      "plot {} using 1:2 with points pt 7 ps 0.4 lc rgb '#9aa0a6' title 'frames', "
      "{} using 1:2:3 with yerrorbars pt 7 ps 0.9 lc rgb '#1a1a1a' title 'binned'\n",
      gnuplot_string(png), source, x, y, points.size(), bin, t0, gnuplot_string(data),
      gnuplot_string(binned_data));
  const int status = platform::run_with_input("gnuplot", script);
  if (status == -1) throw Error("cannot start gnuplot (install gnuplot-nox: scripts/setup-deps.sh)");
  fs::remove(data);
  fs::remove(binned_data);
  if (status != 0 || !fs::exists(png)) {
    throw Error(fmt::format("gnuplot failed to draw {} (status {})", png.string(), status));
  }
  return png;
}

// Writes sources.csv; returns the number of sources.
int write_sources(const fs::path& path, const db::Rows& sources) {
  AtomicFile f(path);
  f.stream() << "source_id,x,y,mag,is_reference,group_id,rms,cdpp_ppm\n";
  for (const auto& r : sources) {
    f.stream() << r.u64(0) << ',' << fmt::format("{:.3f},{:.3f}", r.f64(1), r.f64(2)) << ',' << cell(r, 3, "{:.4f}")
               << ',' << r.i64(4) << ',' << (r.is_null(5) ? "" : std::to_string(r.i64(5))) << ','
               << cell(r, 6, "{:.6g}") << ',' << cell(r, 7, "{:.1f}") << '\n';
  }
  f.commit();
  return static_cast<int>(sources.size());
}

// The source (x_px, y_px in columns 1, 2) nearest to (x, y); `sources` is not empty.
const db::Row* nearest_source(const db::Rows& sources, double x, double y) {
  const db::Row* nearest = nullptr;
  double best = 1e300;
  for (const auto& r : sources) {
    const double d = std::hypot(r.f64(1) - x, r.f64(2) - y);
    if (d < best) {
      best = d;
      nearest = &r;
    }
  }
  return nearest;
}

// One good frame's systematics (frame_systematics) and its alignment.
struct FrameRow {
  std::uint64_t frame_id = 0;
  double bjd = 0;
  std::optional<double> airmass, fwhm, background, transparency;
  std::string airmass_from;
  std::optional<pipeline::FrameTransform> transform;
};

std::optional<double> opt(const db::Row& r, std::size_t i) {
  return r.is_null(i) ? std::nullopt : std::optional<double>(r.f64(i));
}
std::string text(const std::optional<double>& v, const char* format = "{:.6g}") {
  return v ? fmt::format(fmt::runtime(format), *v) : std::string();
}

std::map<std::uint64_t, FrameRow> frame_rows(db::Connection& c, std::uint64_t obs) {
  std::map<std::uint64_t, FrameRow> out;
  for (const auto& r : c.query(
           "SELECT s.frame_id, COALESCE(m.bjd_tdb_mid, f.bjd_tdb_mid) AS t, s.airmass, s.airmass_from, s.fwhm_px, "
           "s.background_adu, s.transparency, q.dx, q.dy, q.axx, q.axy, q.ayx, q.ayy FROM frame_systematics s "
           "JOIN raw_frame f ON f.frame_id = s.frame_id LEFT JOIN minute_time m ON m.frame_id = s.frame_id "
           "LEFT JOIN frame_quality q ON q.frame_id = s.frame_id WHERE s.observation_id = ? ORDER BY t",
           {obs})) {
    FrameRow& f = out[r.u64(0)];
    f.frame_id = r.u64(0);
    f.bjd = r.is_null(1) ? std::nan("") : r.f64(1);
    f.airmass = opt(r, 2);
    f.airmass_from = r.opt_str(3).value_or("");
    f.fwhm = opt(r, 4);
    f.background = opt(r, 5);
    f.transparency = opt(r, 6);
    if (!r.is_null(7)) f.transform = pipeline::FrameTransform{r.f64(7), r.f64(8), r.f64(9), r.f64(10), r.f64(11), r.f64(12)};
  }
  return out;
}

// The systematics cells of a light-curve row: airmass, fwhm_px, background_adu, transparency,
// x_px, y_px (the source at (x, y) on the reference grid, moved by the frame's alignment).
std::string systematics_cells(const std::map<std::uint64_t, FrameRow>& frames, std::uint64_t frame_id, double x,
                              double y) {
  const auto it = frames.find(frame_id);
  if (it == frames.end()) return ",,,,,";
  const auto& f = it->second;
  std::string xy = ",";
  if (f.transform) {
    const auto [fx, fy] = f.transform->apply(x, y);
    xy = fmt::format("{:.3f},{:.3f}", fx, fy);
  }
  return text(f.airmass, "{:.5f}") + ',' + text(f.fwhm, "{:.4f}") + ',' + text(f.background, "{:.3f}") + ',' +
         text(f.transparency, "{:.5f}") + ',' + xy;
}

void write_frames(const fs::path& path, const std::map<std::uint64_t, FrameRow>& frames) {
  AtomicFile f(path);
  f.stream() << "frame_id,bjd_tdb,airmass,airmass_from,fwhm_px,background_adu,transparency,dx_px,dy_px\n";
  for (const auto& [id, r] : frames) {
    f.stream() << id << ',' << fmt::format("{:.7f}", r.bjd) << ',' << text(r.airmass, "{:.5f}") << ','
               << r.airmass_from << ',' << text(r.fwhm, "{:.4f}") << ',' << text(r.background, "{:.3f}") << ','
               << text(r.transparency, "{:.5f}") << ','
               << (r.transform ? fmt::format("{:.3f},{:.3f}", r.transform->dx, r.transform->dy) : ",") << '\n';
  }
  f.commit();
}

// OUT/noise.json from observation_noise; false when the observation has no such row yet.
bool write_noise(db::Connection& c, std::uint64_t obs, const fs::path& path) {
  const auto rows = c.query(
      "SELECT gain_e_per_adu, gain_err, gain_method, gain_detail, gain_used_by_photometry, read_noise_e, "
      "constant_stars, constant_stars_reduced_chi2 FROM observation_noise WHERE observation_id = ?",
      {obs});
  if (rows.empty()) return false;
  const auto& r = rows.front();
  const auto number = [&](std::size_t i) { return r.is_null(i) ? nlohmann::json(nullptr) : nlohmann::json(r.f64(i)); };
  AtomicFile f(path);
  f.stream() << nlohmann::json{{"observation_id", obs},
                               {"gain_e_per_adu", number(0)},
                               {"gain_err", number(1)},
                               {"gain_method", r.str(2)},
                               {"gain_detail", r.opt_str(3).value_or("")},
                               {"gain_used_by_photometry", number(4)},
                               {"read_noise_e", number(5)},
                               {"constant_stars", r.i64(6)},
                               {"constant_stars_reduced_chi2", number(7)}}
                    .dump(2)
             << "\n";
  f.commit();
  return true;
}

// OUT/diagnostics.png: the night's conditions against time, one panel each, as observers
// look at them before trusting a light curve.
fs::path plot_diagnostics(const fs::path& dir, std::uint64_t obs, const std::map<std::uint64_t, FrameRow>& frames) {
  const fs::path data = dir / ".diagnostics.dat";
  const fs::path png = dir / "diagnostics.png";
  double t0 = 1e300;
  for (const auto& [id, f] : frames) t0 = std::min(t0, std::floor(f.bjd));
  {
    std::ofstream a(data);
    const auto v = [](const std::optional<double>& x) { return x ? fmt::format("{:.8g}", *x) : std::string("NaN"); };
    std::vector<const FrameRow*> ordered;
    for (const auto& [id, f] : frames) ordered.push_back(&f);
    std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->bjd < b->bjd; });
    for (const auto* f : ordered) {
      a << fmt::format("{:.8f} {} {} {} {} {} {}\n", f->bjd - t0, v(f->fwhm), v(f->airmass), v(f->background),
                       v(f->transparency), f->transform ? fmt::format("{:.4f}", f->transform->dx) : "NaN",
                       f->transform ? fmt::format("{:.4f}", f->transform->dy) : "NaN");
    }
  }
  const std::string d = gnuplot_string(data);
  // A quantity no frame has (no AIRMASS card and no site location, say) gets an empty panel
  // that says so: gnuplot refuses a plot without a valid point, and would lose the whole page.
  const auto panel = [&](const char* label, int column, bool any) {
    return any ? fmt::format("set ylabel '{}'\nplot {} using 1:{} with points pt 7 ps 0.5 lc rgb '#1a1a1a'\n", label,
                             d, column)
               : fmt::format("set ylabel '{}'\nset label 1 'not measured' at graph 0.5, 0.5 center\n"
                             "plot {} using 1:(0) with dots lc rgb '#ffffff'\nunset label 1\n",
                             label, d);
  };
  const auto any = [&](auto field) {
    return std::any_of(frames.begin(), frames.end(), [&](const auto& f) { return field(f.second).has_value(); });
  };
  const std::string script =
      fmt::format("set terminal pngcairo size 1000,1200 noenhanced\nset output {}\nset datafile missing 'NaN'\n"
                  "set multiplot layout 5,1 title 'observation {}: conditions of {} good frames'\nset grid\n"
                  "unset key\nset lmargin 12\nset format x ''\n",
                  gnuplot_string(png), obs, frames.size()) +
      panel("FWHM (px)", 2, any([](const FrameRow& f) { return f.fwhm; })) +
      panel("airmass", 3, any([](const FrameRow& f) { return f.airmass; })) +
      panel("background (ADU)", 4, any([](const FrameRow& f) { return f.background; })) +
      panel("transparency", 5, any([](const FrameRow& f) { return f.transparency; })) +
      fmt::format("set format x '%g'\nset xlabel 'BJD_TDB - {:.0f}'\nset ylabel 'shift (px)'\nset key top left\n"
                  "plot {} using 1:6 with points pt 7 ps 0.5 lc rgb '#c0392b' title 'dx', "
                  "{} using 1:7 with points pt 7 ps 0.5 lc rgb '#2471a3' title 'dy'\nunset multiplot\n",
                  t0, d, d);
  const int status = platform::run_with_input("gnuplot", script);
  fs::remove(data);
  if (status == -1) throw Error("cannot start gnuplot (install gnuplot-nox: scripts/setup-deps.sh)");
  if (status != 0 || !fs::exists(png)) {
    throw Error(fmt::format("gnuplot failed to draw {} (status {})", png.string(), status));
  }
  return png;
}

// The night's own files: noise.json, frames.csv and diagnostics.png (listed first among the plots).
void export_night(db::Connection& c, const ExportOptions& o, const std::map<std::uint64_t, FrameRow>& frames,
                  ExportReport& report) {
  write_noise(c, o.observation_id, o.out / "noise.json");
  if (frames.empty()) return;
  write_frames(o.out / "frames.csv", frames);
  try {
    report.plots.push_back(plot_diagnostics(o.out, o.observation_id, frames));
  } catch (const Error& e) {  // the light curves stand without the picture
    spdlog::warn("export: no diagnostics plot: {}", e.what());
  }
}

// Each science frame's 0-based index in time order.
std::map<std::uint64_t, int> science_frame_index(db::Connection& c, std::uint64_t obs) {
  std::map<std::uint64_t, int> index;
  for (const auto& r : c.query("SELECT frame_id FROM raw_frame WHERE observation_id = ? AND kind = 'science' "
                               "ORDER BY jd_utc_mid, frame_id",
                               {obs})) {
    index.emplace(r.u64(0), static_cast<int>(index.size()));
  }
  return index;
}

}  // namespace

std::pair<double, double> parse_position(const std::string& text) {
  double x = 0, y = 0;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%lf,%lf%c", &x, &y, &extra) != 2) {
    throw InputError(fmt::format("--plot-near '{}' is not X,Y (pixels of the first frame)", text));
  }
  return {x, y};
}

ExportReport export_observation(db::Connection& c, const ExportOptions& o) {
  if (c.query("SELECT 1 FROM observation WHERE observation_id = ?", {o.observation_id}).empty()) {
    throw InputError(fmt::format("observation {} does not exist", o.observation_id));
  }
  const auto sources = c.query(
      "SELECT s.source_id, s.x_px, s.y_px, p.instrumental_mag, p.is_reference, p.group_id, p.rms, p.cdpp_ppm "
      "FROM source s JOIN source_photometry p ON p.observation_id = s.observation_id AND p.source_id = s.source_id "
      "WHERE s.observation_id = ? ORDER BY s.source_id",
      {o.observation_id});
  if (sources.empty()) {
    throw InputError(fmt::format("observation {} has no light curves yet (its relative_flux step has not "
                                 "succeeded: tianyu-publish status)",
                                 o.observation_id));
  }
  if (!o.plot_near.empty()) gnuplot_string(o.out);  // refuse an unplottable --out before writing anything
  fs::create_directories(o.out / "lightcurves");
  ExportReport report;
  report.sources = write_sources(o.out / "sources.csv", sources);
  auto frame_index = science_frame_index(c, o.observation_id);
  const auto frames = frame_rows(c, o.observation_id);
  std::map<std::uint64_t, std::pair<double, double>> position;
  for (const auto& r : sources) position[r.u64(0)] = {r.f64(1), r.f64(2)};
  std::map<std::uint64_t, std::vector<Point>> curves;
  const auto optional_cell = [](const std::optional<double>& v) { return v ? fmt::format("{:.10g}", *v) : std::string(); };
  lightcurves::each_source(c, o.observation_id, {}, [&](std::uint64_t source, const std::vector<lightcurves::Point>& points) {
    AtomicFile file(o.out / "lightcurves" / fmt::format("{}.csv", source));
    auto& out = file.stream();
    out << "bjd_tdb,rel_flux,rel_flux_err,frame,flags,airmass,fwhm_px,background_adu,transparency,x_px,y_px\n";
    const auto [x, y] = position[source];
    for (const auto& p : points) {
      out << fmt::format("{:.7f}", p.bjd_tdb) << ',' << optional_cell(p.rel_flux) << ',' << optional_cell(p.rel_flux_err)
          << ',' << frame_index[p.frame_id] << ',' << p.flags << ',' << systematics_cells(frames, p.frame_id, x, y) << '\n';
      if (p.rel_flux && p.flags == 0) curves[source].push_back({p.bjd_tdb, *p.rel_flux, p.rel_flux_err.value_or(0)});
    }
    file.commit();
    ++report.light_curves;
  });
  export_night(c, o, frames, report);
  for (const auto& [x, y] : o.plot_near) {
    const db::Row* nearest = nearest_source(sources, x, y);
    const auto id = nearest->u64(0);
    if (curves[id].size() < 2) {
      spdlog::warn("export: source {} nearest ({}, {}) has fewer than 2 clean points; no plot", id, x, y);
      continue;
    }
    report.plots.push_back(plot(o.out, id, nearest->f64(1), nearest->f64(2), curves[id], o.bin));
  }
  return report;
}

}  // namespace tianyu::publisher
