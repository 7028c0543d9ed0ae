#include "pipeline/detection/extract.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include "pipeline/sep_support.h"

namespace tianyu::pipeline {
namespace {

// One sep_extract call over `in`. SEP allocates its pixel stack on every call, so a big stack
// costs time on every frame (3M pixels doubled the extraction time of a 2048^2 frame). Start at
// SEP's default and grow when a frame needs more (a trail, a bright galaxy, a 8k frame). The
// stack size is one global setting: calls share it, a resize waits for them.
sep_support::Catalog run_sep_extract(const sep_image& in, float threshold, const ExtractOptions& options) {
  static const float kConv[9] = {1, 2, 1, 2, 4, 2, 1, 2, 1};  // Source Extractor's default
  static std::shared_mutex stack_lock;
  static std::size_t stack_pixels = [] {
    sep_set_extract_pixstack(300'000);
    return std::size_t{300'000};
  }();
  using sep_support::kPixelStackFull;
  constexpr std::size_t kMaxStack = 100'000'000;
  sep_catalog* raw = nullptr;
  int status = 0;
  std::string failure;
  for (;;) {
    std::size_t used;
    {
      std::shared_lock lock(stack_lock);
      used = stack_pixels;
      status = sep_extract(&in, threshold, SEP_THRESH_ABS, options.min_area, kConv, 3, 3, SEP_FILTER_CONV,
                           options.deblend_nthresh, options.deblend_cont, 1, 1.0, &raw);
      if (status != 0) failure = sep_support::describe("sep_extract", status);
    }
    if (status != kPixelStackFull || used >= kMaxStack) break;
    sep_catalog_free(raw);
    raw = nullptr;
    std::unique_lock lock(stack_lock);
    if (stack_pixels == used) {
      stack_pixels = std::min(used * 4, kMaxStack);
      sep_set_extract_pixstack(stack_pixels);
    }
  }
  sep_support::Catalog catalog(raw);
  if (status != 0) throw ExtractionError(failure, sep_support::retry_can_help(status));
  return catalog;
}

// Brightest first. Two sources of exactly equal flux (one star's copies at the same sub-pixel
// phase, two saturated cores) would otherwise come out in whatever order the standard
// library's unstable sort leaves them: the row, then the column, makes the catalogue the same
// on every platform. A NaN flux (none comes from a calibrated frame: non-finite pixels are
// masked) sorts last rather than breaking the sort's ordering contract.
bool brighter_first(const Source& a, const Source& b) {
  const bool a_nan = std::isnan(a.flux), b_nan = std::isnan(b.flux);
  if (a_nan != b_nan) return b_nan;
  if (!a_nan && a.flux != b.flux) return a.flux > b.flux;
  if (a.y != b.y) return a.y < b.y;
  return a.x < b.x;
}

}  // namespace

// Why one whole-frame SEP call, not bands on several cores (measured on 2048^2 "paper"
// frames, SEP 1.2.1): a band's catalogue is not the frame's to the last bit. (1) SEP seeds its
// deblender's random pixel allocation once per call (extract.c: randseed = 1; gatherup's
// rand_r), so every deblended source depends on all blends above it: 12-20 per frame differed
// in the lower band. (2) y = (mean offset) + (first row) rounds differently when the first
// row is band-relative (1 ulp, ~18% of sources). (3) Cleaning compares every pair of sources.
// tests/pipeline/detection/banded_extract_test.cpp pins (1) and (2).
std::vector<Source> extract_sources(const Image& image, const std::vector<std::uint8_t>* mask,
                                    double background_rms, const ExtractOptions& options) {
  if (!(background_rms > 0)) throw ExtractionError("background RMS must be positive to set a threshold");
  if (mask && mask->size() != image.pixels.size()) throw ExtractionError("mask and image differ in size");
  const sep_image in = sep_support::view(image, mask);
  const auto catalog = run_sep_extract(in, static_cast<float>(options.threshold_sigma * background_rms), options);
  std::vector<Source> sources;
  sources.reserve(catalog->nobj);
  for (int i = 0; i < catalog->nobj; ++i) {
    Source s;
    s.x = catalog->x[i];
    s.y = catalog->y[i];
    s.flux = catalog->flux[i];
    s.peak = catalog->peak[i];
    s.a = catalog->a[i];
    s.b = catalog->b[i];
    s.theta = catalog->theta[i];
    s.npix = catalog->npix[i];
    s.flag = catalog->flag[i];
    if (s.flux > 0 && s.peak / s.flux > options.max_peak_fraction) continue;
    sources.push_back(s);
  }
  std::sort(sources.begin(), sources.end(), brighter_first);
  return sources;
}

std::string sources_csv(const std::vector<Source>& sources) {
  // printf's %.10g is what an ostream at precision 10 writes, at a fifth of its cost (3,000
  // sources a frame).
  std::string out = "x,y,flux,peak,a,b,theta,npix,flag\n";
  char line[320];
  for (const auto& s : sources) {
    const int n = std::snprintf(line, sizeof line, "%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%d,%d\n", s.x, s.y,
                                s.flux, s.peak, s.a, s.b, s.theta, s.npix, s.flag);
    out.append(line, static_cast<std::size_t>(std::min<int>(n, sizeof line - 1)));
  }
  return out;
}

namespace {

// One field of a catalogue line: blanks around it skipped (the istream read did), then a number
// that must end at the comma (or the line's end for the last field).
template <typename Number>
void parse_field(std::string_view& rest, Number& value, bool last, std::size_t line, const char* name) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!rest.empty() && blank(rest.front())) rest.remove_prefix(1);
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  std::string_view after(end, static_cast<std::size_t>(rest.data() + rest.size() - end));
  while (!after.empty() && blank(after.front())) after.remove_prefix(1);
  const bool ends_right = last ? after.empty() : (!after.empty() && after.front() == ',');
  if (error != std::errc() || !ends_right) {
    throw std::invalid_argument("line " + std::to_string(line) + ": field '" + name + "' is not a number" +
                                (last ? " ending the line" : " followed by a comma"));
  }
  rest = last ? after : after.substr(1);
}

}  // namespace

std::vector<Source> parse_sources_csv(std::string_view text) {
  std::vector<Source> out;
  std::size_t line_number = 1;
  std::size_t start = text.find('\n');  // the header line
  if (start == std::string_view::npos) return out;
  for (++start; start < text.size(); ++line_number) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view rest = text.substr(start, end - start);
    start = end + 1;
    if (rest.empty() || rest == "\r") continue;
    Source s;
    parse_field(rest, s.x, false, line_number + 1, "x");
    parse_field(rest, s.y, false, line_number + 1, "y");
    parse_field(rest, s.flux, false, line_number + 1, "flux");
    parse_field(rest, s.peak, false, line_number + 1, "peak");
    parse_field(rest, s.a, false, line_number + 1, "a");
    parse_field(rest, s.b, false, line_number + 1, "b");
    parse_field(rest, s.theta, false, line_number + 1, "theta");
    parse_field(rest, s.npix, false, line_number + 1, "npix");
    parse_field(rest, s.flag, true, line_number + 1, "flag");
    out.push_back(s);
  }
  return out;
}

}  // namespace tianyu::pipeline
