#pragma once
// The ingest options the ingest tests build: one directory of frames as one observation of a
// target at a known position, for a site.
#include <filesystem>
#include <string>

#include "publisher/ingest.h"

namespace tianyu::test {

struct IngestTarget {
  std::string name;
  double ra_deg;
  double dec_deg;
};

inline publisher::IngestOptions ingest_options(const std::string& site, const std::filesystem::path& dir,
                                               const std::string& observation,
                                               const IngestTarget& target = {"FIELD", 108.0, 46.0}) {
  publisher::IngestOptions o;
  o.site = site;
  o.directory = dir;
  o.target = target.name;
  o.ra_deg = target.ra_deg;
  o.dec_deg = target.dec_deg;
  o.observation = observation;
  return o;
}

}  // namespace tianyu::test
