#include "pipeline/fits_io.h"
#include "pipeline/temp_name.h"

#include <fitsio.h>

#include <algorithm>
#include <cmath>
#include <mutex>

namespace tianyu::pipeline {
namespace {

// CFITSIO may be built without reentrancy; one process-wide lock keeps every call safe.
std::mutex& fits_mutex() {
  static std::mutex m;
  return m;
}

std::string status_text(int status) {
  char text[FLEN_STATUS] = {0};
  fits_get_errstatus(status, text);
  return text;
}

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

void check(int status, const std::filesystem::path& path, const std::string& what) {
  if (status != 0) {
    throw FitsError(path.string() + ": " + what + ": " + status_text(status));
  }
}

void write_card(fitsfile* f, const HeaderCard& card, const std::filesystem::path& path) {
  int status = 0;
  char* key = const_cast<char*>(card.key.c_str());
  char* comment = const_cast<char*>(card.comment.c_str());
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
  check(status, path, "writing header keyword " + card.key);
}

}  // namespace

void write_fits(const std::filesystem::path& path, const Image& image, const Header& header,
                PixelType type) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<std::size_t>(image.width) * image.height) {
    throw FitsError(path.string() + ": image has inconsistent dimensions");
  }
  std::string tmp_name = ".";
  tmp_name += path.filename().string();
  tmp_name += ".tmp";
  tmp_name += unique_temp_suffix();
  const auto tmp = path.parent_path() / tmp_name;
  std::filesystem::remove(tmp);
  {
    std::lock_guard lock(fits_mutex());
    FitsFile f;
    int status = 0;
    fits_create_file(f.out(), tmp.string().c_str(), &status);  // CFITSIO takes char paths (wchar_t on Windows)
    check(status, path, "creating");
    long axes[2] = {image.width, image.height};
    fits_create_img(f.get(), type == PixelType::uint16 ? USHORT_IMG : FLOAT_IMG, 2, axes, &status);
    check(status, path, "creating the image HDU");
    for (const auto& card : header) write_card(f.get(), card, path);
    const auto n = static_cast<LONGLONG>(image.pixels.size());
    if (type == PixelType::uint16) {
      std::vector<unsigned short> counts(image.pixels.size());
      std::transform(image.pixels.begin(), image.pixels.end(), counts.begin(), [](float v) {
        return static_cast<unsigned short>(std::clamp(std::lround(v), 0L, 65535L));
      });
      fits_write_img(f.get(), TUSHORT, 1, n, counts.data(), &status);
    } else {
      fits_write_img(f.get(), TFLOAT, 1, n, const_cast<float*>(image.pixels.data()), &status);
    }
    check(status, path, "writing pixels");
    check(f.close(), path, "closing");
  }
  std::filesystem::rename(tmp, path);
}

namespace {

// Opens the primary image and checks it is a non-empty 2-D image; returns its size.
std::pair<long, long> open_image(FitsFile& f, const std::filesystem::path& path) {
  int status = 0;
  fits_open_image(f.out(), path.string().c_str(), READONLY, &status);
  check(status, path, "opening as a FITS image");
  int naxis = 0;
  long axes[3] = {0, 0, 0};
  fits_get_img_dim(f.get(), &naxis, &status);
  check(status, path, "reading NAXIS");
  if (naxis != 2) {
    throw FitsError(path.string() + ": NAXIS is " + std::to_string(naxis) + ", expected a 2-D image");
  }
  fits_get_img_size(f.get(), 2, axes, &status);
  check(status, path, "reading NAXIS1/NAXIS2");
  if (axes[0] <= 0 || axes[1] <= 0) throw FitsError(path.string() + ": the image HDU is empty");
  return {axes[0], axes[1]};
}

std::map<std::string, std::string> read_header(FitsFile& f, const std::filesystem::path& path) {
  std::map<std::string, std::string> header;
  int status = 0, keys = 0;
  fits_get_hdrspace(f.get(), &keys, nullptr, &status);
  for (int i = 1; i <= keys && status == 0; ++i) {
    char name[FLEN_KEYWORD] = {0}, value[FLEN_VALUE] = {0}, comment[FLEN_COMMENT] = {0};
    fits_read_keyn(f.get(), i, name, value, comment, &status);
    std::string v = value;
    if (v.size() >= 2 && v.front() == '\'') {
      v = v.substr(1, v.rfind('\'') - 1);
      while (!v.empty() && v.back() == ' ') v.pop_back();
    }
    if (name[0] != 0) header[name] = v;
  }
  check(status, path, "reading the header");
  return header;
}

void read_pixels(FitsFile& f, const std::filesystem::path& path, long width, int y0, int rows,
                 float* out) {
  int status = 0, any_null = 0;
  float null_value = NAN;
  long first[2] = {1, y0 + 1};
  fits_read_pix(f.get(), TFLOAT, first, static_cast<LONGLONG>(width) * rows, &null_value, out,
                &any_null, &status);
  check(status, path, "reading pixels (truncated file?)");
}

}  // namespace

FitsImage read_fits(const std::filesystem::path& path) {
  std::lock_guard lock(fits_mutex());
  FitsFile f;
  const auto [width, height] = open_image(f, path);
  FitsImage out;
  out.image = Image(static_cast<int>(width), static_cast<int>(height));
  read_pixels(f, path, width, 0, static_cast<int>(height), out.image.pixels.data());
  out.header = read_header(f, path);
  return out;
}

FitsInfo read_fits_info(const std::filesystem::path& path) {
  std::lock_guard lock(fits_mutex());
  FitsFile f;
  const auto [width, height] = open_image(f, path);
  return {static_cast<int>(width), static_cast<int>(height), read_header(f, path)};
}

void read_fits_rows(const std::filesystem::path& path, int y0, int rows, float* out) {
  std::lock_guard lock(fits_mutex());
  FitsFile f;
  const auto [width, height] = open_image(f, path);
  if (y0 < 0 || rows < 0 || y0 + rows > height) {
    throw FitsError(path.string() + ": rows " + std::to_string(y0) + ".." +
                    std::to_string(y0 + rows) + " are outside the image of height " +
                    std::to_string(height));
  }
  read_pixels(f, path, width, y0, rows, out);
}

}  // namespace tianyu::pipeline
