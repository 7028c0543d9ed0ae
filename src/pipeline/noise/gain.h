#pragma once
// The camera's gain (e-/ADU) when the header has none. Every photometric error rests on it: the
// photon noise of a star of F ADU is sqrt(F / g) ADU, so a wrong gain scales every error bar
// (HAT-P-32's frames have no GAIN and their errors came out 3.5 x the scatter). Two ways to
// measure it, each recorded with its source:
//   - the flats' photon-transfer curve: in the difference of two flats of one level the fixed
//     pattern (vignetting, pixel response, dust) cancels and what remains is shot noise and
//     read noise: var(A - k B) / (1 + k^2) = S / g + RN^2 (ADU^2), S the bias-subtracted level;
//   - the scatter of constant stars' light curves against their flux:
//     var_F = F / g + B + b + c F^2 (ADU^2): F / g the star's photon noise, B the part of its
//     error budget that is not the star's photons (sky pixels, read noise, the local sky's
//     uncertainty: known from the photometry's own errors), b what B misses, c F^2 the
//     relative floor (scintillation, the comparison ensemble, flat-field errors). Linear in
//     (1/g, b, c); the photon term is what separates stars of different flux.
#include <span>
#include <string>
#include <vector>

#include "pipeline/failure.h"
#include "pipeline/image.h"

namespace tianyu::pipeline {

class GainError : public Failure {
 public:
  using Failure::Failure;
};

// How a gain was obtained, as recorded with it.
enum class GainSource { header, flat_photon_transfer, constant_star_scatter, assumed };
// "header", "flat_photon_transfer", "constant_star_scatter", "assumed".
const char* gain_source_name(GainSource source);

struct GainEstimate {
  double gain_e_per_adu = 0;
  double gain_err = 0;      // one sigma, e-/ADU
  double read_noise_e = 0;  // flats: from the bias pair (or the curve's intercept); NaN if neither
  GainSource source = GainSource::assumed;
  int samples = 0;          // tiles of the flat pairs, or stars, that the estimate rests on
  // Constant stars only: the model's b (ADU^2, what the photometry's own non-photon budget
  // misses) and sqrt(c) (the relative floor: scintillation, comparison, flat field); 0 otherwise.
  double extra_variance_adu2 = 0;
  double relative_floor = 0;
  std::string detail;       // in words, for the record
};

// Two raw (not bias-subtracted) frames taken alike: a pair of flats of one level, or of biases.
struct FramePair {
  const Image* first = nullptr;
  const Image* second = nullptr;
};

struct PhotonTransferOptions {
  int tile_px = 64;          // statistics per tile: the level varies across the chip (vignetting)
  int margin_px = 16;        // edge rows and columns left out (overscan, roll-off)
  double clip_sigma = 4.0;   // stars, cosmic rays and hot pixels in the difference are clipped
  double bias_level_adu = 0; // subtracted from the flats when no bias pair is given
  double max_level_adu = 50000;  // tiles brighter than this (near saturation, non-linear) are left out
};

// The gain from one or more flat pairs (any levels), with a bias pair for the bias level and
// the read noise when there is one. Each tile of each pair gives (S, var); with a bias pair the
// read noise is known and 1/g is the slope of var - RN^2 against S through the origin; without
// one, a straight line var = S / g + RN^2 when the levels span a factor 1.5, else through the
// origin (RN^2 << S / g for a flat of a few thousand ADU). Throws GainError (bad input, never
// retryable) when the frames differ in size or too few tiles remain.
GainEstimate gain_from_flat_pairs(std::span<const FramePair> flats, const FramePair& bias = {},
                                  const PhotonTransferOptions& options = {});

// One constant star's scatter, for gain_from_constant_stars.
struct StarScatter {
  double flux_adu = 0;            // its median flux in the aperture
  double variance_adu2 = 0;       // its light curve's variance, in ADU^2 (relative variance x flux^2)
  double other_variance_adu2 = 0; // B: the non-photon part of its error budget (0: unknown)
  int points = 0;                 // frames the variance rests on
};

// A star's scatter from its relative light curve: the 5-sigma clipped variance about the
// median, relative, times flux^2. `other_variance_adu2` as above.
StarScatter star_scatter(std::span<const double> rel_flux, double flux_adu, double other_variance_adu2 = 0);

// The non-photon part B of one measurement's error budget: flux_err^2 - flux / gain_used, the
// error as the photometry computed it with `gain_used` (>= 0).
double non_photon_variance(double flux_adu, double flux_err_adu, double gain_used);

struct ConstantStarGainOptions {
  int min_stars = 8;
  double clip_sigma = 4.0;  // stars off the model by more (variables) are left out, iteratively
  int iterations = 8;
};

// The gain from many constant stars' scatter against their flux (the model above), weighted by
// each variance's own uncertainty (var sqrt(2 / (n - 1))). Throws GainError when too few stars
// remain or the photon term is not positive (the scatter does not fall with flux as photons do).
GainEstimate gain_from_constant_stars(std::span<const StarScatter> stars, const ConstantStarGainOptions& options = {});

// A flux error recomputed for another gain: the photon term F / g_used replaced by F / g_new.
double flux_error_for_gain(double flux_adu, double flux_err_adu, double gain_used, double gain_new);

}  // namespace tianyu::pipeline
