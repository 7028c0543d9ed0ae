#pragma once
// Is a night's "single transit" a star that varies within the night? A pulsator or a contact
// binary dims and brightens through the night; the box model of the single-transit comparison
// takes one of its minima for a transit (two such alerts were raised on the simulated survey's
// periodic variables). Two questions, each answered in numbers:
// - does the curve outside the event vary by more than its point-to-point noise allows (a
//   transit sits on a flat star: outside it only noise remains)?
// - does a sinusoid (any period from twice the event's duration to twice the night) and a line
//   explain the whole night better than the line and the box, by the Bayesian information
//   criterion (both have the same number of free parameters, so BIC compares their residuals)?
#include "pipeline/transit/search.h"

namespace tianyu::pipeline::survey {

struct NightVariability {
  int points = 0;
  double point_to_point = 0;     // white noise per point, from successive differences
  double outside_rms = 0;        // robust rms of the outside points about their line
  double excess_rms = 0;         // sqrt(outside_rms^2 - point_to_point^2), 0 if none
  double sinusoid_period_d = 0, sinusoid_amplitude = 0;
  double delta_bic = 0;          // BIC(line + box) - BIC(line + sinusoid): > 0 prefers the sinusoid
};

NightVariability measure_night_variability(const LightCurveData& curve, double t0, double duration);

}  // namespace tianyu::pipeline::survey
