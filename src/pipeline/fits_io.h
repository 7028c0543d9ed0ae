#pragma once
// FITS images through CFITSIO behind RAII: write atomically (a temporary name in the same
// directory, then rename, so a reader never sees half a file), read 2-D images into float32.
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "pipeline/image.h"

namespace tianyu::pipeline {

// A FITS problem, naming the file and what is wrong with it.
class FitsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct HeaderCard {
  std::string key;
  std::variant<std::string, double, long long, bool> value;
  std::string comment;
};
using Header = std::vector<HeaderCard>;

enum class PixelType { float32, uint16 };

// Writes `image` with `header` to `path` (replacing it atomically). uint16 rounds and clips to
// 0..65535 and stores BZERO = 32768, as CMOS cameras do.
void write_fits(const std::filesystem::path& path, const Image& image, const Header& header,
                PixelType type = PixelType::float32);

struct FitsImage {
  Image image;
  std::map<std::string, std::string> header;  // keyword -> value as written (strings unquoted)
};

// Reads the primary 2-D image. A missing, truncated or non-FITS file, or a HDU that is not a
// 2-D image, is a FitsError naming the file.
FitsImage read_fits(const std::filesystem::path& path);

struct FitsInfo {
  int width = 0, height = 0;
  std::map<std::string, std::string> header;
};
// The size and header of the primary 2-D image, without its pixels.
FitsInfo read_fits_info(const std::filesystem::path& path);
// Rows [y0, y0 + rows) of the primary image into out (rows * width floats).
void read_fits_rows(const std::filesystem::path& path, int y0, int rows, float* out);

}  // namespace tianyu::pipeline
