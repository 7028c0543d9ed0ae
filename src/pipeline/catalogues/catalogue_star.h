#pragma once
// A star of an external catalogue (Tycho-2 from the astrometry.net index files, or an
// operator's extract such as Gaia), the one shape every catalogue reader returns.
#include <string>
#include <vector>

namespace tianyu::pipeline::catalogues {

struct CatalogueStar {
  std::string id;     // the catalogue's own designation, or "<catalogue>:<row>" when it has none
  double ra_deg = 0;  // ICRS, epoch of the catalogue
  double dec_deg = 0;
  double mag = 0;     // the catalogue's magnitude (Tycho-2: the index files' MAG column)
};

using CatalogueStars = std::vector<CatalogueStar>;

}  // namespace tianyu::pipeline::catalogues
