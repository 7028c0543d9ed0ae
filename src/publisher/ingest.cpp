#include "publisher/ingest.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/process_store.h"
#include "pipeline/fits_io.h"
#include "pipeline/time/astro_time.h"

namespace tianyu::publisher {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return s;
}

std::string trimmed(const std::string& s) {
  const auto a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

bool looks_like_fits(const fs::path& p) {
  const std::string name = lower(p.filename().string());
  for (const char* ext : {".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz", ".fits.fz", ".fz"}) {
    const std::string e = ext;
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) return true;
  }
  return false;
}

std::optional<std::string> card(const std::map<std::string, std::string>& h, const char* key) {
  const auto it = h.find(key);
  if (it == h.end() || trimmed(it->second).empty()) return std::nullopt;
  return trimmed(it->second);
}

// A frame read and understood, not yet written.
struct Frame {
  std::string path;  // relative to the site root
  std::string kind;
  int width = 0, height = 0;
  std::optional<double> exptime_s;
  std::optional<std::string> filter;
  std::optional<pipeline::ExposureStart> start;
  json header;
  std::map<std::string, std::string> cards;
};

Frame read_frame(const fs::path& file, const std::string& relative, const IngestOptions& options) {
  const auto info = pipeline::read_fits_info(file);
  Frame f;
  f.path = relative;
  f.width = info.width;
  f.height = info.height;
  f.cards = info.header;
  f.header = json::object();
  for (const auto& [k, v] : info.header) f.header[k] = v;
  if (options.kind) {
    f.kind = *options.kind;
  } else if (const auto t = card(info.header, "IMAGETYP")) {
    f.kind = kind_from_imagetyp(*t);
    if (f.kind.empty()) throw InputError(fmt::format("IMAGETYP = '{}' names no frame kind (science, bias, dark, flat)", *t));
  } else {
    f.kind = "science";  // no IMAGETYP: what a robotic telescope's light frames often lack
  }
  if (const auto e = card(info.header, "EXPTIME") ? card(info.header, "EXPTIME") : card(info.header, "EXPOSURE")) {
    try {
      f.exptime_s = std::stod(*e);
    } catch (const std::exception&) {
      throw InputError(fmt::format("EXPTIME = '{}' is not a number", *e));
    }
    if (!std::isfinite(*f.exptime_s) || *f.exptime_s < 0) throw InputError(fmt::format("EXPTIME = '{}' is not a duration", *e));
  } else if (f.kind != "bias") {
    throw InputError("missing EXPTIME (needed for " + f.kind + " frames)");
  }
  if (const auto v = card(info.header, "FILTER")) f.filter = *v;
  try {
    f.start = pipeline::exposure_start(info.header);
  } catch (const pipeline::TimeError& e) {
    if (f.kind == "science") throw InputError(e.what());
  }
  return f;
}

}  // namespace

json IngestReport::to_json() const {
  json problems = json::array();
  for (const auto& p : skipped) problems.push_back({{"path", p.path}, {"error", p.error}});
  return {{"observation_id", observation_id}, {"observation", observation}, {"added", added},
          {"already_ingested", already_ingested}, {"skipped", problems}, {"ra_deg", ra_deg},
          {"dec_deg", dec_deg}, {"coordinates_from", coordinates_from}};
}

std::string kind_from_imagetyp(const std::string& imagetyp) {
  const std::string t = lower(imagetyp);
  if (t.find("bias") != std::string::npos || t.find("zero") != std::string::npos) return "bias";
  if (t.find("dark") != std::string::npos) return "dark";
  if (t.find("flat") != std::string::npos) return "flat";
  if (t.find("light") != std::string::npos || t.find("object") != std::string::npos ||
      t.find("science") != std::string::npos) {
    return "science";
  }
  return "";
}

double parse_angle(const std::string& raw, bool hours_if_sexagesimal, const std::string& what) {
  const std::string text = trimmed(raw);
  if (text.find(':') == std::string::npos && text.find(' ') == std::string::npos) {
    try {
      std::size_t used = 0;
      const double v = std::stod(text, &used);
      if (used == text.size() && std::isfinite(v)) return v;
    } catch (const std::exception&) {
    }
    throw InputError(fmt::format("{} = '{}' is not an angle", what, raw));
  }
  double a = 0, b = 0, s = 0;
  std::string t = text;
  std::replace(t.begin(), t.end(), ':', ' ');
  const bool negative = !t.empty() && t[0] == '-';
  if (std::sscanf(t.c_str(), "%lf %lf %lf", &a, &b, &s) < 2) {
    throw InputError(fmt::format("{} = '{}' is not an angle", what, raw));
  }
  const double v = std::abs(a) + b / 60.0 + s / 3600.0;
  return (negative ? -v : v) * (hours_if_sexagesimal ? 15.0 : 1.0);
}

IngestReport ingest(db::Connection& c, const IngestOptions& options) {
  const auto site = c.query("SELECT site_id, root_path FROM site WHERE name = ?", {options.site});
  if (site.empty()) throw InputError(fmt::format("unknown site '{}': add it first (tianyu-publish site add)", options.site));
  const auto site_id = site.front().u64(0);
  const fs::path root = fs::absolute(site.front().str(1)).lexically_normal();
  if (options.kind && kind_from_imagetyp(*options.kind) != *options.kind) {
    throw InputError(fmt::format("--kind '{}' is not one of science, bias, dark, flat", *options.kind));
  }
  if (!fs::is_directory(options.directory)) {
    throw InputError(fmt::format("{}: not a directory", options.directory.string()));
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(options.directory)) {
    if (e.is_regular_file() && looks_like_fits(e.path())) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());

  IngestReport report;
  std::vector<Frame> frames;
  for (const auto& file : files) {
    const fs::path absolute = fs::absolute(file).lexically_normal();
    fs::path relative = absolute.lexically_relative(root);
    const bool inside = !relative.empty() && *relative.begin() != "..";
    try {
      if (!inside && !options.copy) {
        throw InputError(fmt::format("outside the site root {} (pass --copy to copy it in)", root.string()));
      }
      auto frame = read_frame(file, relative.generic_string(), options);
      frames.push_back(std::move(frame));
    } catch (const std::exception& e) {
      spdlog::warn("ingest: skipping {}: {}", file.string(), e.what());
      report.skipped.push_back({file.string(), e.what()});
    }
  }
  std::vector<const Frame*> science;
  for (const auto& f : frames) {
    if (f.kind == "science") science.push_back(&f);
  }
  if (science.empty()) {
    throw InputError(fmt::format("{}: no readable science frames ({} files, {} skipped)",
                                 options.directory.string(), files.size(), report.skipped.size()));
  }
  std::sort(science.begin(), science.end(), [](const Frame* a, const Frame* b) { return a->start->jd_utc < b->start->jd_utc; });

  // The target's coordinates: the option, the registered target, or the pointing.
  std::optional<double> ra = options.ra_deg, dec = options.dec_deg;
  report.coordinates_from = "option";
  if (!ra || !dec) {
    const auto t = c.query("SELECT ra_deg, dec_deg FROM target WHERE name = ?", {options.target});
    if (!t.empty() && !t.front().is_null(0) && !t.front().is_null(1)) {
      ra = t.front().f64(0);
      dec = t.front().f64(1);
      report.coordinates_from = "target";
    }
  }
  if (!ra || !dec) {
    const auto& h = science.front()->cards;
    const auto hra = card(h, "OBJCTRA") ? card(h, "OBJCTRA") : card(h, "RA");
    const auto hdec = card(h, "OBJCTDEC") ? card(h, "OBJCTDEC") : card(h, "DEC");
    if (!hra || !hdec) {
      throw InputError(fmt::format("no coordinates for target '{}': pass --ra and --dec (the first "
                                   "science frame {} has no RA/DEC or OBJCTRA/OBJCTDEC)",
                                   options.target, science.front()->path));
    }
    ra = parse_angle(*hra, true, "RA");
    dec = parse_angle(*hdec, false, "DEC");
    report.coordinates_from = "header RA/DEC of " + science.front()->path + " (the pointing)";
    spdlog::warn("ingest: target '{}' has no coordinates; using the pointing {:.5f} {:+.5f} from the "
                 "headers (BJD error up to ~8 s per degree the target is off the pointing)",
                 options.target, *ra, *dec);
  }
  if (!(*ra >= 0 && *ra < 360 && *dec >= -90 && *dec <= 90)) {
    throw InputError(fmt::format("target coordinates RA {} Dec {} are out of range", *ra, *dec));
  }
  report.ra_deg = *ra;
  report.dec_deg = *dec;
  report.observation = options.observation.empty()
                           ? options.target + "-" + pipeline::iso_from_jd(science.front()->start->jd_utc).substr(0, 10)
                           : options.observation;

  // Copies first (outside the transaction: a file is in place before a row names it).
  for (auto& f : frames) {
    const fs::path source = fs::path(f.path);
    if (!source.is_relative() || (!source.empty() && *source.begin() == "..")) {
      const fs::path target = root / "raw" / report.observation / fs::path(f.path).filename();
      fs::create_directories(target.parent_path());
      const fs::path from = fs::absolute(root / f.path).lexically_normal();
      if (!fs::exists(target)) {
        const fs::path tmp = target.string() + ".part";
        fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
        fs::rename(tmp, target);
      }
      f.path = target.lexically_relative(root).generic_string();
    }
  }

  process::with_transaction(c, [&] {
    report.added.clear();
    report.already_ingested = 0;
    c.execute("INSERT INTO target (name, ra_deg, dec_deg) VALUES (?, ?, ?) "
              "ON DUPLICATE KEY UPDATE ra_deg = COALESCE(ra_deg, VALUES(ra_deg)), "
              "dec_deg = COALESCE(dec_deg, VALUES(dec_deg))",
              {options.target, *ra, *dec});
    const auto target_id = c.query_one("SELECT target_id FROM target WHERE name = ?", {options.target}).u64(0);
    c.execute("INSERT IGNORE INTO observation (site_id, target_id, name) VALUES (?, ?, ?)",
              {site_id, target_id, report.observation});
    const auto obs = c.query_one("SELECT observation_id, target_id FROM observation WHERE site_id = ? AND name = ?",
                                 {site_id, report.observation});
    if (obs.u64(1) != target_id) {
      throw InputError(fmt::format("observation '{}' at site '{}' belongs to another target", report.observation, options.site));
    }
    report.observation_id = obs.u64(0);
    for (const auto& f : frames) {
      db::Param start = nullptr, source = nullptr, jd_mid = nullptr, bjd = nullptr;
      if (f.start) {
        const double mid = f.start->jd_utc + f.exptime_s.value_or(0) / 2 / 86400.0;
        start = pipeline::iso_from_jd(f.start->jd_utc);
        source = f.start->source;
        jd_mid = mid;
        bjd = pipeline::bjd_tdb(mid, *ra, *dec);
      }
      const auto n = c.execute(
          "INSERT IGNORE INTO raw_frame (observation_id, site_id, path, kind, width, height, exptime_s, "
          "filter, start_utc, time_source, jd_utc_mid, bjd_tdb_mid, header) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {report.observation_id, site_id, f.path, f.kind, std::int64_t{f.width}, std::int64_t{f.height},
           f.exptime_s ? db::Param(*f.exptime_s) : db::Param(nullptr),
           f.filter ? db::Param(*f.filter) : db::Param(nullptr), start, source, jd_mid, bjd, f.header.dump()});
      if (n > 0) {
        ++report.added[f.kind];
      } else {
        ++report.already_ingested;
      }
    }
  });
  return report;
}

}  // namespace tianyu::publisher
