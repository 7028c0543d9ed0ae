#pragma once
// FITS images through CFITSIO behind RAII: write atomically (a temporary name in the same
// directory, fsync, rename, fsync of the directory, so a reader never sees half a file), read
// 2-D images into float32.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "pipeline/file_error.h"
#include "pipeline/image.h"

namespace tianyu::pipeline {

// A FITS problem, naming the file and what is wrong with it. Bad input (not FITS, truncated,
// not a 2-D image, absurd sizes, a malformed card) is not retryable; a failed read or write
// whose errno says the disk or the system was short (ENOSPC, EIO, EMFILE, ...) is.
class FitsError : public FileError {
 public:
  using FileError::FileError;
};

// The largest image read: each axis at most kMaxAxisPixels and at most kMaxImagePixels in all.
// Tianyu-I frames are 8120 x 8120 (66 Mpx, 264 MB as float32); the bounds leave a factor of 12
// per axis and 32 in area for mosaics and stacks, yet refuse a header that claims 100000^2
// (40 GB) before anything is allocated. 2^31 pixels also keeps every pixel count in the range
// of the 32-bit counts CFITSIO and SEP use on some platforms.
inline constexpr long kMaxAxisPixels = 100'000;
inline constexpr long long kMaxImagePixels = 1LL << 31;

struct HeaderCard {
  std::string key;
  std::variant<std::string, double, long long, bool> value;
  std::string comment;
};
using Header = std::vector<HeaderCard>;

// uint8 holds pixel masks (flags 0..255): a quarter of uint16's bytes before compression.
enum class PixelType { float32, uint16, uint8 };

// Lossless tile compression (CFITSIO, the image stored in a BINTABLE extension after an empty
// primary HDU, one tile per row so a band of rows decompresses only its own tiles): RICE_1 for
// integer pixels, GZIP_2 without quantization for float32. Every reader below opens the first
// image HDU, compressed or not, so a reader need not know how a file was written.
enum class Compression { none, lossless };

// True when CFITSIO may run on several threads at once, each with its own file (Debian builds
// it reentrant; the Windows consumer's build is not): callers overlap reads and writes only then.
bool fits_io_concurrent();

// Writes `image` with `header` to `path` (replacing it atomically). uint16 rounds and clips to
// 0..65535 and stores BZERO = 32768, as CMOS cameras do; uint8 rounds and clips to 0..255.
void write_fits(const std::filesystem::path& path, const Image& image, const Header& header,
                PixelType type = PixelType::float32, Compression compression = Compression::none);

// 8-bit flags (a mask) written as they are, without a float image in between.
void write_fits(const std::filesystem::path& path, const std::vector<std::uint8_t>& pixels, int width, int height,
                const Header& header, Compression compression = Compression::none);

struct FitsImage {
  Image image;
  std::map<std::string, std::string> header;  // keyword -> value as written (strings unquoted)
};

// Reads the first 2-D image (the primary HDU, or a tile-compressed image after an empty one).
// A missing, truncated or non-FITS file, or a HDU that is not a 2-D image of a sane size, is a
// FitsError naming the file (and the card), raised before the pixels are allocated. Header
// values are returned as valid UTF-8: bytes that are not (and control characters) become '?',
// so the header can become JSON. A compressed image's header is the image's (BITPIX, NAXISn),
// not its table's.
FitsImage read_fits(const std::filesystem::path& path);

struct FitsInfo {
  int width = 0, height = 0;
  std::map<std::string, std::string> header;
};
// The size and header of the first 2-D image, without its pixels.
FitsInfo read_fits_info(const std::filesystem::path& path);
// Rows [y0, y0 + rows) of the first 2-D image into out (rows * width floats).
void read_fits_rows(const std::filesystem::path& path, int y0, int rows, float* out);
// The same rows as 8-bit values (mask flags; CFITSIO refuses a value outside 0..255).
void read_fits_rows(const std::filesystem::path& path, int y0, int rows, std::uint8_t* out);

}  // namespace tianyu::pipeline
