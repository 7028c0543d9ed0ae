#pragma once
// One minute of a short-exposure night made in memory, frame by frame, for the co-add's tests
// and benchmark: nothing is written. The camera (bias with its column pattern, dark current
// with hot pixels, a vignetted flat with pixel response), a field of Moffat stars, the
// telescope's drift and jitter between frames and the photon and read noise follow the
// simulator's configuration (pipeline/sim/night.h: the "tianyu" preset is 0.3-s frames, 174 a
// minute); each frame is drawn from (seed, frame), so frame k is the same bytes every time.
// Not the night simulator: no variability, faults or truth files; the truth is in this object.
#include <cstdint>
#include <vector>

#include "pipeline/image.h"
#include "pipeline/sim/night.h"

namespace tianyu::pipeline::streaming {

struct MinuteStar {
  double x = 0, y = 0;  // on the first frame (0-based pixel centres)
  double electrons = 0;  // per short frame, before the flat's response
};

class ShortMinute {
 public:
  // `noise` false: no photon or read noise (analytic tests); the values are still rounded to
  // the camera's integers.
  explicit ShortMinute(const sim::SimConfig& config, bool noise = true, int threads = 0);

  int width() const { return c_.width; }
  int height() const { return c_.height; }
  int frames() const { return c_.frames; }
  double exptime_s() const { return c_.exptime_s; }
  double gain() const { return c_.gain; }  // e-/ADU: a star's calibrated ADU = electrons / gain
  // The camera's true masters, which a night's bias/dark/flat frames would estimate.
  const Image& bias() const { return bias_; }
  const Image& dark_rate() const { return dark_rate_; }  // ADU per second
  const Image& flat() const { return flat_; }
  const std::vector<MinuteStar>& stars() const { return stars_; }
  // Where frame k's stars are relative to the first frame's; tests may set their own.
  double true_dx(int k) const { return dx_.at(k); }
  double true_dy(int k) const { return dy_.at(k); }
  void set_shift(int k, double dx, double dy);

  // Frame k as the camera reads it out (ADU), into `adu` (resized).
  void render(int k, std::vector<std::uint16_t>& adu) const;

 private:
  void make_camera();
  void make_stars();
  void make_shifts();
  Image light_electrons(int k) const;  // sky + stars on frame k, before the flat

  sim::SimConfig c_;
  bool noise_;
  int threads_;
  Image bias_, dark_rate_, flat_;
  std::vector<MinuteStar> stars_;
  std::vector<double> dx_, dy_, fwhm_;
};

}  // namespace tianyu::pipeline::streaming
