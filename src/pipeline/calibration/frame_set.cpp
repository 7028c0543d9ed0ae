#include "pipeline/calibration/frame_set.h"

#include <algorithm>
#include <string>

#include "pipeline/calibration/calibrate.h"  // CalibrationError
#include "pipeline/fits_io.h"

namespace tianyu::pipeline {

MemoryFrameSet::MemoryFrameSet(std::vector<Image> frames, std::vector<double> exptimes)
    : frames_(std::move(frames)), exptimes_(std::move(exptimes)) {
  if (frames_.empty()) throw CalibrationError("a frame set needs at least one frame");
  for (std::size_t i = 1; i < frames_.size(); ++i) {
    if (frames_[i].width != frames_[0].width || frames_[i].height != frames_[0].height) {
      throw CalibrationError("frame " + std::to_string(i) + " differs in size from frame 0");
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
    check_size(file, info);
    double exptime = 1.0;
    const auto it = info.header.find("EXPTIME");
    if (it != info.header.end()) {
      // The whole value must be the number: std::stod alone would read '5abc' as 5.
      std::size_t used = 0;
      try {
        exptime = std::stod(it->second, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || it->second.find_first_not_of(' ', used) != std::string::npos) {
        throw FitsError(file.string() + ": EXPTIME '" + it->second + "' is not a number");
      }
    } else if (need_exptime) {
      throw FitsError(file.string() + ": header has no EXPTIME");
    }
    exptimes_.push_back(exptime);
  }
}

FitsFrameSet::FitsFrameSet(std::vector<std::filesystem::path> files, std::vector<double> exptimes)
    : files_(std::move(files)), exptimes_(std::move(exptimes)) {
  if (exptimes_.size() != files_.size()) {
    throw CalibrationError(std::to_string(exptimes_.size()) + " exposure times for " + std::to_string(files_.size()) +
                           " frames");
  }
  if (files_.empty()) throw FitsError("a frame set needs at least one file");
  for (const auto& file : files_) check_size(file, read_fits_info(file));
}

void FitsFrameSet::check_size(const std::filesystem::path& file, const FitsInfo& info) {
  if (width_ == 0) {
    width_ = info.width;
    height_ = info.height;
  } else if (info.width != width_ || info.height != height_) {
    throw FitsError(file.string() + ": NAXIS1 x NAXIS2 is " + std::to_string(info.width) + " x " +
                    std::to_string(info.height) + ", the others are " + std::to_string(width_) + " x " +
                    std::to_string(height_));
  }
}

void FitsFrameSet::read_rows(int i, int y0, int rows, float* out) const {
  read_fits_rows(files_[i], y0, rows, out);
}

}  // namespace tianyu::pipeline
