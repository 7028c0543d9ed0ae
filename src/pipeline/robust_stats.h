#pragma once
// Robust statistics shared by the reduction steps (master frames, quality selection) and the
// photometry (reference pruning). Pure functions on plain arrays: no I/O, no configuration.
#include <cstddef>
#include <span>

namespace tianyu::pipeline {

// Median of the finite values (NaN and infinities are ignored); NaN when there are none. An
// even count gives the mean of the two middle values (as numpy.median). The pipeline's one
// median: every step that needs a median calls these.
double median(std::span<const double> values);
double median(std::span<const float> values);

// The same median, reordering `values` in place instead of copying them: for per-pixel loops
// that already own a scratch buffer. Non-finite values are moved to the end and ignored.
double median_in_place(std::span<double> values);
double median_in_place(std::span<float> values);

// Median absolute deviation about the median, scaled by 1.4826 so that it estimates the
// standard deviation of a normal distribution; NaN when there are no finite values.
double mad_std(std::span<const double> values);

struct ClippedStats {
  double mean = 0;
  double median = 0;
  double stddev = 0;       // population standard deviation of the kept values
  std::size_t kept = 0;    // finite values inside the final bounds
  std::size_t rejected = 0;  // finite values clipped
  std::size_t non_finite = 0;
  int iterations = 0;
  double lower_bound = 0;  // the final clipping bounds (median -/+ sigma * stddev)
  double upper_bound = 0;
};

struct ClipOptions {
  double lower_sigma = 3.0;  // use +infinity for an upper-only clip
  double upper_sigma = 3.0;
  int max_iterations = 10;
};

// Iterative sigma clipping about the median (as astropy's sigma_clipped_stats): values outside
// [median - lower*std, median + upper*std] are rejected until nothing changes.
ClippedStats sigma_clipped_stats(std::span<const double> values, const ClipOptions& options = {});

}  // namespace tianyu::pipeline
