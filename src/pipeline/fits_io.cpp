#include "pipeline/fits_io.h"

#include <fitsio.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <system_error>

#include "pipeline/atomic_file.h"
#include "pipeline/fits_support.h"

namespace tianyu::pipeline {
namespace fits_detail {

std::mutex& fits_mutex() {
  static std::mutex m;
  return m;
}

std::unique_lock<std::mutex> fits_lock() {
  static const bool concurrent = fits_io_concurrent();
  if (concurrent) return {};
  return std::unique_lock<std::mutex>(fits_mutex());
}

namespace {

std::string status_text(int status) {
  char text[FLEN_STATUS] = {0};
  fits_get_errstatus(status, text);
  return text;
}

// CFITSIO statuses that report a failed operating-system call: errno at that call says why
// (CFITSIO's status alone does not tell a full disk from a bad path).
bool from_the_system(int status) {
  switch (status) {
    case TOO_MANY_FILES:
    case FILE_NOT_OPENED:
    case FILE_NOT_CREATED:
    case WRITE_ERROR:
    case READ_ERROR:
    case FILE_NOT_CLOSED:
    case MEMORY_ALLOCATION:
      return true;
    default:
      return false;
  }
}

}  // namespace

FitsError fits_error(const std::filesystem::path& path, const std::string& what, int status, int error) {
  std::string text = path.string() + ": " + what + ": " + status_text(status);
  if (!from_the_system(status)) return FitsError(text);
  // CFITSIO's own table of open files being full is as transient as the system's.
  const bool transient = transient_errno(error) || status == TOO_MANY_FILES;
  if (error != 0) {
    text += " (" + std::generic_category().message(error) + ", errno " + std::to_string(error) + ")";
  }
  text += transient ? "; transient, a retry can help" : "";
  return FitsError(text, transient);
}

void write_card(fitsfile* f, const HeaderCard& card, const std::filesystem::path& path) {
  char* key = const_cast<char*>(card.key.c_str());
  char* comment = const_cast<char*>(card.comment.c_str());
  fits_call(path, "writing header keyword " + card.key, [&](int& status) {
    if (const auto* s = std::get_if<std::string>(&card.value)) {
      fits_update_key(f, TSTRING, key, const_cast<char*>(s->c_str()), comment, &status);
    } else if (const auto* d = std::get_if<double>(&card.value)) {
      double v = *d;
      fits_update_key(f, TDOUBLE, key, &v, comment, &status);
    } else if (const auto* i = std::get_if<long long>(&card.value)) {
      LONGLONG v = *i;
      fits_update_key(f, TLONGLONG, key, &v, comment, &status);
    } else {
      int v = std::get<bool>(card.value) ? 1 : 0;
      fits_update_key(f, TLOGICAL, key, &v, comment, &status);
    }
  });
}

}  // namespace fits_detail

namespace {

using fits_detail::fits_call;
using fits_detail::fits_lock;
using fits_detail::write_card;

class FitsFile {
 public:
  FitsFile() = default;
  ~FitsFile() {
    if (f_) {
      int status = 0;
      fits_close_file(f_, &status);
    }
  }
  FitsFile(const FitsFile&) = delete;
  FitsFile& operator=(const FitsFile&) = delete;
  fitsfile** out() { return &f_; }
  fitsfile* get() { return f_; }
  int close() {
    int status = 0;
    if (f_) fits_close_file(f_, &status);
    f_ = nullptr;
    return status;
  }

 private:
  fitsfile* f_ = nullptr;
};


int cfitsio_image_type(PixelType type) {
  switch (type) {
    case PixelType::uint16:
      return USHORT_IMG;
    case PixelType::uint8:
      return BYTE_IMG;
    default:
      return FLOAT_IMG;
  }
}

// Asks CFITSIO to tile-compress the next image without loss: RICE_1 is exact for integers;
// floats would be quantized by it (the default), so they take GZIP_2 (byte shuffling makes the
// float's exponent bytes compress) with quantization off.
void request_lossless_compression(fitsfile* f, PixelType type, const std::filesystem::path& path) {
  fits_call(path, "choosing lossless tile compression", [&](int& status) {
    if (type == PixelType::float32) {
      fits_set_compression_type(f, GZIP_2, &status);
      fits_set_quantize_level(f, 0.0f, &status);  // 0: no quantization, lossless
    } else {
      fits_set_compression_type(f, RICE_1, &status);
    }
  });
}

// Integer pixels rounded and clipped to [0, top] of the type CFITSIO calls `datatype`.
template <typename Count>
void write_counts(fitsfile* f, const Image& image, long top, int datatype, const std::filesystem::path& path) {
  std::vector<Count> counts(image.pixels.size());
  std::transform(image.pixels.begin(), image.pixels.end(), counts.begin(), [top](float v) {
    return static_cast<Count>(std::clamp(std::lround(v), 0L, top));
  });
  fits_call(path, "writing pixels", [&](int& status) {
    fits_write_img(f, datatype, 1, static_cast<LONGLONG>(counts.size()), counts.data(), &status);
  });
}

// Writes the pixels of a just-created image HDU (whole, in one call).
using PixelWriter = std::function<void(fitsfile*)>;

// Writes the whole FITS file at `temp` (the name CFITSIO creates); errors name `path`.
void write_fits_file(const std::filesystem::path& temp, const std::filesystem::path& path, int width, int height,
                     const Header& header, PixelType type, Compression compression, const PixelWriter& write_pixels) {
  const auto lock = fits_lock();
  FitsFile f;
  // CFITSIO takes char paths (wchar_t on Windows).
  fits_call(path, "creating " + temp.filename().string(),
            [&](int& status) { fits_create_file(f.out(), temp.string().c_str(), &status); });
  if (compression == Compression::lossless) request_lossless_compression(f.get(), type, path);
  long axes[2] = {width, height};
  fits_call(path, "creating the image HDU",
            [&](int& status) { fits_create_img(f.get(), cfitsio_image_type(type), 2, axes, &status); });
  for (const auto& card : header) write_card(f.get(), card, path);
  write_pixels(f.get());
  // CFITSIO buffers: a full disk often shows only when the buffers are flushed at close.
  fits_call(path, "closing", [&](int& status) { status = f.close(); });
}

PixelWriter image_pixels(const Image& image, PixelType type, const std::filesystem::path& path) {
  return [&image, type, &path](fitsfile* f) {
    if (type == PixelType::uint16) {
      write_counts<unsigned short>(f, image, 65535, TUSHORT, path);
    } else if (type == PixelType::uint8) {
      write_counts<unsigned char>(f, image, 255, TBYTE, path);
    } else {
      fits_call(path, "writing pixels", [&](int& status) {
        fits_write_img(f, TFLOAT, 1, static_cast<LONGLONG>(image.pixels.size()), const_cast<float*>(image.pixels.data()),
                       &status);
      });
    }
  };
}

// write_file(temp) into a temporary sibling, then renamed over `path` (atomic_file.h).
void write_atomically(const std::filesystem::path& path, const std::function<void(const std::filesystem::path&)>& write_file) {
  const auto temp = temp_path_beside(path);
  try {
    write_file(temp);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    throw;
  }
  try {
    publish_temp_file(temp, path);
  } catch (const FitsError&) {
    throw;
  } catch (const FileError& e) {
    throw FitsError(e.what(), e.retryable());  // callers catch FitsError for every FITS file fault
  }
}

}  // namespace

bool fits_io_concurrent() { return fits_is_reentrant() != 0; }

void write_fits(const std::filesystem::path& path, const Image& image, const Header& header,
                PixelType type, Compression compression) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<std::size_t>(image.width) * image.height) {
    throw FitsError(path.string() + ": image has inconsistent dimensions");
  }
  write_atomically(path, [&](const std::filesystem::path& temp) {
    write_fits_file(temp, path, image.width, image.height, header, type, compression, image_pixels(image, type, path));
  });
}

void write_fits(const std::filesystem::path& path, const std::vector<std::uint8_t>& pixels, int width, int height,
                const Header& header, Compression compression) {
  if (width <= 0 || height <= 0 || pixels.size() != static_cast<std::size_t>(width) * height) {
    throw FitsError(path.string() + ": image has inconsistent dimensions");
  }
  write_atomically(path, [&](const std::filesystem::path& temp) {
    write_fits_file(temp, path, width, height, header, PixelType::uint8, compression, [&](fitsfile* f) {
      fits_call(path, "writing pixels", [&](int& status) {
        fits_write_img(f, TBYTE, 1, static_cast<LONGLONG>(pixels.size()), const_cast<std::uint8_t*>(pixels.data()),
                       &status);
      });
    });
  });
}

namespace {

void require_axis(const std::filesystem::path& path, const char* card, long value) {
  if (value <= 0 || value > kMaxAxisPixels) {
    throw FitsError(path.string() + ": " + card + " = " + std::to_string(value) +
                    " is outside 1.." + std::to_string(kMaxAxisPixels) + " pixels");
  }
}

// The header's pixels must lie inside the file: a truncated file (or a header that claims far
// more than was written) is refused before anything the size of the image is allocated.
void require_pixels_in_file(FitsFile& f, const std::filesystem::path& path, long width, long height) {
  int compressed = 0, bitpix = 0;
  LONGLONG head = 0, data = 0, end = 0;
  fits_call(path, "reading BITPIX", [&](int& status) {
    compressed = fits_is_compressed_image(f.get(), &status);
    fits_get_img_type(f.get(), &bitpix, &status);
    fits_get_hduaddrll(f.get(), &head, &data, &end, &status);
  });
  const LONGLONG file_size = f.get()->Fptr->logfilesize;  // uncompressed size, also for .gz
  if (compressed) {
    // The tiles live in the table's data and heap, which end at `end`: a file cut short there
    // would fail only at the first missing tile, after the image was allocated.
    if (end > file_size) {
      throw FitsError(path.string() + ": the tile-compressed image (NAXIS1 = " + std::to_string(width) +
                      ", NAXIS2 = " + std::to_string(height) + ") needs " + std::to_string(end) +
                      " bytes but the file has " + std::to_string(file_size) + ": truncated");
    }
    return;
  }
  const LONGLONG bytes = static_cast<LONGLONG>(width) * height * (std::abs(bitpix) / 8);
  if (data + bytes > file_size) {
    throw FitsError(path.string() + ": the header (NAXIS1 = " + std::to_string(width) +
                    ", NAXIS2 = " + std::to_string(height) + ", BITPIX = " + std::to_string(bitpix) +
                    ") needs " + std::to_string(data + bytes) + " bytes but the file has " +
                    std::to_string(file_size) + ": truncated");
  }
}

// Opens the primary image and checks it is a 2-D image of a sane size whose pixels are all in
// the file; returns its size.
std::pair<long, long> open_image(FitsFile& f, const std::filesystem::path& path) {
  fits_call(path, "opening as a FITS image", [&](int& status) {
    fits_open_image(f.out(), path.string().c_str(), READONLY, &status);
  });
  int naxis = 0;
  long axes[2] = {0, 0};
  fits_call(path, "reading NAXIS", [&](int& status) { fits_get_img_dim(f.get(), &naxis, &status); });
  if (naxis != 2) {
    throw FitsError(path.string() + ": NAXIS is " + std::to_string(naxis) + ", expected a 2-D image");
  }
  fits_call(path, "reading NAXIS1/NAXIS2",
            [&](int& status) { fits_get_img_size(f.get(), 2, axes, &status); });
  require_axis(path, "NAXIS1", axes[0]);
  require_axis(path, "NAXIS2", axes[1]);
  if (static_cast<long long>(axes[0]) * axes[1] > kMaxImagePixels) {
    throw FitsError(path.string() + ": NAXIS1 x NAXIS2 = " + std::to_string(axes[0]) + " x " +
                    std::to_string(axes[1]) + " is more than " + std::to_string(kMaxImagePixels) +
                    " pixels");
  }
  require_pixels_in_file(f, path, axes[0], axes[1]);
  return {axes[0], axes[1]};
}

// Valid UTF-8 without control characters: a FITS card should be printable ASCII, but cameras
// write Latin-1 names and stray bytes; the header becomes JSON, which needs valid UTF-8.
// Each byte that does not start a well-formed sequence (or is a control character) becomes '?'.
std::string printable_utf8(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(in[i]); };
  for (std::size_t i = 0; i < in.size();) {
    const unsigned char c = byte(i);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    // Lead bytes of 2-, 3- and 4-byte sequences (no overlong forms, nothing past U+10FFFF).
    const std::size_t length = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    bool ok = length > 0 && i + length <= in.size();
    for (std::size_t k = 1; ok && k < length; ++k) ok = (byte(i + k) & 0xC0) == 0x80;
    if (ok && length == 3) ok = !(c == 0xE0 && byte(i + 1) < 0xA0) && !(c == 0xED && byte(i + 1) > 0x9F);
    if (ok && length == 4) ok = !(c == 0xF0 && byte(i + 1) < 0x90) && !(c == 0xF4 && byte(i + 1) > 0x8F);
    if (ok) {
      out.append(in, i, length);
      i += length;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

// The unquoted value of a card's value as CFITSIO parsed it, trailing blanks dropped.
std::string unquoted(const char* value) {
  std::string v = value;
  if (v.size() >= 2 && v.front() == '\'') {
    v = v.substr(1, v.rfind('\'') - 1);
    while (!v.empty() && v.back() == ' ') v.pop_back();
  }
  return v;
}

// A tile-compressed image's header as the image's own (BITPIX, NAXISn, the cards written with
// it), not its table's (XTENSION = 'BINTABLE', ZBITPIX, TTYPE1, ...): CFITSIO converts it.
std::map<std::string, std::string> read_compressed_header(FitsFile& f, const std::filesystem::path& path) {
  char* text = nullptr;
  int keys = 0;
  std::unique_ptr<char, void (*)(char*)> owned(nullptr, [](char* p) {
    int status = 0;
    fits_free_memory(p, &status);
  });
  fits_call(path, "reading the compressed image's header", [&](int& status) {
    fits_convert_hdr2str(f.get(), 0, nullptr, 0, &text, &keys, &status);
    owned.reset(text);  // owned before a failed status throws
  });
  std::map<std::string, std::string> header;
  for (int i = 0; i < keys; ++i) {
    const std::string card(text + 80L * i, 80);
    char name[FLEN_KEYWORD] = {0}, value[FLEN_VALUE] = {0}, comment[FLEN_COMMENT] = {0};
    int length = 0;
    fits_call(path, "reading header card " + std::to_string(i + 1), [&](int& status) {
      fits_get_keyname(const_cast<char*>(card.c_str()), name, &length, &status);
      fits_parse_value(const_cast<char*>(card.c_str()), value, comment, &status);
    });
    if (name[0] != 0 && std::string(name) != "END") header[printable_utf8(name)] = printable_utf8(unquoted(value));
  }
  return header;
}

std::map<std::string, std::string> read_header(FitsFile& f, const std::filesystem::path& path) {
  int compressed = 0;
  fits_call(path, "reading the HDU type", [&](int& status) { compressed = fits_is_compressed_image(f.get(), &status); });
  if (compressed) return read_compressed_header(f, path);
  std::map<std::string, std::string> header;
  int keys = 0;
  fits_call(path, "reading the header size",
            [&](int& status) { fits_get_hdrspace(f.get(), &keys, nullptr, &status); });
  for (int i = 1; i <= keys; ++i) {
    char name[FLEN_KEYWORD] = {0}, value[FLEN_VALUE] = {0}, comment[FLEN_COMMENT] = {0};
    fits_call(path, "reading header card " + std::to_string(i),
              [&](int& status) { fits_read_keyn(f.get(), i, name, value, comment, &status); });
    if (name[0] != 0) header[printable_utf8(name)] = printable_utf8(unquoted(value));
  }
  return header;
}

// A float image stored as it is read: not tile-compressed, not scaled (BSCALE 1, BZERO 0).
bool plain_float_image(FitsFile& f) {
  int status = 0, bitpix = 0;
  if (fits_is_compressed_image(f.get(), &status) || status) return false;
  if (fits_get_img_type(f.get(), &bitpix, &status) || bitpix != FLOAT_IMG) return false;
  fits_write_errmark();  // an absent keyword is not an error to report later
  double scale = 1, zero = 0;
  int scale_status = 0, zero_status = 0;
  fits_read_key(f.get(), TDOUBLE, "BSCALE", &scale, nullptr, &scale_status);
  fits_read_key(f.get(), TDOUBLE, "BZERO", &zero, nullptr, &zero_status);
  fits_clear_errmark();
  return (scale_status == KEY_NO_EXIST || (scale_status == 0 && scale == 1)) &&
         (zero_status == KEY_NO_EXIST || (zero_status == 0 && zero == 0));
}

// CFITSIO's rule for a float pixel read with a null value (fffr4r4): an exponent of all ones
// (NaN, +-Inf) is the null value, NaN; a zero exponent (+-0, subnormals) is +0. Given no null
// value CFITSIO copies the pixels instead of testing each with a branch; this one pass over
// the bits (which the compiler vectorises) gives the same floats at a fraction of the cost.
void apply_null_rule(float* pixels, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, pixels + i, sizeof bits);
    const std::uint32_t exponent = bits & 0x7F800000u;
    bits = exponent == 0x7F800000u ? 0x7FC00000u : exponent == 0 ? 0u : bits;
    std::memcpy(pixels + i, &bits, sizeof bits);
  }
}

void read_pixels(FitsFile& f, const std::filesystem::path& path, long width, int y0, int rows,
                 float* out) {
  int any_null = 0;
  float null_value = NAN;
  long first[2] = {1, y0 + 1};
  const LONGLONG count = static_cast<LONGLONG>(width) * rows;
  const bool plain = plain_float_image(f);
  fits_call(path, "reading pixels (truncated file?)", [&](int& status) {
    fits_read_pix(f.get(), TFLOAT, first, count, plain ? nullptr : &null_value, out, &any_null, &status);
  });
  if (plain) apply_null_rule(out, static_cast<std::size_t>(count));
}

void read_pixels(FitsFile& f, const std::filesystem::path& path, long width, int y0, int rows,
                 std::uint8_t* out) {
  int any_null = 0;
  long first[2] = {1, y0 + 1};
  fits_call(path, "reading pixels (truncated file?)", [&](int& status) {
    fits_read_pix(f.get(), TBYTE, first, static_cast<LONGLONG>(width) * rows, nullptr, out, &any_null, &status);
  });
}

template <typename Pixel>
void read_rows(const std::filesystem::path& path, int y0, int rows, Pixel* out) {
  const auto lock = fits_lock();
  FitsFile f;
  const auto [width, height] = open_image(f, path);
  if (y0 < 0 || rows < 0 || y0 + rows > height) {
    throw FitsError(path.string() + ": rows " + std::to_string(y0) + ".." +
                    std::to_string(y0 + rows) + " are outside the image of height " +
                    std::to_string(height));
  }
  read_pixels(f, path, width, y0, rows, out);
}

}  // namespace

FitsImage read_fits(const std::filesystem::path& path) {
  const auto lock = fits_lock();
  FitsFile f;
  const auto [width, height] = open_image(f, path);
  FitsImage out;
  out.header = read_header(f, path);  // before the pixels are allocated: a bad card costs nothing
  out.image = Image(static_cast<int>(width), static_cast<int>(height));
  read_pixels(f, path, width, 0, static_cast<int>(height), out.image.pixels.data());
  return out;
}

FitsInfo read_fits_info(const std::filesystem::path& path) {
  const auto lock = fits_lock();
  FitsFile f;
  const auto [width, height] = open_image(f, path);
  return {static_cast<int>(width), static_cast<int>(height), read_header(f, path)};
}

void read_fits_rows(const std::filesystem::path& path, int y0, int rows, float* out) { read_rows(path, y0, rows, out); }

void read_fits_rows(const std::filesystem::path& path, int y0, int rows, std::uint8_t* out) {
  read_rows(path, y0, rows, out);
}

}  // namespace tianyu::pipeline
