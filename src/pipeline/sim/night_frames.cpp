// The night's FITS files: calibration frames and science frames with their headers.
#include "pipeline/sim/night_parts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "pipeline/time/astro_time.h"

namespace tianyu::pipeline::sim::detail {

Header Night::header(const std::string& type, double exptime, const std::string& date_obs) const {
  return {{"IMAGETYP", type, "frame type"},
          {"DATE-OBS", date_obs, "UTC start of exposure"},
          {"EXPTIME", exptime, "[s] exposure time"},
          {"FILTER", c_.filter, "filter"},
          {"GAIN", c_.gain, "[e-/ADU] gain"},
          {"RDNOISE", c_.read_noise_e, "[e-] read noise"},
          // Full well in ADU above the bias, less 3 read-noise sigmas: clipped pixels scatter
          // around the clip level by the read noise.
          {"SATURATE", std::floor(c_.bias_adu + (c_.full_well_e - 3 * c_.read_noise_e) / c_.gain),
           "[ADU] saturation level"},
          {"TELESCOP", std::string("TIANYU-SIM"), "simulated 1-m telescope"},
          {"INSTRUME", std::string("SIMCMOS"), "simulated CMOS camera"},
          {"SIMSEED", static_cast<long long>(c_.seed), "tianyu-sim seed"}};
}

namespace {

// "hh mm ss.sss" (hours) or "+dd mm ss.ss" as OBJCTRA/OBJCTDEC, the cards many camera programs write.
std::string sexagesimal(double value, bool hours) {
  const long long units = std::llround(std::abs(hours ? value / 15.0 : value) * 3600.0 * (hours ? 1000 : 100));
  const long long per_second = hours ? 1000 : 100;
  char text[32];
  const long long s = units / per_second;
  if (hours) {
    std::snprintf(text, sizeof text, "%02lld %02lld %02lld.%03lld", s / 3600 % 24, s / 60 % 60, s % 60, units % per_second);
  } else {
    std::snprintf(text, sizeof text, "%c%02lld %02lld %02lld.%02lld", value < 0 ? '-' : '+', s / 3600, s / 60 % 60,
                  s % 60, units % per_second);
  }
  return text;
}

}  // namespace

void Night::add_wcs(Header& h, const FrameTruth& f) const {
  if (c_.sky.enabled) {
    // The real sky: the pointing as the mount reports it, and no WCS (the pipeline solves it).
    h.push_back({"OBJECT", c_.object, "target field"});
    h.push_back({"RA", tan_.ra0, "[deg] pointing right ascension"});
    h.push_back({"DEC", tan_.dec0, "[deg] pointing declination"});
    h.push_back({"OBJCTRA", sexagesimal(tan_.ra0, true), "[h m s] pointing right ascension"});
    h.push_back({"OBJCTDEC", sexagesimal(tan_.dec0, false), "[d m s] pointing declination"});
    h.push_back({"EQUINOX", 2000.0, ""});
    h.push_back({"RADESYS", std::string("ICRS"), ""});
    return;
  }
  const double scale = c_.pixel_scale_arcsec / 3600.0;
  h.push_back({"OBJECT", c_.object, "target field"});
  h.push_back({"RA", c_.ra_deg, "[deg] pointing right ascension"});
  h.push_back({"DEC", c_.dec_deg, "[deg] pointing declination"});
  h.push_back({"EQUINOX", 2000.0, ""});
  h.push_back({"RADESYS", std::string("ICRS"), ""});
  h.push_back({"CTYPE1", std::string("RA---TAN"), ""});
  h.push_back({"CTYPE2", std::string("DEC--TAN"), ""});
  h.push_back({"CRVAL1", c_.ra_deg, ""});
  h.push_back({"CRVAL2", c_.dec_deg, ""});
  // The sky moved by (dx, dy) on the detector, so the reference pixel did too (1-based).
  h.push_back({"CRPIX1", c_.width / 2.0 + f.dx + 1.0, ""});
  h.push_back({"CRPIX2", c_.height / 2.0 + f.dy + 1.0, ""});
  h.push_back({"CD1_1", -scale, ""});
  h.push_back({"CD1_2", 0.0, ""});
  h.push_back({"CD2_1", 0.0, ""});
  h.push_back({"CD2_2", scale, ""});
}

void Night::apply_response(Image& e) const {
  for (std::size_t i = 0; i < e.pixels.size(); ++i) e.pixels[i] *= cam_.response[i];
}

Image Night::dark_electrons(double exptime) const {
  Image e(c_.width, c_.height, static_cast<float>(c_.dark_e_per_s * exptime));
  for (const auto& [x, y] : cam_.hot) e.at(x, y) += static_cast<float>(200.0 * exptime);
  return e;
}

// calib/<kind>_NNN.fits, taken just before the night starts.
void Night::write_calibration(const char* kind, const char* imagetyp, int i, double exptime,
                       const Image& adu) const {
  char file[32];
  std::snprintf(file, sizeof file, "%s_%03d.fits", kind, i + 1);
  write_fits(out_ / "calib" / file, adu, header(imagetyp, exptime, frames_.front().date_obs),
             PixelType::uint16);
}

void Night::write_bias(int i) {
  auto rng = stream(c_.seed, kBias + i);
  Image e(c_.width, c_.height, 0.0f);
  digitise(e, c_, cam_, rng);
  write_calibration("bias", "BIAS", i, 0.0, e);
}

void Night::write_dark(int i) {
  auto rng = stream(c_.seed, kDark + i);
  Image e = dark_electrons(c_.exptime_s);
  add_noise(e, rng);
  digitise(e, c_, cam_, rng);
  write_calibration("dark", "DARK", i, c_.exptime_s, e);
}

void Night::write_flat(int i) {
  auto rng = stream(c_.seed, kFlat + i);
  std::uniform_real_distribution<double> u01;
  const double level = 25000.0 * (0.6 + 0.6 * u01(rng));  // twilight fades between flats
  Image e(c_.width, c_.height, static_cast<float>(level));
  for (int s = 0; s < 5; ++s) {  // a few faint stars shine through the twilight
    add_moffat_star(e, u01(rng) * c_.width, u01(rng) * c_.height, level * 20.0,
                    c_.seeing_fwhm_px, c_.moffat_beta);
  }
  apply_response(e);
  add_noise(e, rng);
  digitise(e, c_, cam_, rng);
  write_calibration("flat", "FLAT", i, 1.0, e);
}

void Night::write_science(int k) {
  const auto& f = frames_[k];
  auto rng = stream(c_.seed, kScience + k);
  std::normal_distribution<double> n01;
  std::uniform_real_distribution<double> u01;
  Image e(c_.width, c_.height);
  const double cx = c_.width / 2.0, cy = c_.height / 2.0;
  for (int y = 0; y < c_.height; ++y) {
    for (int x = 0; x < c_.width; ++x) {
      const double gradient = 1.0 + c_.sky_gradient * ((x - cx) / c_.width + 0.5 * (y - cy) / c_.height);
      e.at(x, y) = static_cast<float>(f.sky_e * gradient);
    }
  }
  const double jump = f.fault == Fault::double_image ? 0.4 : 0.0;
  for (const auto& s : stars_) {
    const double x = s.x + f.dx, y = s.y + f.dy;
    if (x < -60 || y < -60 || x > c_.width + 60 || y > c_.height + 60) continue;
    // Scintillation is noise, not signal: it stays out of truth/flux.csv.
    const double flux = flux_e(s, f) * (1.0 + c_.scintillation_rms * n01(rng));
    add_moffat_star(e, x, y, flux * (1.0 - jump), f.fwhm, c_.moffat_beta);
    if (jump > 0) add_moffat_star(e, x + 9.0, y + 6.0, flux * jump, f.fwhm, c_.moffat_beta);
  }
  if (f.fault == Fault::satellite_trail) {
    const double y0 = u01(rng) * c_.height, y1 = u01(rng) * c_.height;
    const double slope = (y1 - y0) / c_.width;
    const double norm = std::sqrt(1.0 + slope * slope);
    for (int y = 0; y < c_.height; ++y) {
      for (int x = 0; x < c_.width; ++x) {
        const double d = std::abs(y - (y0 + slope * x)) / norm;
        if (d < 2.0) e.at(x, y) += static_cast<float>(3000.0 * (1.0 - d / 2.0));
      }
    }
  }
  apply_response(e);  // sky, stars and trail all pass the optics; dark current does not
  const Image dark = dark_electrons(c_.exptime_s);
  for (std::size_t i = 0; i < e.pixels.size(); ++i) e.pixels[i] += dark.pixels[i];
  add_noise(e, rng);
  // Cosmic rays land after the photon noise: a few pixels each, thousands of electrons.
  const double area_cm2 = c_.width * c_.height * std::pow(c_.pixel_size_um * 1e-4, 2);
  const int hits = std::poisson_distribution<int>(c_.cosmic_rate_per_cm2_s * area_cm2 * c_.exptime_s)(rng);
  for (int h = 0; h < hits; ++h) {
    int x = static_cast<int>(u01(rng) * c_.width), y = static_cast<int>(u01(rng) * c_.height);
    const int length = 1 + static_cast<int>(u01(rng) * 3);
    for (int p = 0; p < length && x < c_.width; ++p, ++x) {
      e.at(x, y) += static_cast<float>(2000.0 + 8000.0 * u01(rng));
    }
  }
  digitise(e, c_, cam_, rng);
  Header h = header("LIGHT", c_.exptime_s, f.date_obs);
  add_wcs(h, f);
  write_fits(out_ / "raw" / f.file, e, h, PixelType::uint16);
}

}  // namespace tianyu::pipeline::sim::detail
