#pragma once
// A set of same-sized frames read a band of rows at a time, so combining N frames holds N bands
// rather than N frames (a per-pixel median needs every frame's value of the pixel at once).
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/image.h"

namespace tianyu::pipeline {

struct FitsInfo;  // fits_io.h

class FrameSet {
 public:
  virtual ~FrameSet() = default;
  virtual int size() const = 0;
  virtual int width() const = 0;
  virtual int height() const = 0;
  // Rows [y0, y0 + rows) of frame i into out (rows * width floats).
  virtual void read_rows(int i, int y0, int rows, float* out) const = 0;
  virtual double exptime(int i) const = 0;
  virtual std::string name(int i) const = 0;  // for error messages
};

// Frames already in memory (tests, small sets). No frames, or frames of different sizes, are a
// CalibrationError.
class MemoryFrameSet : public FrameSet {
 public:
  explicit MemoryFrameSet(std::vector<Image> frames, std::vector<double> exptimes = {});
  int size() const override { return static_cast<int>(frames_.size()); }
  int width() const override { return frames_.front().width; }
  int height() const override { return frames_.front().height; }
  void read_rows(int i, int y0, int rows, float* out) const override;
  double exptime(int i) const override { return exptimes_.empty() ? 1.0 : exptimes_[i]; }
  std::string name(int i) const override { return "frame " + std::to_string(i); }

 private:
  std::vector<Image> frames_;
  std::vector<double> exptimes_;
};

// FITS files on disk, opened per band. All must share the first file's size (an error names
// the file that does not) and carry EXPTIME when `need_exptime`.
class FitsFrameSet : public FrameSet {
 public:
  explicit FitsFrameSet(std::vector<std::filesystem::path> files, bool need_exptime = false);
  // The exposure times given by the caller (one per file, seconds; e.g. the frame_calibration
  // values read once at ingest): the headers' EXPTIME is not read. A count that differs from
  // the files' is a CalibrationError.
  FitsFrameSet(std::vector<std::filesystem::path> files, std::vector<double> exptimes);
  int size() const override { return static_cast<int>(files_.size()); }
  int width() const override { return width_; }
  int height() const override { return height_; }
  void read_rows(int i, int y0, int rows, float* out) const override;
  double exptime(int i) const override { return exptimes_[i]; }
  std::string name(int i) const override { return files_[i].string(); }

 private:
  std::vector<std::filesystem::path> files_;
  std::vector<double> exptimes_;
  int width_ = 0, height_ = 0;

  // Every file must have the first one's size (a FitsError names the one that has not).
  void check_size(const std::filesystem::path& file, const FitsInfo& info);
};

}  // namespace tianyu::pipeline
