#pragma once
// SEP (a C library with no extern "C" of its own) behind RAII handles and readable errors.
#include <memory>
#include <string>

extern "C" {
#include <sep.h>
}

namespace tianyu::pipeline::sep_support {

inline std::string message(int status) {
  char text[128] = {0};
  sep_get_errmsg(status, text);
  return text;
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
