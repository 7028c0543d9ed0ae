#pragma once
// The simulated night's internals, shared by its translation units (not a public API): the
// random streams, the truth kept per star and frame, the camera, and the Night that writes it.
// Split from night.cpp only for size; every draw is made in the same order as before, so a seed
// gives the same bytes.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/fits_io.h"
#include "pipeline/image.h"
#include "pipeline/sim/night.h"
#include "pipeline/sim/sky.h"

namespace tianyu::pipeline::sim::detail {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;

// Independent, reproducible random streams: one per frame and purpose.
inline std::mt19937_64 stream(std::uint64_t seed, std::uint64_t id) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (id + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return std::mt19937_64(z ^ (z >> 31));
}

enum Stream : std::uint64_t { kCatalogue = 1, kNight = 2, kFaults = 3, kCamera = 4,
                              kSkyField = 5, kPointings = 6,  // real-sky: from the field seed
                              kBias = 1000, kFlat = 2000, kDark = 3000, kScience = 10000 };

enum class Variability { none, transit, eclipsing, pulsating, flare };
inline const char* name(Variability v) {
  switch (v) {
    case Variability::transit: return "transit";
    case Variability::eclipsing: return "eclipsing";
    case Variability::pulsating: return "pulsating";
    case Variability::flare: return "flare";
    default: return "none";
  }
}

struct Star {
  double ra, dec, x, y, mag, e_per_s;
  Variability variability = Variability::none;
  long field_index = -1;  // real sky: the star's place in the field (its truth star_id)
  std::string id;         // real sky: its catalogue id (TYC2 J... or SIM-...)
};

enum class Fault { none, satellite_trail, cloud_out, double_image };

struct FrameTruth {
  std::string file;
  std::string date_obs;
  double jd_utc_mid, bjd_tdb, dx, dy, fwhm, transparency, sky_e;
  Fault fault = Fault::none;
};

struct Camera {
  std::vector<float> column_adu;  // bias column structure
  std::vector<float> response;    // vignetting x pixel response, mean 1: what a flat measures
  std::vector<std::pair<int, int>> hot;
};

struct Signals {
  double t0, t1;  // night start and end (BJD)
  double transit_mid, transit_duration, transit_ingress;
  double flare_time;
};

// The night's start (SimConfig::start_utc) as a JD(UTC); SimConfigError("start_utc") if bad.
double parse_utc(const std::string& iso);
// Tangent-plane (TAN) offsets in degrees -> RA/Dec.
void tan_to_sky(double xi_deg, double eta_deg, double ra0, double dec0, double& ra, double& dec);
// The relative brightness of a star of variability `v` at BJD `t`.
double variability(const SimConfig& c, const Signals& s, Variability v, double t);
// Electrons -> camera ADU: full well, gain, read noise, bias with its column pattern.
void digitise(Image& e, const SimConfig& c, const Camera& cam, std::mt19937_64& rng);
// Photon noise on every pixel (Poisson below 30 e-, Gaussian above).
void add_noise(Image& e, std::mt19937_64& rng);

class Night {
 public:
  Night(const SimConfig& c, std::filesystem::path out);
  NightSummary write(int threads, const std::function<void(int, int)>& progress);

 private:
  // night_model.cpp: the camera, the frames' conditions and faults, the star catalogue.
  void make_camera();
  void make_frames();
  void make_catalogue();
  // sky_night.cpp: the real-sky stars of this night and their truth (truth/sky.json).
  void make_sky_catalogue();
  void write_sky_truth() const;
  double flux_e(const Star& s, const FrameTruth& f) const;
  // night_frames.cpp: the FITS files.
  Header header(const std::string& type, double exptime, const std::string& date_obs) const;
  void add_wcs(Header& h, const FrameTruth& f) const;
  void apply_response(Image& e) const;
  Image dark_electrons(double exptime) const;
  void write_calibration(const char* kind, const char* imagetyp, int i, double exptime, const Image& adu) const;
  void write_bias(int i);
  void write_dark(int i);
  void write_flat(int i);
  void write_science(int k);
  // night_truth.cpp: truth/stars.csv, frames.csv, flux.csv, signals.json.
  void write_truth() const;
  void write_star_truth() const;  // truth/stars.csv

  const SimConfig& c_;
  std::filesystem::path out_;
  Camera cam_;
  std::vector<FrameTruth> frames_;
  std::vector<Star> stars_;
  Signals signals_{};
  // Real sky only: the night's projection (first frame) and the field it draws from.
  TanProjection tan_{};
  double field_radius_deg_ = 0;
  int field_stars_ = 0, tycho2_stars_ = 0, synthetic_stars_ = 0;
};

}  // namespace tianyu::pipeline::sim::detail
