#pragma once
// FITS images a band of rows at a time, for stacking Tianyu-I frames (8120^2, 264 MB as float)
// without holding any of them whole. Reading goes through fits_io's checked reader (a file that
// is not a sane 2-D image, or is truncated, fails naming the file and the card; a tile-compressed
// mask decompresses only the rows' tiles, one tile per row); writing creates
// the file at its final size under a temporary name, takes the bands in turn, and publishes it
// atomically exactly as write_fits does (fsync, rename, fsync of the directory).
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "pipeline/fits_io.h"

namespace tianyu::pipeline {

class FitsRowReader {
 public:
  // Checks the file once (FitsError naming it when it is not a sane, complete 2-D image).
  explicit FitsRowReader(std::filesystem::path path);
  int width() const { return width_; }
  int height() const { return height_; }
  const std::filesystem::path& path() const { return path_; }
  // Rows [y0, y0 + rows) into out (rows * width values); FitsError naming the file when the
  // rows are outside the image or cannot be read.
  void read(int y0, int rows, float* out) const;
  // The same rows as mask flags (8-bit values, as read_mask reads them).
  void read(int y0, int rows, std::uint8_t* out) const;

 private:
  std::filesystem::path path_;
  int width_ = 0, height_ = 0;
};

class FitsRowWriter {
 public:
  // Creates `path`'s temporary sibling holding a width x height float32 image and `header`.
  FitsRowWriter(std::filesystem::path path, int width, int height, const Header& header);
  // Uncommitted: the temporary file is removed and `path` is untouched.
  ~FitsRowWriter();
  FitsRowWriter(const FitsRowWriter&) = delete;
  FitsRowWriter& operator=(const FitsRowWriter&) = delete;
  // Rows [y0, y0 + rows) from `pixels` (rows * width floats), in order from row 0.
  void write(int y0, int rows, const float* pixels);
  // Closes (a full disk often shows only here), flushes and renames onto `path`. Every row must
  // have been written.
  void commit();

 private:
  void close_and_remove() noexcept;
  std::filesystem::path path_, temp_;
  int width_, height_;
  int next_row_ = 0;
  void* file_ = nullptr;  // CFITSIO's fitsfile* (an anonymous struct: no forward declaration)
};

}  // namespace tianyu::pipeline
