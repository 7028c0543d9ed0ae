#pragma once
// Ingest: registers a directory of raw frames as an observation of a target at a site. Files
// stay where they are under the site root (or are copied in); their paths are stored relative
// to it, their headers parsed (kind, exposure, filter, start time) and their mid-exposure
// BJD_TDB computed for the target. Re-ingesting the same files is a no-op; a file that cannot
// be read is reported and skipped, the rest still ingested.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/db.h"

namespace tianyu::publisher {

struct IngestOptions {
  std::string site;
  std::filesystem::path directory;  // searched recursively
  std::string target;
  std::optional<double> ra_deg, dec_deg;  // the target's; else the target's row, else RA/DEC headers
  std::string observation;          // default "<target>-<UTC date of the first science frame>"
  bool copy = false;                // copy files from outside the site root into <root>/raw/<observation>/
  std::optional<std::string> kind;  // every frame is this kind (science, bias, dark, flat)
};

struct IngestProblem {
  std::string path;
  std::string error;
};

struct IngestReport {
  std::uint64_t observation_id = 0;
  std::string observation;
  std::map<std::string, int> added;  // per kind
  int already_ingested = 0;
  std::vector<IngestProblem> skipped;
  double ra_deg = 0, dec_deg = 0;
  std::string coordinates_from;  // "option", "target", or the header keywords
  nlohmann::json to_json() const;
};

// The frame kind an IMAGETYP value names ("Light Frame", "BIAS", "zero", "Flat Field", ...);
// empty when it names none of them.
std::string kind_from_imagetyp(const std::string& imagetyp);

// Degrees from a header RA ("31.3121" degrees or "02:05:14.9" hours) or Dec ("+46:46:15").
double parse_angle(const std::string& text, bool hours_if_sexagesimal, const std::string& what);

IngestReport ingest(db::Connection& c, const IngestOptions& options);

}  // namespace tianyu::publisher
