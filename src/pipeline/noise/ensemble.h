#pragma once
// A comparison ensemble weighted by each reference's measured scatter (Broeg, Fernandez &
// Neuhaeuser 2005, AN 326, 134). Each reference k's flux is normalised by its median level m_k;
// the comparison of a frame is C = sum_j w_j F_j / m_j / sum_j w_j, and the weights are
// w_k = 1 / sigma_k^2, sigma_k the scatter of reference k's own curve F_k / m_k / C_{-k}
// against the ensemble without it. Iterated from w_k = m_k (the plain sum of fluxes, optimal
// when photon noise alone differs between references) until no weight moves by 1e-4.
// A reference that scatters (a variable, a star near a bad column) then counts for little
// instead of as much as any other.
#include <span>
#include <string>
#include <vector>

namespace tianyu::pipeline {

// The references' raw fluxes, reference-major (index = reference * frames + frame), and which
// frames count (empty: all). Frames where a reference's flux is not finite and positive are
// left out of every statistic.
struct ReferenceFluxes {
  int references = 0, frames = 0;
  std::vector<double> flux;
  std::vector<bool> use_frame;
  double value(int r, int f) const { return flux[static_cast<std::size_t>(r) * frames + f]; }
  bool used(int f) const { return use_frame.empty() || use_frame[f]; }
};

struct BroegOptions {
  int max_iterations = 50;
  double tolerance = 1e-4;  // largest relative change of a normalised weight
  double clip_sigma = 5.0;  // the scatter is a clipped standard deviation (a cosmic ray is not noise)
};

struct EnsembleWeights {
  std::vector<double> weight;   // per reference, summing to 1
  std::vector<double> scatter;  // sigma_k: each reference's relative scatter against the others
  std::vector<double> level;    // m_k: each reference's median flux over the used frames
  int iterations = 0;
  bool converged = false;
};

// Throws std::invalid_argument when the table is not references x frames or has fewer than 2
// references.
EnsembleWeights broeg_weights(const ReferenceFluxes& refs, const BroegOptions& options = {});

// The normalised comparison C of each frame with these weights (summing to anything), leaving
// reference `without` out (-1: none); NaN in unused frames.
std::vector<double> weighted_comparison(const ReferenceFluxes& refs, std::span<const double> weights,
                                        std::span<const double> level, int without = -1);

// The clipped relative standard deviation of a curve about its median (NaN points skipped).
double clipped_relative_scatter(std::span<const double> curve, double clip_sigma = 5.0);

// The choice between the plain sum (today's equal weighting) and Broeg's weights for one group:
// the median over references of each one's scatter against the others, with each weighting;
// the weights are chosen when they lower it by at least `min_gain` (relative).
struct EnsembleChoice {
  bool weighted = false;
  EnsembleWeights weights;      // Broeg's (computed either way, for the record)
  double scatter_equal = 0;     // median reference scatter with the plain sum
  double scatter_weighted = 0;  // with Broeg's weights
  std::string decision;         // in words
};
EnsembleChoice choose_ensemble_weighting(const ReferenceFluxes& refs, double min_gain = 0.01,
                                         const BroegOptions& options = {});

}  // namespace tianyu::pipeline
