// Writes the same synthetic light curves as our export's CSV and as our FITS light curve, for
// the astropy and tianyu-transit checks (fits_lightcurve_check.py):
//   night.csv / night.fits    one night, 300 points, a 1 % transit at BJD_TDB 2459800.70
//   nights.csv / nights.fits  12 nights, a 1 % transit every 2.2 d (first at 2459800.70)
// Both files hold the same numbers: the FITS values are parsed back from the CSV text.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>

#include "pipeline/lightcurve/fits_light_curve.h"

namespace lc = tianyu::pipeline::lightcurve;

namespace {

// A trapezoid: 1 % deep, 0.08 d long, 0.01 d ingress.
double transit(double t, double mid) {
  const double x = std::abs(t - mid);
  if (x >= 0.04) return 1.0;
  return 1.0 - 0.01 * std::min(1.0, (0.04 - x) / 0.01);
}

void write(const std::string& stem, const std::vector<double>& starts, double period) {
  std::mt19937 rng(42);
  std::normal_distribution<double> noise(0, 0.001);
  std::ofstream csv(stem + ".csv");
  csv << "bjd_tdb,rel_flux,rel_flux_err,frame,flags\n";
  lc::FitsLightCurve out;
  out.target = {"HAT-P-32 (synthetic)", 31.042825, 46.687836, "Tianyu", "Tianyu pipeline tests", 3, 17};
  long frame = 0;
  for (const double start : starts) {
    for (int i = 0; i < 300; ++i, ++frame) {
      const double t = start + i * 0.001;
      const double mid = 2459800.70 + period * std::round((t - 2459800.70) / period);
      const int flags = i % 97 == 5 ? 4 : 0;  // a few flagged points
      const bool empty = i == 150 && start == starts.front();
      char row[160];
      std::snprintf(row, sizeof row, "%.8f,%.7f,%.7f", t, transit(t, mid) + noise(rng), 0.001);
      std::string text = row;
      if (empty) text = text.substr(0, text.find(',')) + ",,";
      csv << text << "," << frame << "," << flags << "\n";
      const auto first = text.find(','), second = text.find(',', first + 1);
      out.bjd_tdb.push_back(std::stod(text.substr(0, first)));
      out.flux.push_back(empty ? std::nan("") : std::stod(text.substr(first + 1, second - first - 1)));
      out.flux_err.push_back(empty ? std::nan("") : std::stod(text.substr(second + 1)));
      out.quality.push_back(empty ? 1 : flags);
      out.observation_id.push_back(1 + static_cast<long>(&start - starts.data()));
      out.frame_id.push_back(frame);
    }
  }
  lc::write_fits_light_curve(stem + ".fits", out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "Usage: lightcurve_example <directory>\n";
    return 2;
  }
  const std::string dir = argv[1];
  write(dir + "/night", {2459800.55}, 1e9);
  std::vector<double> starts;
  for (int n = 0; n < 12; ++n) starts.push_back(2459800.55 + n * 1.1 - (n % 2 == 0 ? 0 : 0.05));
  write(dir + "/nights", starts, 2.2);
  std::cout << "wrote " << dir << "/night.{csv,fits} and nights.{csv,fits}\n";
  return 0;
}
