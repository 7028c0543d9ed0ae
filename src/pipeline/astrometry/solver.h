#pragma once
// What the pipeline needs to hand a source list to astrometry.net's `solve-field` and to judge
// what comes back. solve-field itself runs as a subprocess (the consumer's solve_field step,
// through the platform runner with a time limit): it is never linked (its library API is
// undocumented and carries GPL parts). Everything here is pure file and number work.
//
//   1. write_xylist: our SEP sources as the xylist solve-field reads (X, Y 1-based, FLUX),
//      brightest first, the image size in IMAGEW/IMAGEH.
//   2. solve_field_arguments: the command line (an argv, never a shell string), hinted by the
//      pointing and a pixel-scale range, bounded by a CPU-time limit.
//   3. read_correspondences + check_solution: the field/index star pairs solve-field writes to
//      its .corr file, measured through OUR reading of its WCS (so the check covers both).
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/astrometry/wcs.h"

namespace tianyu::pipeline::astrometry {

// A detected star: 0-based pixel position and a flux that orders stars by brightness.
struct FieldStar {
  double x = 0, y = 0, flux = 0;
};

// Writes the xylist FITS (a primary HDU and one BINTABLE of X, Y, FLUX as doubles, 1-based
// pixels, sorted by FLUX descending, at most `max_stars`). FitsError naming the file.
void write_xylist(const std::filesystem::path& path, std::vector<FieldStar> stars, int width, int height,
                  std::size_t max_stars = 1000);

struct SolveFieldRequest {
  std::filesystem::path xylist;
  std::filesystem::path out_dir;  // every output file goes here (an attempt-private directory)
  std::string base = "field";     // outputs <out_dir>/<base>.wcs, .corr, .solved
  int width = 0, height = 0;
  double scale_low_arcsec = 0.1, scale_high_arcsec = 30;  // pixel-scale range
  std::optional<double> ra_deg, dec_deg;  // the pointing, when known
  double radius_deg = 5;                  // around the pointing
  int cpu_limit_s = 20;
  int tweak_order = 2;  // SIP order
  std::string executable = "solve-field";
};

// The argv (argv[0] = request.executable). InputError-free: the request is checked by the step.
std::vector<std::string> solve_field_arguments(const SolveFieldRequest& request);
std::filesystem::path wcs_output(const SolveFieldRequest& request);
std::filesystem::path correspondence_output(const SolveFieldRequest& request);

// One pair of solve-field's .corr file: a field star (0-based pixels) and the index
// (catalogue) star it was matched to.
struct Correspondence {
  double field_x = 0, field_y = 0;
  SkyPosition catalogue;
};
std::vector<Correspondence> read_correspondences(const std::filesystem::path& path);

struct SolutionCheck {
  int catalogue_stars = 0;   // pairs measured
  double rms_arcsec = 0;     // rms of (field star through the WCS) - (catalogue star)
  double median_arcsec = 0;  // robust to the odd wrong pair (a blend, a high proper motion star)
  double max_arcsec = 0;
};
SolutionCheck check_solution(const TanSipWcs& wcs, const std::vector<Correspondence>& pairs);

}  // namespace tianyu::pipeline::astrometry
