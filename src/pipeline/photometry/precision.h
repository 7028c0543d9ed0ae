#pragma once
// Precision of a light curve (DESIGN.md section 3, step 11): the scatter measured, and the
// noise floor it should be compared with.
#include <span>
#include <vector>

namespace tianyu::pipeline {

// Standard deviation of flux / median(flux) over the finite points.
double relative_rms(std::span<const double> flux);

// The scatter of means of consecutive bins `bin_days` wide (bins with fewer than
// `min_points` points are left out), relative to the median flux.
double binned_rms(std::span<const double> time_days, std::span<const double> flux, double bin_days,
                  int min_points = 2);

// Savitzky-Golay smoothing (least-squares polynomial of `polyorder` over `window` points, odd;
// the ends fit the first/last window, as scipy's mode="interp").
std::vector<double> savgol_filter(std::span<const double> values, int window, int polyorder);

// Combined differential photometric precision as lightkurve's estimate_cdpp defines it (ppm):
// divide by a Savitzky-Golay trend (window `window_cadences`, polyorder 2), remove 5-sigma
// outliers, then the standard deviation of the running mean over `duration_cadences`.
double cdpp_ppm(std::span<const double> flux, int duration_cadences, int window_cadences = 101,
                int polyorder = 2, double sigma = 5.0);

struct NoiseModel {
  double gain_e_per_adu = 1.0;
  double read_noise_e = 0;
  double dark_e_per_s = 0;
  double exptime_s = 1;
  double aperture_area_px = 1;
  double sky_adu_per_px = 0;
  double scintillation = 0;  // relative; see young_scintillation()
};

// The relative noise of one measurement of a star of `flux_adu` in the aperture:
// sqrt(N* + n_pix (sky + dark + RN^2)) / N*, with the scintillation added in quadrature.
double theoretical_noise(double flux_adu, const NoiseModel& model);

// Young's (1967) scintillation, relative: 0.09 D^(-2/3) X^(7/4) exp(-h / 8000 m) (2 t)^(-1/2),
// D the aperture (cm), X the airmass, h the site altitude (m), t the exposure (s).
double young_scintillation(double diameter_m, double airmass, double altitude_m, double exptime_s);

}  // namespace tianyu::pipeline
