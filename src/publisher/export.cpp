#include "publisher/export.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "pipeline/robust_stats.h"
#include "common/platform.h"

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
  std::map<std::uint64_t, int> frame_index;
  for (const auto& r : c.query("SELECT frame_id FROM raw_frame WHERE observation_id = ? AND kind = 'science' "
                               "ORDER BY jd_utc_mid, frame_id",
                               {o.observation_id})) {
    frame_index.emplace(r.u64(0), static_cast<int>(frame_index.size()));
  }
  std::map<std::uint64_t, std::vector<Point>> curves;
  std::unique_ptr<AtomicFile> file;
  std::uint64_t current = 0;
  const auto finish = [&] {
    if (file) {
      file->commit();
      ++report.light_curves;
    }
    file.reset();
  };
  for (const auto& r : c.query("SELECT source_id, frame_id, bjd_tdb, rel_flux, rel_flux_err, flags FROM light_curve "
                               "WHERE observation_id = ? ORDER BY source_id, bjd_tdb",
                               {o.observation_id})) {
    const auto source = r.u64(0);
    if (!file || source != current) {
      finish();
      current = source;
      file = std::make_unique<AtomicFile>(o.out / "lightcurves" / fmt::format("{}.csv", source));
      file->stream() << "bjd_tdb,rel_flux,rel_flux_err,frame,flags\n";
    }
    file->stream() << fmt::format("{:.7f}", r.f64(2)) << ',' << cell(r, 3) << ',' << cell(r, 4) << ','
                   << frame_index[r.u64(1)] << ',' << r.i64(5) << '\n';
    if (!r.is_null(3) && r.i64(5) == 0) curves[source].push_back({r.f64(2), r.f64(3), r.f64(4)});
  }
  finish();
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
