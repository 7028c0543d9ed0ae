#pragma once
// A TAN-SIP world coordinate system (Calabretta & Greisen 2002; Shupe et al. 2005, the SIP
// convention astrometry.net writes): pixel -> intermediate pixel (+ the SIP polynomial A/B) ->
// CD matrix -> gnomonic (TAN) projection about CRVAL. The inverse polynomial AP/BP, when
// present, gives sky -> pixel its first guess; a few fixed-point steps through A/B then make
// sky -> pixel the exact inverse of pixel -> sky.
//
// Pixels: the API is 0-based like every other position in the pipeline (a pixel's centre at
// integers, the first pixel at (0, 0)); the FITS cards keep FITS's 1-based CRPIX (the first
// pixel's centre at (1, 1)). The conversion happens only inside this file.
#include <array>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/failure.h"
#include "pipeline/fits_io.h"
#include "pipeline/geometry.h"

namespace tianyu::pipeline::astrometry {

// A header without a usable TAN(-SIP) solution (a missing card, a singular CD matrix, another
// projection): bad input, never retryable. The message names the card.
class WcsError : public Failure {
 public:
  using Failure::Failure;
};

// A SIP polynomial: coefficient [p][q] multiplies u^p v^q, p + q <= order (0 = no distortion).
struct SipPolynomial {
  int order = 0;
  std::vector<std::vector<double>> coefficient;  // (order + 1) x (order + 1)
  double operator()(double u, double v) const;
  bool empty() const { return order == 0; }
};

struct SkyPosition {
  double ra_deg = 0, dec_deg = 0;
};

struct TanSipWcs {
  std::array<double, 2> crpix{0, 0};   // FITS 1-based reference pixel
  std::array<double, 2> crval{0, 0};   // RA, Dec of the reference point (degrees)
  std::array<std::array<double, 2>, 2> cd{{{1, 0}, {0, 1}}};  // degrees per pixel
  SipPolynomial a, b, ap, bp;          // forward (A, B) and inverse (AP, BP) distortion
  int image_width = 0, image_height = 0;  // IMAGEW/IMAGEH (or NAXISn), 0 when unknown

  // 0-based pixel -> sky.
  SkyPosition pixel_to_sky(double x, double y) const;
  // Sky -> 0-based pixel; empty when the position is on the far hemisphere of the projection.
  std::optional<std::pair<double, double>> sky_to_pixel(double ra_deg, double dec_deg) const;
};

// Parses the cards of a header: CTYPE1/2 must be RA---TAN(-SIP)/DEC--TAN(-SIP); CRPIX, CRVAL,
// and CD (or CDELT with PC or CROTA2) are required; A/B/AP/BP to their orders when -SIP.
// WcsError naming the card otherwise.
TanSipWcs wcs_from_header(const std::map<std::string, std::string>& cards);
// The cards of a header as text: 80-character records, one after another or one per line
// (both are accepted; the solver's .wcs file is the former, a hand-written file the latter).
std::map<std::string, std::string> parse_header_cards(const std::string& text);
// The primary header of a FITS file (the solver's .wcs file, or an operator's FITS header
// file), through CFITSIO; FitsError naming the file when it cannot be read.
std::string read_fits_header_text(const std::filesystem::path& path);
// The header of `path`: a FITS file's primary header, else a text file of cards.
TanSipWcs read_wcs_file(const std::filesystem::path& path);

// The WCS as FITS cards (for write_fits): CTYPE, CRPIX, CRVAL, CD, the SIP orders and
// coefficients, IMAGEW/IMAGEH when known.
Header wcs_cards(const TanSipWcs& wcs);
// The same cards as text: 80-character records joined by newlines (the observation_wcs
// column; astropy reads it with Header.fromstring(text, sep='\n')).
std::string wcs_header_text(const TanSipWcs& wcs);

// The WCS of a frame whose pixels relate to the template's (reference grid) by `transform`:
// a star at template pixel p is at frame pixel A p + d. Exact for any affine transform: CRPIX
// moves with the transform, CD becomes CD A^-1, and the SIP polynomials are re-expanded in the
// frame's pixel offsets (f'(u') = A f(A^-1 u'), of the same order). What is approximate is
// only the transform itself (the alignment fit's residuals, align_rms_px).
TanSipWcs frame_wcs(const TanSipWcs& template_wcs, const FrameTransform& transform);

// What an astronomer reads first.
struct WcsSummary {
  SkyPosition centre;            // of the image (needs its size)
  double pixel_scale_arcsec = 0; // sqrt |det CD|
  double rotation_deg = 0;       // position angle of the image's +y axis, east of north, [0, 360)
  bool flipped = false;          // det CD > 0: the image is mirrored relative to the sky (parity)
};
WcsSummary summarise(const TanSipWcs& wcs, int width, int height);

// Great-circle separation (arcsec).
double separation_arcsec(const SkyPosition& a, const SkyPosition& b);

}  // namespace tianyu::pipeline::astrometry
