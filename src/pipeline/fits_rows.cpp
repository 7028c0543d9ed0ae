#include "pipeline/fits_rows.h"

#include <fitsio.h>

#include <mutex>
#include <vector>

#include "pipeline/atomic_file.h"
#include "pipeline/fits_support.h"

namespace tianyu::pipeline {

using fits_detail::fits_call;
using fits_detail::write_card;

FitsRowReader::FitsRowReader(std::filesystem::path path) : path_(std::move(path)) {
  const auto info = read_fits_info(path_);
  width_ = info.width;
  height_ = info.height;
}

void FitsRowReader::read(int y0, int rows, float* out) const { read_fits_rows(path_, y0, rows, out); }

void FitsRowReader::read(int y0, int rows, std::uint8_t* out) const { read_fits_rows(path_, y0, rows, out); }

FitsRowWriter::FitsRowWriter(std::filesystem::path path, int width, int height, const Header& header)
    : path_(std::move(path)), temp_(temp_path_beside(path_)), width_(width), height_(height) {
  if (width <= 0 || height <= 0) {
    throw FitsError(path_.string() + ": cannot write a " + std::to_string(width) + " x " + std::to_string(height) +
                    " image");
  }
  try {
    const auto lock = fits_detail::fits_lock();
    fits_call(path_, "creating " + temp_.filename().string(), [&](int& status) {
      fitsfile* created = nullptr;
      fits_create_file(&created, temp_.string().c_str(), &status);
      file_ = created;
    });
    long axes[2] = {width, height};
    fits_call(path_, "creating the image HDU",
              [&](int& status) { fits_create_img(static_cast<fitsfile*>(file_), FLOAT_IMG, 2, axes, &status); });
    for (const auto& card : header) write_card(static_cast<fitsfile*>(file_), card, path_);
  } catch (...) {
    close_and_remove();
    throw;
  }
}

FitsRowWriter::~FitsRowWriter() { close_and_remove(); }

void FitsRowWriter::close_and_remove() noexcept {
  if (file_) {
    int status = 0;
    const auto lock = fits_detail::fits_lock();
    fits_close_file(static_cast<fitsfile*>(file_), &status);
    file_ = nullptr;
  }
  if (!temp_.empty()) {
    std::error_code ignored;
    std::filesystem::remove(temp_, ignored);
    temp_.clear();
  }
}

void FitsRowWriter::write(int y0, int rows, const float* pixels) {
  if (!file_) throw FitsError(path_.string() + ": writing rows after the file was closed");
  if (y0 != next_row_ || rows <= 0 || y0 + rows > height_) {
    throw FitsError(path_.string() + ": rows " + std::to_string(y0) + ".." + std::to_string(y0 + rows) +
                    " written out of order (next row " + std::to_string(next_row_) + " of " +
                    std::to_string(height_) + ")");
  }
  long first[2] = {1, y0 + 1};
  const auto lock = fits_detail::fits_lock();
  fits_call(path_, "writing rows " + std::to_string(y0) + ".." + std::to_string(y0 + rows), [&](int& status) {
    fits_write_pix(static_cast<fitsfile*>(file_), TFLOAT, first, static_cast<LONGLONG>(width_) * rows,
                   const_cast<float*>(pixels), &status);
  });
  next_row_ = y0 + rows;
}

void FitsRowWriter::commit() {
  if (!file_) throw FitsError(path_.string() + ": committed twice");
  if (next_row_ != height_) {
    throw FitsError(path_.string() + ": only " + std::to_string(next_row_) + " of " + std::to_string(height_) +
                    " rows were written");
  }
  try {
    auto lock = fits_detail::fits_lock();
    auto* f = static_cast<fitsfile*>(file_);
    file_ = nullptr;  // closed (or failed to close) either way
    fits_call(path_, "closing", [&](int& status) { fits_close_file(f, &status); });
    if (lock.owns_lock()) lock.unlock();
    publish_temp_file(temp_, path_);
    temp_.clear();
  } catch (const FitsError&) {
    close_and_remove();
    throw;
  } catch (const FileError& e) {
    close_and_remove();
    throw FitsError(e.what(), e.retryable());  // callers catch FitsError for every FITS file fault
  }
}

}  // namespace tianyu::pipeline
