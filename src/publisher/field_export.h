#pragma once
// Export by field source or by cone: light curves across every night of a field, as CSV and as
// TESS-style FITS tables (pipeline/lightcurve/fits_light_curve.h), and the field sources found.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/db.h"

namespace tianyu::publisher {

struct Cone {
  double ra_deg = 0, dec_deg = 0, radius_arcsec = 0;
};

// OUT/template.fits: the observation's template (the root of its stacking tree, or a single
// frame's calibration) with its astrometric solution's cards (TAN-SIP), so any FITS viewer shows
// RA/Dec. Empty (nothing written) when the observation is unsolved or has no template.
std::optional<std::filesystem::path> export_template_with_wcs(db::Connection& c, std::uint64_t observation_id,
                                                             const std::filesystem::path& out);

// "RA,DEC,RADIUS" (degrees, degrees, arcsec) -> Cone; InputError naming what is wrong.
Cone parse_cone(const std::string& text);

struct FieldSourceHit {
  std::uint32_t field_id = 0, field_source_id = 0;
  std::string field;
  double ra_deg = 0, dec_deg = 0, distance_arcsec = 0;
  int nights_seen = 0;
  std::optional<double> mean_instrumental_mag;
};

// The field sources within the cone (of one field when field_id > 0), nearest first. The SQL is
// the one documented in README "Light curves in SQL": a declination band the index narrows,
// then the haversine distance.
std::vector<FieldSourceHit> cone_search(db::Connection& c, const Cone& cone, std::uint32_t field_id = 0);

struct FieldExportOptions {
  std::string field;                        // name or id; empty with a cone: every field
  std::vector<std::uint32_t> field_sources;  // these field sources, or
  std::optional<Cone> cone;                  // those within the cone
  std::filesystem::path out;
};

struct FieldExportReport {
  std::vector<FieldSourceHit> sources;
  std::size_t points = 0;
};

// Writes OUT/field_sources.csv and, per field source, OUT/lightcurves/field<F>_source<S>.csv
// (bjd_tdb, rel_flux, rel_flux_err, flux — rel_flux over its night's median —, flags,
// observation_id, frame_id) and .fits (FLUX = the same night-normalised flux). InputError when
// the field or a field source does not exist.
FieldExportReport export_field(db::Connection& c, const FieldExportOptions& options);

}  // namespace tianyu::publisher
