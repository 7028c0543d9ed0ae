#pragma once
// SEP (a C library with no extern "C" of its own) behind RAII handles and readable errors.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include <sep.h>
}

#include "pipeline/image.h"

namespace tianyu::pipeline::sep_support {

inline std::string message(int status) {
  char text[128] = {0};
  sep_get_errmsg(status, text);
  return text;
}

// "<call>: <SEP's message> (<SEP's detail>)", e.g. "sep_extract: object deblending overflow
// (limit of sub-objects reached while deblending. ...)". Call right after the failing call:
// SEP 1.2 keeps the detail in one process-wide buffer that it never clears, so another
// thread's failure (or an older one) may show there; it is context for the operator, the
// status decides.
inline std::string describe(const char* call, int status) {
  char detail[600] = {0};  // SEP writes at most 512 characters
  sep_get_errdetail(detail);
  std::string text = std::string(call) + ": " + message(status);
  if (detail[0] != 0) text += " (" + std::string(detail) + ")";
  return text;
}

// SEP 1.2's status codes (sepcore.h, not installed): only running out of memory may pass on a
// later attempt; every other status is about the frame or the parameters given.
inline constexpr int kMemoryAllocError = 1;
inline constexpr int kPixelStackFull = 2;
inline bool retry_can_help(int status) { return status == kMemoryAllocError; }

// SEP's view of a float image and its byte mask (nonzero = masked; may be null), no noise.
inline sep_image view(const Image& image, const std::vector<std::uint8_t>* mask) {
  sep_image in{};
  in.data = image.pixels.data();
  in.dtype = SEP_TFLOAT;
  if (mask) {
    in.mask = mask->data();
    in.mdtype = SEP_TBYTE;
    in.maskthresh = 0.0;
  }
  in.w = image.width;
  in.h = image.height;
  in.noise_type = SEP_NOISE_NONE;
  return in;
}

struct BackgroundFree {
  void operator()(sep_bkg* b) const { sep_bkg_free(b); }
};
using Background = std::unique_ptr<sep_bkg, BackgroundFree>;

struct CatalogFree {
  void operator()(sep_catalog* c) const { sep_catalog_free(c); }
};
using Catalog = std::unique_ptr<sep_catalog, CatalogFree>;

}  // namespace tianyu::pipeline::sep_support
