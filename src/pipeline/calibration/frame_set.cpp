#include "pipeline/calibration/frame_set.h"

#include <algorithm>
#include <stdexcept>

#include "pipeline/fits_io.h"

namespace tianyu::pipeline {

MemoryFrameSet::MemoryFrameSet(std::vector<Image> frames, std::vector<double> exptimes)
    : frames_(std::move(frames)), exptimes_(std::move(exptimes)) {
  if (frames_.empty()) throw std::invalid_argument("a frame set needs at least one frame");
  for (std::size_t i = 1; i < frames_.size(); ++i) {
    if (frames_[i].width != frames_[0].width || frames_[i].height != frames_[0].height) {
      throw std::invalid_argument("frame " + std::to_string(i) + " differs in size from frame 0");
    }
  }
}

void MemoryFrameSet::read_rows(int i, int y0, int rows, float* out) const {
  const auto& f = frames_[i];
  std::copy(f.row(y0), f.row(y0) + static_cast<std::size_t>(rows) * f.width, out);
}

FitsFrameSet::FitsFrameSet(std::vector<std::filesystem::path> files, bool need_exptime)
    : files_(std::move(files)) {
  if (files_.empty()) throw FitsError("a frame set needs at least one file");
  for (const auto& file : files_) {
    const auto info = read_fits_info(file);
    if (width_ == 0) {
      width_ = info.width;
      height_ = info.height;
    } else if (info.width != width_ || info.height != height_) {
      throw FitsError(file.string() + ": NAXIS1 x NAXIS2 is " + std::to_string(info.width) + " x " +
                      std::to_string(info.height) + ", the others are " + std::to_string(width_) +
                      " x " + std::to_string(height_));
    }
    double exptime = 1.0;
    const auto it = info.header.find("EXPTIME");
    if (it != info.header.end()) {
      try {
        exptime = std::stod(it->second);
      } catch (const std::exception&) {
        throw FitsError(file.string() + ": EXPTIME '" + it->second + "' is not a number");
      }
    } else if (need_exptime) {
      throw FitsError(file.string() + ": header has no EXPTIME");
    }
    exptimes_.push_back(exptime);
  }
}

void FitsFrameSet::read_rows(int i, int y0, int rows, float* out) const {
  read_fits_rows(files_[i], y0, rows, out);
}

}  // namespace tianyu::pipeline
