#pragma once
// Tycho-2 stars read straight from astrometry.net's index files (Debian's
// astrometry-data-tycho2-* packages put index-tycho2-07 ... -19 in /usr/share/astrometry), with
// CFITSIO: no subprocess, no astrometry.net library.
//
// An index file keeps its stars in a kd-tree: the HDU whose only column is named
// `kdtree_data_stars` holds one row per star, the star's unit vector (x, y, z) as three integers
// (KDT_DATA = u32 or u16, mapped onto [min, max] of `kdtree_range_stars`) or three doubles, in the
// byte order of the ENDIAN card; the tag-along table (AN_FILE = 'TAGALONG') holds MAG_VT in the
// same row order. The files carry no Tycho-2 designation, so a star's id is derived from its
// position (see tycho2_stars_around).
#include <filesystem>
#include <string>
#include <vector>

#include "pipeline/catalogues/catalogue_star.h"
#include "pipeline/file_error.h"

namespace tianyu::pipeline::catalogues {

// An index file that is missing, unreadable or not laid out as above, naming the file. A missing
// or malformed file is not retryable (install or reinstall the package); an I/O error is.
class CatalogueError : public FileError {
 public:
  using FileError::FileError;
};

// The stars of one astrometry.net star kd-tree file within `radius_deg` of (ra_deg, dec_deg), in
// the file's row order, with ids "<file stem>:<row>" (0-based row of the kd-tree data: the
// "index" query-starkd -I prints). RA in [0, 360).
CatalogueStars index_stars_around(const std::filesystem::path& index_file, double ra_deg,
                                  double dec_deg, double radius_deg);

// The installed Tycho-2 index files (index-tycho2-*.fits) of `index_dir`, finest scale first.
// CatalogueError when there are none.
std::vector<std::filesystem::path> tycho2_index_files(const std::string& index_dir);

// Every Tycho-2 star within `radius_deg` of (ra_deg, dec_deg) that any installed index file
// holds. The index files are all-sky subsets of Tycho-2 thinned for quads of their scale (07:
// 1.9 M stars ... 19: 1080); every scale is read, because together they hold the most stars
// and the answer then does not depend on the radius asked for. A star several files share is
// kept once (copies within 1", the index files' own de-duplication radius), from the finest
// file. Sorted by magnitude (brightest first), ties by id. Ids are
// "TYC2 Jhhmmss.ss+ddmmss.s" (the position rounded to 0.01 s and 0.1"), unique and the same for
// any radius and any call with the same installed files.
CatalogueStars tycho2_stars_around(double ra_deg, double dec_deg, double radius_deg,
                                   const std::string& index_dir = "/usr/share/astrometry");

// "TYC2 Jhhmmss.ss+ddmmss.s" for a position.
std::string tycho2_designation(double ra_deg, double dec_deg);

}  // namespace tianyu::pipeline::catalogues
