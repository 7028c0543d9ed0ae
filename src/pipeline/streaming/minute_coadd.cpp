#include "pipeline/streaming/minute_coadd.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "pipeline/parallel.h"

namespace tianyu::pipeline::streaming {
namespace {

std::string size_text(int w, int h) { return std::to_string(w) + " x " + std::to_string(h); }

// The first NaN or infinite pixel of a float frame, or -1. A separate read of the frame, but
// only of frames that came through a float reader (FITS), whose I/O costs more than this scan;
// checking before accumulating keeps a refused frame out of the stack entirely.
long long first_not_finite(std::span<const float> adu, int threads, int width, int height) {
  std::vector<long long> first(height, -1);
  parallel_rows(height, threads, [&](int y0, int y1) {
    for (int y = y0; y < y1; ++y) {
      const float* row = adu.data() + static_cast<std::size_t>(y) * width;
      bool bad = false;
      for (int x = 0; x < width; ++x) bad |= !(std::abs(row[x]) <= 3.4e38f);
      if (!bad) continue;
      for (int x = 0; x < width; ++x) {
        if (!(std::abs(row[x]) <= 3.4e38f)) {
          first[y] = static_cast<long long>(y) * width + x;
          break;
        }
      }
    }
  });
  for (const auto f : first) {
    if (f >= 0) return f;
  }
  return -1;
}

// One stack row += one calibrated frame row: the hot loop, memory-bound, written so it
// vectorises: no branch and no select on loaded values (GCC if-converts neither), a saturated
// pixel is multiplied by 0 (its value is finite: validate() refused NaN and infinities), and a
// pixel with gain 0 adds (v - 0) * 0 by itself. Returns how many pixels were saturated.
template <typename Pixel>
inline __attribute__((always_inline)) int add_row_kernel(float* __restrict sum, const Pixel* __restrict raw,
                                                         const float* __restrict offset,
                                                         const float* __restrict gain, int n, float saturation) {
  int saturated = 0;
  for (int x = 0; x < n; ++x) {
    const float v = static_cast<float>(raw[x]);
    const float keep = v < saturation ? 1.0f : 0.0f;
    sum[x] += (v - offset[x]) * gain[x] * keep;
    saturated += v >= saturation ? 1 : 0;
  }
  return saturated;
}

// Compiled for AVX2 as well as the baseline, chosen at load time on the machine it runs on:
// twice the pixels per instruction when other work shares the memory bus. The load-time choice
// needs ELF's ifuncs: elsewhere (a Windows consumer) the baseline alone.
#if defined(__ELF__) && defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define TIANYU_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TIANYU_AVX2_CLONES
#endif
TIANYU_AVX2_CLONES int add_row(float* sum, const std::uint16_t* raw, const float* offset,
                                                              const float* gain, int n, float saturation) {
  return add_row_kernel(sum, raw, offset, gain, n, saturation);
}
TIANYU_AVX2_CLONES int add_row(float* sum, const float* raw, const float* offset,
                                                              const float* gain, int n, float saturation) {
  return add_row_kernel(sum, raw, offset, gain, n, saturation);
}

// Where a row had saturated pixels: one frame fewer behind each (rare, so a second look at a
// row that is still in cache). Pixels the masters cannot calibrate are counted from the plan's
// list instead; a pixel both saturated and unusable is counted there only.
template <typename Pixel>
int count_saturated(float* exposure, const Pixel* raw, const float* gain, int n, float saturation) {
  int counted = 0;
  for (int x = 0; x < n; ++x) {
    if (static_cast<float>(raw[x]) >= saturation && gain[x] != 0.0f) {
      exposure[x] -= 1.0f;
      ++counted;
    }
  }
  return counted;
}

}  // namespace

MinuteCoadd::MinuteCoadd(int width, int height, double exptime_s, const Masters& masters,
                         const StreamingOptions& options)
    : options_(options),
      plan_(plan_calibration(width, height, exptime_s, masters, options)),
      tracker_(plan_, options_),
      sum_(width, height),
      exposure_(width, height) {}

std::size_t MinuteCoadd::bytes() const {
  return (sum_.pixels.size() + exposure_.pixels.size() + plan_.offset.size() + plan_.gain.size()) * sizeof(float);
}

void MinuteCoadd::validate(const ShortFrame& f) const {
  const std::string name = f.name.empty() ? "frame " + std::to_string(frames()) : f.name;
  if (sum_.pixels.empty()) throw StreamingInputError(name, "minute", "added after the minute was finished");
  if (f.width != plan_.width) {
    throw StreamingInputError(name, "width", std::to_string(f.width) + " px, the minute's frames are " +
                                                 size_text(plan_.width, plan_.height));
  }
  if (f.height != plan_.height) {
    throw StreamingInputError(name, "height", std::to_string(f.height) + " px, the minute's frames are " +
                                                  size_text(plan_.width, plan_.height));
  }
  if (f.adu16.empty() == f.adu.empty()) {
    throw StreamingInputError(name, "pixels", "exactly one of the 16-bit and the float pixel arrays must be given");
  }
  const std::size_t expected = static_cast<std::size_t>(f.width) * f.height;
  const std::size_t given = f.adu16.empty() ? f.adu.size() : f.adu16.size();
  if (given != expected) {
    throw StreamingInputError(name, "pixels", "truncated or overlong: " + std::to_string(given) + " values for " +
                                                  size_text(f.width, f.height) + " (" + std::to_string(expected) + ")");
  }
  if (!(std::abs(f.exptime_s - plan_.exptime_s) <= 1e-6 * plan_.exptime_s)) {
    throw StreamingInputError(name, "exptime_s", std::to_string(f.exptime_s) + " s, the minute's frames are " +
                                                     std::to_string(plan_.exptime_s) + " s");
  }
  if (!f.adu.empty()) {
    const long long bad = first_not_finite(f.adu, options_.threads, f.width, f.height);
    if (bad >= 0) {
      throw StreamingInputError(name, "pixels", "not a number at pixel (" + std::to_string(bad % f.width) + ", " +
                                                    std::to_string(bad / f.width) + ")");
    }
  }
}

void MinuteCoadd::use_grid_of(const ShortFrame& first_frame_of_minute) {
  if (!shifts_.empty()) {
    throw StreamingInputError(first_frame_of_minute.name, "grid", "the grid is chosen before any frame is added");
  }
  validate(first_frame_of_minute);
  tracker_.measure(first_frame_of_minute);  // the first measure picks the reference stars
}

MinuteStack sum_minute_parts(std::vector<MinuteStack> parts) {
  if (parts.empty()) throw StreamingInputError("(minute)", "parts", "no part of the minute to add up");
  MinuteStack out = std::move(parts.front());
  for (std::size_t k = 1; k < parts.size(); ++k) {
    auto& part = parts[k];
    const std::string name = "part " + std::to_string(k);
    if (part.sum.width != out.sum.width || part.sum.height != out.sum.height) {
      throw StreamingInputError(name, "size", "the parts of a minute differ in size");
    }
    if (std::abs(part.exptime_s - out.exptime_s) > 1e-9 * out.exptime_s) {
      throw StreamingInputError(name, "exptime_s", "the parts of a minute differ in frame exposure");
    }
    for (std::size_t i = 0; i < out.sum.pixels.size(); ++i) {
      out.sum.pixels[i] += part.sum.pixels[i];
      out.exposure_s.pixels[i] += part.exposure_s.pixels[i];
    }
    out.shifts.insert(out.shifts.end(), part.shifts.begin(), part.shifts.end());
    out.frames += part.frames;
    out.pixels_left_out += part.pixels_left_out;
  }
  return out;
}

FrameShift MinuteCoadd::add(const ShortFrame& frame) { return add(std::span<const ShortFrame>(&frame, 1)).front(); }

std::vector<FrameShift> MinuteCoadd::add(std::span<const ShortFrame> frames) {
  const ShiftTracker saved = tracker_;
  std::vector<FrameShift> shifts;
  try {
    for (std::size_t j = 0; j < frames.size(); ++j) {
      validate(frames[j]);
      ShortFrame named = frames[j];
      if (named.name.empty()) named.name = "frame " + std::to_string(this->frames() + j);
      shifts.push_back(tracker_.measure(named));
      if (std::abs(shifts.back().ix) >= plan_.width || std::abs(shifts.back().iy) >= plan_.height) {
        throw StreamingInputError(named.name, "registration", "shifted off the first frame entirely");
      }
    }
  } catch (...) {
    tracker_ = saved;  // a refused batch leaves no trace, not even in the tracking
    throw;
  }
  accumulate(frames, shifts);
  shifts_.insert(shifts_.end(), shifts.begin(), shifts.end());
  return shifts;
}

// Stack pixel (X, Y) takes frame pixel (X + ix, Y + iy): the star that was at X on the first
// frame is at X + dx on this one. Each thread owns a band of stack rows; within a row band,
// each row takes every frame of the batch while it is in cache. Returns the pixels left out.
std::size_t MinuteCoadd::accumulate_row(int y, const ShortFrame& frame, const FrameShift& shift) {
  const int w = plan_.width, h = plan_.height;
  const int source_y = y + shift.iy;
  if (source_y < 0 || source_y >= h) return 0;
  const int x0 = std::max(0, -shift.ix), x1 = std::min(w, w - shift.ix);
  const std::size_t src = static_cast<std::size_t>(source_y) * w + x0 + shift.ix;
  float* sum = sum_.row(y) + x0;
  float* exposure = exposure_.row(y) + x0;
  const float* offset = plan_.offset.data() + src;
  const float* gain = plan_.gain.data() + src;
  std::size_t left_out = 0;
  if (frame.adu16.empty()) {
    const float* raw = frame.adu.data() + src;
    if (add_row(sum, raw, offset, gain, x1 - x0, plan_.saturation_adu)) {
      left_out += count_saturated(exposure, raw, gain, x1 - x0, plan_.saturation_adu);
    }
  } else {
    const std::uint16_t* raw = frame.adu16.data() + src;
    if (add_row(sum, raw, offset, gain, x1 - x0, plan_.saturation_adu)) {
      left_out += count_saturated(exposure, raw, gain, x1 - x0, plan_.saturation_adu);
    }
  }
  for (const int x : plan_.unusable_in_row(source_y)) {
    if (x - shift.ix < x0 || x - shift.ix >= x1) continue;
    exposure[x - shift.ix - x0] -= 1.0f;
    ++left_out;
  }
  return left_out;
}

void MinuteCoadd::accumulate(std::span<const ShortFrame> frames, const std::vector<FrameShift>& shifts) {
  std::vector<std::size_t> left_out(plan_.height, 0);
  parallel_rows(plan_.height, options_.threads, [&](int y0, int y1) {
    for (int y = y0; y < y1; ++y) {
      for (std::size_t j = 0; j < frames.size(); ++j) left_out[y] += accumulate_row(y, frames[j], shifts[j]);
    }
  });
  for (const auto l : left_out) left_out_ += l;
}

// Exposure += the frames whose shifted footprint covers each pixel: per row, a difference
// array over the frames that reach that row.
void MinuteCoadd::add_coverage() {
  const int w = plan_.width, h = plan_.height;
  const float t = static_cast<float>(plan_.exptime_s);
  parallel_rows(h, options_.threads, [&](int y0, int y1) {
    std::vector<int> change(w + 1);
    for (int y = y0; y < y1; ++y) {
      std::fill(change.begin(), change.end(), 0);
      for (const auto& s : shifts_) {
        if (y + s.iy < 0 || y + s.iy >= h) continue;
        ++change[std::max(0, -s.ix)];
        --change[std::min(w, w - s.ix)];
      }
      float* row = exposure_.row(y);
      int frames = 0;
      for (int x = 0; x < w; ++x) {
        frames += change[x];
        row[x] = (static_cast<float>(frames) + row[x]) * t;
      }
    }
  });
}

MinuteStack MinuteCoadd::finish() {
  if (shifts_.empty()) throw StreamingInputError("(minute)", "frames", "no short frame was added");
  add_coverage();
  MinuteStack out;
  out.sum = std::move(sum_);
  out.exposure_s = std::move(exposure_);
  out.shifts = std::move(shifts_);
  out.reference = tracker_.reference();
  out.frames = static_cast<int>(out.shifts.size());
  out.exptime_s = plan_.exptime_s;
  out.pixels_left_out = left_out_;
  shifts_.clear();
  return out;
}

}  // namespace tianyu::pipeline::streaming
