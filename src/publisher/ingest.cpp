#include "publisher/ingest.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/process_store.h"
#include "common/site_store.h"
#include "pipeline/fits_io.h"
#include "pipeline/time/astro_time.h"

namespace tianyu::publisher {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Cards = std::map<std::string, std::string>;

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

// A text card's value; a blank one counts as missing (a text card cannot be malformed).
std::optional<std::string> text_card(const Cards& h, const char* key) {
  const auto it = h.find(key);
  if (it == h.end() || trimmed(it->second).empty()) return std::nullopt;
  return trimmed(it->second);
}

// The first of `keys` present in the header, blank or not: present-but-blank is malformed.
struct Card {
  std::string key, value;
};
std::optional<Card> first_card(const Cards& h, const char* key, const char* alias = nullptr) {
  for (const char* k : {key, alias}) {
    if (k == nullptr) continue;
    if (const auto it = h.find(k); it != h.end()) return Card{k, trimmed(it->second)};
  }
  return std::nullopt;
}

// A card that refuses its frame unless the observation's override supplies `field`.
struct CardProblem {
  std::string card, why;
  std::string field;     // the override field that would stand in; empty: none can
  bool missing = false;  // absent rather than malformed: no warning when overridden
};

// A frame read and understood, not yet written.
struct Frame {
  fs::path source;  // absolute, as found
  std::string path;  // relative to the site root, once known to be inside it (or copied in)
  std::string kind;
  int width = 0, height = 0;
  std::optional<double> exptime_s, gain, read_noise, saturation, ra, dec, airmass;
  std::optional<std::string> filter;
  std::optional<pipeline::ExposureStart> start;
  json header;
  Cards cards;
  std::vector<CardProblem> problems;
};

// The numeric calibration cards and what each must be.
struct NumberCard {
  const char* key;
  const char* alias;  // or nullptr
  std::optional<double> Frame::*member;
  const char* field;  // override field, or "" when none
  const char* what;   // "a number of e-/ADU > 0"
  bool zero_allowed;
};

const NumberCard kNumberCards[] = {
    {"EXPTIME", "EXPOSURE", &Frame::exptime_s, "exptime_s", "an exposure time >= 0 s", true},
    {"GAIN", "EGAIN", &Frame::gain, "gain_e_per_adu", "a gain > 0 e-/ADU", false},
    {"RDNOISE", "READNOIS", &Frame::read_noise, "read_noise_e", "a read noise >= 0 e-", true},
    {"SATURATE", nullptr, &Frame::saturation, "saturation_adu", "a saturation level > 0 ADU", false},
    {"AIRMASS", nullptr, &Frame::airmass, "", "an airmass > 0", false},
};

void read_number_cards(Frame& f) {
  for (const auto& spec : kNumberCards) {
    const auto card = first_card(f.cards, spec.key, spec.alias);
    if (!card) continue;
    const auto v = parse_fits_number(card->value);
    if (!v || *v < 0 || (*v == 0 && !spec.zero_allowed)) {
      f.problems.push_back({card->key, fmt::format("card {} = '{}' is not {}", card->key, card->value, spec.what), spec.field});
    } else {
      f.*spec.member = *v;
    }
  }
}

// The pointing: RA in [0, 360) (hours when sexagesimal), Dec in [-90, 90].
void read_pointing(Frame& f) {
  for (const bool is_ra : {true, false}) {
    const auto card = is_ra ? first_card(f.cards, "RA", "OBJCTRA") : first_card(f.cards, "DEC", "OBJCTDEC");
    if (!card) continue;
    try {
      const double v = parse_angle(card->value, is_ra, "card " + card->key);
      if (is_ra ? !(v >= 0 && v < 360) : !(v >= -90 && v <= 90)) throw InputError(fmt::format("card {} = '{}' is out of range", card->key, card->value));
      (is_ra ? f.ra : f.dec) = v;
    } catch (const InputError& e) {
      f.problems.push_back({card->key, e.what(), ""});
    }
  }
}

std::string frame_kind(const Cards& cards, const IngestOptions& options) {
  if (options.kind) return *options.kind;
  if (const auto t = text_card(cards, "IMAGETYP")) {
    const auto kind = kind_from_imagetyp(*t);
    if (kind.empty()) throw InputError(fmt::format("card IMAGETYP = '{}' names no frame kind (science, bias, dark, flat)", *t));
    return kind;
  }
  return "science";  // no IMAGETYP: what a robotic telescope's light frames often lack
}

// Reads the header once. Throws for what no override can mend (unreadable file, unknown kind,
// no start time of a science frame); collects the card problems the policy judges later.
Frame read_frame(const fs::path& file, const IngestOptions& options) {
  const auto info = pipeline::read_fits_info(file);
  Frame f;
  f.source = file;
  f.width = info.width;
  f.height = info.height;
  f.cards = info.header;
  f.header = json::object();
  for (const auto& [k, v] : info.header) f.header[k] = v;
  f.kind = frame_kind(f.cards, options);
  read_number_cards(f);
  if (!f.exptime_s && f.kind != "bias" && !first_card(f.cards, "EXPTIME", "EXPOSURE")) {
    f.problems.push_back({"EXPTIME", "missing EXPTIME (needed for " + f.kind + " frames)", "exptime_s", true});
  }
  f.filter = text_card(f.cards, "FILTER");
  read_pointing(f);
  try {
    f.start = pipeline::exposure_start(info.header);
  } catch (const pipeline::TimeError& e) {
    if (f.kind == "science") throw InputError(e.what());
  }
  return f;
}

// The policy: a problem the override covers becomes a warning, any other refuses the frame
// (the returned error names the card).
std::optional<std::string> judge(const Frame& f, const CalibrationOverride& o, std::vector<std::string>& warnings) {
  for (const auto& p : f.problems) {
    if (p.field.empty() || !o.to_json().contains(p.field)) {
      return p.field.empty() ? p.why
                             : fmt::format("{} (fix the card, or give the observation's {} with --calibration)", p.why, p.field);
    }
  }
  for (const auto& p : f.problems) {
    if (p.missing) continue;  // the override simply stands in
    warnings.push_back(fmt::format("{}: ignoring card {} ({}): the observation's {} = {} is used", f.source.string(),
                                   p.card, p.why, p.field, o.to_json().at(p.field).dump()));
    spdlog::warn("ingest: {}", warnings.back());
  }
  return std::nullopt;
}

std::vector<fs::path> fits_files(const fs::path& directory) {
  if (!fs::is_directory(directory)) throw InputError(fmt::format("{}: not a directory", directory.string()));
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(directory)) {
    if (e.is_regular_file() && looks_like_fits(e.path())) files.push_back(fs::absolute(e.path()).lexically_normal());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Reads every file; a file that cannot be read (or lies outside the root without --copy) is
// skipped and reported.
std::vector<Frame> read_frames(const std::vector<fs::path>& files, const store::SiteStore& store,
                               const IngestOptions& options, IngestReport& report) {
  std::vector<Frame> frames;
  for (const auto& file : files) {
    try {
      const bool inside = store.contains(file);
      if (!inside && !options.copy) {
        throw InputError(fmt::format("outside the site root {} (pass --copy to copy it in)", store.root().string()));
      }
      auto frame = read_frame(file, options);
      if (inside) frame.path = store.relative(file);
      frames.push_back(std::move(frame));
    } catch (const std::exception& e) {
      spdlog::warn("ingest: skipping {}: {}", file.string(), e.what());
      report.skipped.push_back({file.string(), e.what()});
    }
  }
  return frames;
}

// Keeps the frames the policy accepts; the others are reported as skipped.
std::vector<Frame> apply_policy(std::vector<Frame> frames, const CalibrationOverride& o, IngestReport& report) {
  std::vector<Frame> kept;
  for (auto& f : frames) {
    const auto refusal = judge(f, o, report.warnings);
    if (!refusal) kept.push_back(std::move(f));
    if (refusal) spdlog::warn("ingest: skipping {}: {}", f.source.string(), *refusal);
    if (refusal) report.skipped.push_back({f.source.string(), *refusal});
  }
  return kept;
}

std::vector<const Frame*> science_by_time(const std::vector<Frame>& frames) {
  std::vector<const Frame*> science;
  for (const auto& f : frames) {
    if (f.kind == "science") science.push_back(&f);
  }
  std::sort(science.begin(), science.end(), [](const Frame* a, const Frame* b) { return a->start->jd_utc < b->start->jd_utc; });
  return science;
}

// The target's coordinates: the option, the registered target, or the pointing.
void target_coordinates(db::Connection& c, const IngestOptions& options, const Frame& first, IngestReport& report) {
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
    const auto& h = first.cards;
    const auto hra = text_card(h, "OBJCTRA") ? text_card(h, "OBJCTRA") : text_card(h, "RA");
    const auto hdec = text_card(h, "OBJCTDEC") ? text_card(h, "OBJCTDEC") : text_card(h, "DEC");
    if (!hra || !hdec) {
      throw InputError(fmt::format("no coordinates for target '{}': pass --ra and --dec (the first "
                                   "science frame {} has no RA/DEC or OBJCTRA/OBJCTDEC)",
                                   options.target, first.source.string()));
    }
    ra = parse_angle(*hra, true, "RA");
    dec = parse_angle(*hdec, false, "DEC");
    report.coordinates_from = "header RA/DEC of " + (first.path.empty() ? first.source.string() : first.path) + " (the pointing)";
    spdlog::warn("ingest: target '{}' has no coordinates; using the pointing {:.5f} {:+.5f} from the "
                 "headers (BJD error up to ~8 s per degree the target is off the pointing)",
                 options.target, *ra, *dec);
  }
  if (!(*ra >= 0 && *ra < 360 && *dec >= -90 && *dec <= 90)) {
    throw InputError(fmt::format("target coordinates RA {} Dec {} are out of range", *ra, *dec));
  }
  report.ra_deg = *ra;
  report.dec_deg = *dec;
}

// Copies the frames from outside the root into raw/<observation>/ (before the transaction: a
// file is in place before a row names it). The observation name becomes a directory, so it
// must be a plain name; the destination is checked to stay inside the root after symlinks.
void copy_in(std::vector<Frame>& frames, const store::SiteStore& store, const std::string& observation) {
  bool any = false;
  for (const auto& f : frames) any = any || f.path.empty();
  if (!any) return;
  if (!is_safe_path_name(observation)) {
    throw InputError(fmt::format("observation name '{}' cannot name the directory --copy writes (raw/<observation>/): "
                                 "use [A-Za-z0-9._-], not starting with '.' (pass --observation NAME)", observation));
  }
  const fs::path directory = store.root() / store::SiteStore::kRawArea / observation;
  fs::create_directories(directory);
  if (!store.contains(directory) || fs::is_symlink(directory)) {
    throw store::PathError(fmt::format("copy destination {} leaves the site root {}", directory.string(), store.root().string()));
  }
  for (auto& f : frames) {
    if (!f.path.empty()) continue;
    const fs::path target = directory / f.source.filename();
    if (fs::is_symlink(target)) throw store::PathError(fmt::format("copy destination {} is a symlink", target.string()));
    if (!fs::exists(target)) {
      const fs::path tmp = target.string() + ".part";
      fs::copy_file(f.source, tmp, fs::copy_options::overwrite_existing);
      fs::rename(tmp, target);
    }
    f.path = store.relative(target);
  }
}

db::Param opt(const std::optional<double>& v) { return v ? db::Param(*v) : db::Param(nullptr); }
db::Param opt(const std::optional<std::string>& v) { return v ? db::Param(*v) : db::Param(nullptr); }

// Inserts a frame's row; true when added, false when its path was already ingested (then its
// typed columns still NULL are filled, so frames ingested before migration 0005 gain them).
bool insert_frame(db::Connection& c, const Frame& f, std::uint64_t observation_id, std::uint64_t site_id,
                  const CalibrationOverride& o, double ra, double dec) {
  db::Param start = nullptr, source = nullptr, jd_mid = nullptr, bjd = nullptr;
  if (f.start) {
    const double exptime = o.exptime_s ? *o.exptime_s : f.exptime_s.value_or(0);
    const double mid = f.start->jd_utc + exptime / 2 / 86400.0;
    start = pipeline::iso_from_jd(f.start->jd_utc);
    source = f.start->source;
    jd_mid = mid;
    bjd = pipeline::bjd_tdb(mid, ra, dec);
  }
  const auto n = c.execute(
      "INSERT IGNORE INTO raw_frame (observation_id, site_id, path, kind, width, height, exptime_s, filter, "
      "gain_e_per_adu, read_noise_e, saturation_adu, pointing_ra_deg, pointing_dec_deg, airmass, "
      "start_utc, time_source, jd_utc_mid, bjd_tdb_mid, header) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {observation_id, site_id, f.path, f.kind, std::int64_t{f.width}, std::int64_t{f.height}, opt(f.exptime_s),
       opt(f.filter), opt(f.gain), opt(f.read_noise), opt(f.saturation), opt(f.ra), opt(f.dec), opt(f.airmass),
       start, source, jd_mid, bjd, f.header.dump()});
  if (n > 0) return true;
  c.execute("UPDATE raw_frame SET gain_e_per_adu = COALESCE(gain_e_per_adu, ?), read_noise_e = COALESCE(read_noise_e, ?), "
            "saturation_adu = COALESCE(saturation_adu, ?), pointing_ra_deg = COALESCE(pointing_ra_deg, ?), "
            "pointing_dec_deg = COALESCE(pointing_dec_deg, ?), airmass = COALESCE(airmass, ?) "
            "WHERE site_id = ? AND path = ?",
            {opt(f.gain), opt(f.read_noise), opt(f.saturation), opt(f.ra), opt(f.dec), opt(f.airmass), site_id, f.path});
  return false;
}

void write_override(db::Connection& c, std::uint64_t observation_id, const CalibrationOverride& o) {
  c.execute("UPDATE observation SET exptime_s = ?, gain_e_per_adu = ?, read_noise_e = ?, saturation_adu = ?, "
            "filter = ? WHERE observation_id = ?",
            {opt(o.exptime_s), opt(o.gain_e_per_adu), opt(o.read_noise_e), opt(o.saturation_adu), opt(o.filter),
             observation_id});
}

// The observation's id (created if new), refusing one that belongs to another target.
std::uint64_t ensure_observation(db::Connection& c, std::uint64_t site_id, const IngestOptions& options,
                                 const IngestReport& report) {
  c.execute("INSERT INTO target (name, ra_deg, dec_deg) VALUES (?, ?, ?) "
            "ON DUPLICATE KEY UPDATE ra_deg = COALESCE(ra_deg, VALUES(ra_deg)), "
            "dec_deg = COALESCE(dec_deg, VALUES(dec_deg))",
            {options.target, report.ra_deg, report.dec_deg});
  const auto target_id = c.query_one("SELECT target_id FROM target WHERE name = ?", {options.target}).u64(0);
  c.execute("INSERT IGNORE INTO observation (site_id, target_id, name) VALUES (?, ?, ?)",
            {site_id, target_id, report.observation});
  const auto obs = c.query_one("SELECT observation_id, target_id FROM observation WHERE site_id = ? AND name = ?",
                               {site_id, report.observation});
  if (obs.u64(1) != target_id) {
    throw InputError(fmt::format("observation '{}' at site '{}' belongs to another target", report.observation, options.site));
  }
  return obs.u64(0);
}

// The override this ingest applies: the option, else the one stored on the observation.
CalibrationOverride override_in_force(db::Connection& c, std::uint64_t site_id, const IngestOptions& options,
                                      const std::string& observation) {
  if (options.calibration) return *options.calibration;
  const auto row = c.query("SELECT observation_id FROM observation WHERE site_id = ? AND name = ?", {site_id, observation});
  return row.empty() ? CalibrationOverride{} : calibration_override_of(c, row.front().u64(0));
}

void write_rows(db::Connection& c, std::uint64_t site_id, const IngestOptions& options,
                const std::vector<Frame>& frames, IngestReport& report) {
  process::with_transaction(c, [&] {
    report.added.clear();
    report.already_ingested = 0;
    report.calibration_change.clear();
    report.observation_id = ensure_observation(c, site_id, options, report);
    if (options.calibration) {
      const OverrideChange change{calibration_override_of(c, report.observation_id), *options.calibration};
      write_override(c, report.observation_id, change.after);
      if (change.changed()) report.calibration_change = change.describe();
    }
    for (const auto& f : frames) {
      if (insert_frame(c, f, report.observation_id, site_id, report.calibration, report.ra_deg, report.dec_deg)) {
        ++report.added[f.kind];
      } else {
        ++report.already_ingested;
      }
    }
  });
  if (!report.calibration_change.empty()) spdlog::info("ingest: observation '{}': {}", report.observation, report.calibration_change);
}

}  // namespace

json IngestReport::to_json() const {
  json problems = json::array();
  for (const auto& p : skipped) problems.push_back({{"path", p.path}, {"error", p.error}});
  return {{"observation_id", observation_id}, {"observation", observation}, {"added", added},
          {"already_ingested", already_ingested}, {"skipped", problems}, {"warnings", warnings},
          {"ra_deg", ra_deg}, {"dec_deg", dec_deg}, {"coordinates_from", coordinates_from},
          {"calibration_override", calibration.to_json()}, {"calibration_change", calibration_change}};
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
    if (const auto v = parse_fits_number(text)) return *v;
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
  const store::SiteStore store(site.front().str(1));
  if (options.kind && kind_from_imagetyp(*options.kind) != *options.kind) {
    throw InputError(fmt::format("--kind '{}' is not one of science, bias, dark, flat", *options.kind));
  }
  if (!options.observation.empty() && options.copy && !is_safe_path_name(options.observation)) {
    throw InputError(fmt::format("--observation '{}' cannot name the directory --copy writes: use [A-Za-z0-9._-], "
                                 "not starting with '.'", options.observation));
  }
  const auto files = fits_files(options.directory);
  IngestReport report;
  auto frames = read_frames(files, store, options, report);
  // The name and the override are known before the policy runs: the default name comes from
  // the first science frame that has a start time, whatever its other cards say.
  const auto candidates = science_by_time(frames);
  if (candidates.empty()) {
    throw InputError(fmt::format("{}: no readable science frames ({} files, {} skipped)",
                                 options.directory.string(), files.size(), report.skipped.size()));
  }
  report.observation = options.observation.empty()
                           ? options.target + "-" + pipeline::iso_from_jd(candidates.front()->start->jd_utc).substr(0, 10)
                           : options.observation;
  report.calibration = override_in_force(c, site_id, options, report.observation);
  frames = apply_policy(std::move(frames), report.calibration, report);
  const auto science = science_by_time(frames);
  if (science.empty()) {
    throw InputError(fmt::format("{}: no acceptable science frames ({} files, {} skipped)",
                                 options.directory.string(), files.size(), report.skipped.size()));
  }
  target_coordinates(c, options, *science.front(), report);
  copy_in(frames, store, report.observation);
  write_rows(c, site_id, options, frames, report);
  return report;
}

// ---- the observation's override

CalibrationOverride calibration_override_of(db::Connection& c, std::uint64_t observation_id) {
  const auto rows = c.query("SELECT exptime_s, gain_e_per_adu, read_noise_e, saturation_adu, filter FROM observation "
                            "WHERE observation_id = ?", {observation_id});
  if (rows.empty()) throw InputError(fmt::format("observation {} does not exist", observation_id));
  const auto& r = rows.front();
  CalibrationOverride o;
  for (std::size_t i = 0; i < 4; ++i) {  // the SELECT's order is kNumbers'
    if (!r.is_null(i)) o.*(override_detail::kNumbers[i].member) = r.f64(i);
  }
  o.filter = r.opt_str(4);
  return o;
}

OverrideChange set_calibration_override(db::Connection& c, std::uint64_t observation_id, const json& override_json,
                                        bool ignore_other_keys) {
  json fields = override_json;
  if (ignore_other_keys && fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end();) it = is_override_field(it.key()) ? std::next(it) : fields.erase(it);
  }
  OverrideChange change;
  change.after = CalibrationOverride::from_json(fields);
  process::with_transaction(c, [&] {
    change.before = calibration_override_of(c, observation_id);
    write_override(c, observation_id, change.after);
  });
  return change;
}

}  // namespace tianyu::publisher
