#pragma once
// Source extraction with SEP on a background-subtracted frame.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/failure.h"
#include "pipeline/image.h"

namespace tianyu::pipeline {

// A frame SEP cannot extract (bad input: never retryable), or SEP ran out of memory
// (retryable). The message carries SEP's error and its detail text.
class ExtractionError : public Failure {
 public:
  explicit ExtractionError(const std::string& message, bool retryable = false)
      : Failure(message), retryable_(retryable) {}
  bool retryable() const noexcept override { return retryable_; }

 private:
  bool retryable_;
};

struct Source {
  double x = 0, y = 0;  // 0-based barycentre (pixel centres at integers)
  double flux = 0;      // sum of the pixels above threshold
  double peak = 0;
  double a = 0, b = 0, theta = 0;
  int npix = 0;
  int flag = 0;  // SEP flags (blended, truncated, ...)
};

struct ExtractOptions {
  double threshold_sigma = 5.0;  // times the background RMS
  int min_area = 5;
  int deblend_nthresh = 32;
  double deblend_cont = 0.005;
  // Hot pixels and cosmic rays put most of their flux in one pixel; a star spreads it over its
  // PSF (peak/flux ~ 0.07 at FWHM 3 px). Sharper sources than this are dropped: hot pixels sit
  // still while the sky drifts and would otherwise win the alignment vote at offset zero.
  double max_peak_fraction = 0.4;
};

// Sources of `image` (background already subtracted) above threshold_sigma x background_rms;
// masked pixels (mask != 0) are ignored; sources sharper than any PSF are dropped. Sorted by
// flux, brightest first; sources of exactly equal flux by y, then x (the same order on every
// platform). One SEP call over the whole frame, on one core: see extract.cpp for why bands on
// several cores cannot give the same catalogue.
// The catalogue as CSV (x, y, flux, peak, a, b, theta, npix, flag; a header line), as the
// calibrate step writes it beside its frame.
std::string sources_csv(const std::vector<Source>& sources);

// The catalogue back from sources_csv's text (header line first): the same doubles strtod
// gives, read with std::from_chars (an istream took a tenth of the align step). A line that is
// not nine comma-separated numbers throws std::invalid_argument naming the line and field.
std::vector<Source> parse_sources_csv(std::string_view text);

std::vector<Source> extract_sources(const Image& image, const std::vector<std::uint8_t>* mask,
                                    double background_rms, const ExtractOptions& options = {});

}  // namespace tianyu::pipeline
