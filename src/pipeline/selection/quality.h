#pragma once
// Quality selection over an observation (DESIGN.md section 3, step 5). The published two rules:
// a frame is rejected when its star count falls outside a two-sided 3-sigma clip (clouds,
// tracking jumps) or its background RMS is above a one-sided 5-sigma clip (twilight, moonlight).
// Two more, because those two miss what they were meant to catch (measured on the simulator:
// SEP's tiled background clips a satellite trail away, and a doubled image keeps its star count
// within the seeing scatter):
//  - transparency: the median flux ratio of the stars the alignment matched, frame over
//    reference, below a fraction of the night's median (clouds, an image split by a jump);
//  - a trail: a detection long and thin beyond any star (satellite, aircraft, meteor).
// A frame the alignment could not place is rejected too, and so is one it placed off the
// night's track: a shift that neither its earlier nor its later neighbours' smooth track
// predicts (hot pixels summed into minute stacks without a dark master won the alignment's
// vote at the detector's place, dx -0.8 px where the mount's drift had reached 24 px). Every
// rejection says which rule and which numbers.
#include <string>
#include <vector>

#include "pipeline/detection/extract.h"

namespace tianyu::pipeline {

struct FrameQuality {
  int star_count = 0;
  double background_rms = 0;
  bool aligned = true;
  std::string alignment_failure;  // the alignment's reason, when not aligned
  double transparency = 1.0;      // AlignResult::transparency
  double trail_length_px = 0;     // longest_trail() of the frame's sources
  double dx = 0, dy = 0;          // the alignment's shift (px); frames are given in time order
};

struct SelectionOptions {
  double star_count_sigma = 3.0;
  double background_rms_sigma = 5.0;
  // A frame keeping less than this fraction of the night's median transparency is rejected.
  // Thin cloud (10-20 % loss) is what relative photometry corrects; a frame that lost 30 % of
  // its light, or whose stars are split in two, is not worth its noise.
  double min_relative_transparency = 0.7;
  // Sources at least this elongated (a/b) and this long count as trails.
  double trail_min_elongation = 8.0;
  double trail_min_length_px = 30.0;
  // The track: a robust line (Theil-Sen) through the shifts of the `track_neighbours` aligned
  // frames on each side, extrapolated to the frame; it is off the track when it misses both
  // sides' prediction by more than max(off_track_min_px, off_track_sigma x the night's typical
  // miss), so a dithered night (large typical miss) or a jump of the mount (one side agrees)
  // is not judged by it. Nights of fewer than 2 x track_neighbours + 1 aligned frames are not.
  int track_neighbours = 5;
  double off_track_min_px = 5.0;
  double off_track_sigma = 5.0;
};

struct FrameVerdict {
  bool good = true;
  std::string reason;  // empty when good
};

// The length (px) of the longest source that is a trail by `options`, 0 when none: a uniform
// line of length L has a second-moment semi-major axis a = L / sqrt(12).
double longest_trail(const std::vector<Source>& sources, const SelectionOptions& options = {});

std::vector<FrameVerdict> select_frames(const std::vector<FrameQuality>& frames,
                                        const SelectionOptions& options = {});

}  // namespace tianyu::pipeline
