#pragma once
// An operator's catalogue extract (e.g. Gaia DR3 around a field, from the archive or astroquery)
// as CSV or as a FITS binary table, read into CatalogueStars for nearest_catalogue_stars().
//
// Columns are found by name, case-insensitively, unless named in the options:
//   RA   ra, ra_deg, raj2000, _raj2000, ra_icrs          (degrees, ICRS)
//   Dec  dec, dec_deg, dej2000, _dej2000, decj2000, de_icrs, dec_icrs
//   mag  mag, phot_g_mean_mag, gmag, vtmag, vmag, btmag, rmag, hpmag
//   id   source_id, id, designation, name, tyc           (optional: "<catalogue>:<row>")
// CSV: the first line that is not empty and not a '#' comment is the header; cells may be
// double-quoted. Every row must carry a finite RA in [0, 360], a Dec in [-90, 90] and a finite
// magnitude: a missing, non-numeric or NaN value is refused, naming the file, the line (CSV) or
// row (FITS) and the column. Bad content is a FileError (FitsError for FITS) that a retry cannot
// help; failing to read the file is retryable when errno says the disk or system was short.
#include <filesystem>
#include <string>
#include <vector>

#include "pipeline/catalogues/catalogue_star.h"

namespace tianyu::pipeline::sky {

struct CatalogueExtractOptions {
  std::string ra_column, dec_column, mag_column, id_column;  // empty: found by the names above
  std::string catalogue;  // for ids without an id column; empty: the file's stem
};

// By extension: .fits, .fit, .fts, .fits.gz as a FITS binary table (the first table HDU),
// anything else as CSV.
catalogues::CatalogueStars read_catalogue_extract(const std::filesystem::path& path,
                                                  const CatalogueExtractOptions& options = {});

namespace detail {
catalogues::CatalogueStars read_catalogue_csv(const std::filesystem::path& path, const CatalogueExtractOptions& options);
catalogues::CatalogueStars read_catalogue_fits(const std::filesystem::path& path, const CatalogueExtractOptions& options);
// The shared rule for the column names above: the index of the first name in `names` that
// matches `wanted` (or one of the default aliases of `role` when wanted is empty), else -1.
int find_column(const std::vector<std::string>& names, const std::string& wanted, const std::string& role);
// Checks one star's values; returns an empty string when good, else what is wrong.
std::string star_problem(const catalogues::CatalogueStar& star);
}  // namespace detail

}  // namespace tianyu::pipeline::sky
