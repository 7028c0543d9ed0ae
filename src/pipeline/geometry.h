#pragma once
// Where a reference-frame position lands in another frame. Alignment fits it; stacking and
// photometry use it. A translation is the common case; a small rotation and scale (field
// rotation of an alt-az or badly polar-aligned mount, differential refraction) make it affine.
#include <cmath>
#include <utility>

namespace tianyu::pipeline {

struct FrameTransform {
  // A star at (x, y) in the reference is at (axx x + axy y + dx, ayx x + ayy y + dy) here.
  double dx = 0, dy = 0;
  double axx = 1, axy = 0, ayx = 0, ayy = 1;

  static FrameTransform translation(double dx, double dy) { return {dx, dy, 1, 0, 0, 1}; }
  std::pair<double, double> apply(double x, double y) const {
    return {axx * x + axy * y + dx, ayx * x + ayy * y + dy};
  }
  bool is_translation() const { return axx == 1 && axy == 0 && ayx == 0 && ayy == 1; }
  // The rotation (degrees, counter-clockwise) and mean scale of the linear part.
  double rotation_deg() const { return std::atan2(ayx - axy, axx + ayy) * 180.0 / 3.14159265358979323846; }
  double scale() const { return std::sqrt(std::abs(axx * ayy - axy * ayx)); }
};

}  // namespace tianyu::pipeline
