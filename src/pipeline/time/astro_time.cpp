#include "pipeline/time/astro_time.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <vector>

namespace tianyu::pipeline {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;
constexpr double kJ2000 = 2451545.0;
constexpr double kLightDayAu = 173.1446326846693;  // c in AU per day
constexpr double kObliquityJ2000 = 23.4392911 * kDeg;

std::string trimmed(const std::string& s) {
  std::size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

// Seconds resolved by the last digits of a number or a time written as text.
double resolution(const std::string& text, double unit_s) {
  const auto dot = text.find('.');
  if (dot == std::string::npos) return unit_s;
  int digits = 0;
  for (std::size_t i = dot + 1; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) ++digits;
  return unit_s * std::pow(10.0, -digits);
}

// Parses "HH:MM:SS[.fff]" into seconds of the day.
bool parse_clock(const std::string& text, double& seconds, std::size_t& used) {
  int h = 0, m = 0, n = 0;
  double s = 0;
  if (std::sscanf(text.c_str(), "%2d:%2d:%lf%n", &h, &m, &s, &n) != 3) return false;
  if (h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s >= 61) return false;
  seconds = h * 3600.0 + m * 60.0 + s;
  used = static_cast<std::size_t>(n);
  return true;
}

struct Elements {
  double a, a_dot, e, e_dot, i, i_dot, l, l_dot, peri, peri_dot, node, node_dot;
};
// Standish, "Keplerian Elements for Approximate Positions of the Major Planets" (JPL), table 1
// (1800-2050): degrees and AU at J2000, then per Julian century.
constexpr Elements kEarthMoon{1.00000261, 0.00000562, 0.01671123, -0.00004392, -0.00001531, -0.01294668,
                              100.46457166, 35999.37244981, 102.93768193, 0.32327364, 0.0, 0.0};
constexpr std::array<Elements, 4> kGiants{{
    {5.20288700, -0.00011607, 0.04838624, -0.00013253, 1.30439695, -0.00183714, 34.39644051,
     3034.74612775, 14.72847983, 0.21252668, 100.47390909, 0.20469106},
    {9.53667594, -0.00125060, 0.05386179, -0.00050991, 2.48599187, 0.00193609, 49.95424423,
     1222.49362201, 92.59887831, -0.41897216, 113.66242448, -0.28867794},
    {19.18916464, -0.00196176, 0.04725744, -0.00004397, 0.77263783, -0.00242939, 313.23810451,
     428.48202785, 170.95427630, 0.40805281, 74.01692503, 0.04240589},
    {30.06992276, 0.00026291, 0.00859048, 0.00005105, 1.77004347, 0.00035372, -55.12002969,
     218.45945325, 44.96476227, -0.32241464, 131.78422574, -0.00508664},
}};
// Sun / planet mass ratios (planet with its moons), IAU 2009 / DE405.
constexpr std::array<double, 4> kSunOverGiant{1047.348644, 3497.9018, 22902.98, 19412.26};

// Heliocentric equatorial (J2000) position in AU.
Vector3 heliocentric(const Elements& el, double centuries) {
  const double a = el.a + el.a_dot * centuries, e = el.e + el.e_dot * centuries;
  const double inc = (el.i + el.i_dot * centuries) * kDeg;
  const double l = el.l + el.l_dot * centuries, peri = el.peri + el.peri_dot * centuries;
  const double node = (el.node + el.node_dot * centuries) * kDeg;
  const double omega = peri * kDeg - node;
  const double mean_anomaly = std::remainder((l - peri) * kDeg, 2 * kPi);
  double ecc = mean_anomaly + e * std::sin(mean_anomaly);
  for (int k = 0; k < 20; ++k) {  // Newton on Kepler's equation
    const double step = (ecc - e * std::sin(ecc) - mean_anomaly) / (1 - e * std::cos(ecc));
    ecc -= step;
    if (std::abs(step) < 1e-14) break;
  }
  const double xp = a * (std::cos(ecc) - e), yp = a * std::sqrt(1 - e * e) * std::sin(ecc);
  const double co = std::cos(omega), so = std::sin(omega), cn = std::cos(node), sn = std::sin(node);
  const double ci = std::cos(inc), si = std::sin(inc);
  const double x = (co * cn - so * sn * ci) * xp + (-so * cn - co * sn * ci) * yp;
  const double y = (co * sn + so * cn * ci) * xp + (-so * sn + co * cn * ci) * yp;
  const double z = (so * si) * xp + (co * si) * yp;
  const double ce = std::cos(kObliquityJ2000), se = std::sin(kObliquityJ2000);
  return {x, ce * y - se * z, se * y + ce * z};
}

// The Moon's geocentric equatorial position in AU (low precision: a few hundred km, which is
// 1 ms of light time once scaled by the Moon's share of the Earth-Moon barycentre).
Vector3 moon_geocentric(double jd_tdb) {
  const double d = jd_tdb - kJ2000;
  const double lambda = (218.316 + 13.176396 * d + 6.289 * std::sin((134.963 + 13.064993 * d) * kDeg)) * kDeg;
  const double beta = 5.128 * std::sin((93.272 + 13.229350 * d) * kDeg) * kDeg;
  const double distance = 385001.0 / 149597870.7;
  const double x = distance * std::cos(beta) * std::cos(lambda), y = distance * std::cos(beta) * std::sin(lambda),
               z = distance * std::sin(beta);
  const double eps = (23.439 - 0.0000004 * d) * kDeg;  // of date: the Moon needs no better
  return {x, std::cos(eps) * y - std::sin(eps) * z, std::sin(eps) * y + std::cos(eps) * z};
}

struct LeapSecond {
  int year, month;
  double tai_minus_utc;
};
constexpr std::array<LeapSecond, 28> kLeapSeconds{{
    {1972, 1, 10}, {1972, 7, 11}, {1973, 1, 12}, {1974, 1, 13}, {1975, 1, 14}, {1976, 1, 15},
    {1977, 1, 16}, {1978, 1, 17}, {1979, 1, 18}, {1980, 1, 19}, {1981, 7, 20}, {1982, 7, 21},
    {1983, 7, 22}, {1985, 7, 23}, {1988, 1, 24}, {1990, 1, 25}, {1991, 1, 26}, {1992, 7, 27},
    {1993, 7, 28}, {1994, 7, 29}, {1996, 1, 30}, {1997, 7, 31}, {1999, 1, 32}, {2006, 1, 33},
    {2009, 1, 34}, {2012, 7, 35}, {2015, 7, 36}, {2017, 1, 37},
}};

std::optional<std::string> card(const std::map<std::string, std::string>& header, const char* key) {
  const auto it = header.find(key);
  if (it == header.end()) return std::nullopt;
  auto v = trimmed(it->second);
  if (v.empty()) return std::nullopt;
  return v;
}

double number(const std::string& key, const std::string& text) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw TimeError(key + " = '" + text + "' is not a number");
}

}  // namespace

double julian_date(int y, int mo, int d, int h, int mi, double s) {
  if (mo <= 2) {
    y -= 1;
    mo += 12;
  }
  const int a = y / 100, b = 2 - a + a / 4;
  return std::floor(365.25 * (y + 4716)) + std::floor(30.6001 * (mo + 1)) + d + b - 1524.5 +
         (h * 3600.0 + mi * 60.0 + s) / 86400.0;
}

double parse_iso_utc(const std::string& raw, const std::string& what) {
  const std::string text = trimmed(raw);
  int y = 0, mo = 0, d = 0, n = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10 || mo < 1 ||
      mo > 12 || d < 1 || d > 31) {
    throw TimeError(what + " = '" + raw + "' is not an ISO date (YYYY-MM-DD[THH:MM:SS])");
  }
  double seconds = 0, offset_s = 0;
  std::size_t pos = 10;
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != ' ') throw TimeError(what + " = '" + raw + "': expected 'T' after the date");
    std::size_t used = 0;
    if (!parse_clock(text.substr(pos + 1), seconds, used)) {
      throw TimeError(what + " = '" + raw + "': the time is not HH:MM:SS");
    }
    pos += 1 + used;
    const std::string zone = text.substr(pos);
    if (zone == "Z" || zone == "UTC" || zone.empty()) {
    } else if (zone[0] == '+' || zone[0] == '-') {
      int zh = 0, zm = 0;
      const std::string digits = zone.substr(1);
      if (std::sscanf(digits.c_str(), "%2d:%2d", &zh, &zm) != 2 &&
          !(digits.size() == 4 && std::sscanf(digits.c_str(), "%2d%2d", &zh, &zm) == 2) &&
          !(digits.size() == 2 && std::sscanf(digits.c_str(), "%2d", &zh) == 1)) {
        throw TimeError(what + " = '" + raw + "': the zone '" + zone + "' is not +HHMM or +HH:MM");
      }
      offset_s = (zone[0] == '-' ? -1 : 1) * (zh * 3600.0 + zm * 60.0);
    } else {
      throw TimeError(what + " = '" + raw + "': unexpected '" + zone + "' after the time");
    }
  }
  // Local time = UTC + offset, so UTC = local - offset ("-0700": add seven hours).
  return julian_date(y, mo, d, 0, 0, seconds - offset_s);
}

std::string iso_from_jd(double jd) {
  const double z = std::floor(jd + 0.5), f = jd + 0.5 - z;
  const double alpha = std::floor((z - 1867216.25) / 36524.25);
  const double a = z + 1 + alpha - std::floor(alpha / 4);
  const double b = a + 1524, c = std::floor((b - 122.1) / 365.25), d = std::floor(365.25 * c);
  const double e = std::floor((b - d) / 30.6001);
  int day = static_cast<int>(b - d - std::floor(30.6001 * e));
  const int month = static_cast<int>(e < 14 ? e - 1 : e - 13);
  const int year = static_cast<int>(month > 2 ? c - 4716 : c - 4715);
  long long ms = std::llround(f * 86400000.0);
  if (ms >= 86400000LL) return iso_from_jd(std::floor(jd + 0.5) + 0.5);  // rounded into the next day
  char out[40];
  std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02lld:%02lld:%02lld.%03lld", year, month, day,
                ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, ms % 1000);
  return out;
}

double tai_minus_utc(double jd_utc) {
  if (jd_utc < julian_date(1972, 1, 1, 0, 0, 0)) {
    throw TimeError("times before 1972 (UTC with rubber seconds) are not supported");
  }
  double offset = kLeapSeconds.front().tai_minus_utc;
  for (const auto& l : kLeapSeconds) {
    if (jd_utc >= julian_date(l.year, l.month, 1, 0, 0, 0)) offset = l.tai_minus_utc;
  }
  return offset;
}

double tdb_minus_tt(double jd_tt) {
  const double g = (357.53 + 0.98560028 * (jd_tt - kJ2000)) * kDeg;
  return 0.001657 * std::sin(g) + 0.000014 * std::sin(2 * g);
}

ExposureStart exposure_start(const std::map<std::string, std::string>& header) {
  std::vector<ExposureStart> found;
  for (const char* key : {"UT-OBS", "DATE-OBS", "DATE-BEG"}) {
    const auto v = card(header, key);
    if (v && v->find('T') != std::string::npos) {
      found.push_back({parse_iso_utc(*v, key), key, resolution(*v, 1.0)});
    }
  }
  if (const auto date = card(header, "DATE-OBS"); date && date->find('T') == std::string::npos) {
    for (const char* key : {"TIME-OBS", "UT", "UTSTART", "UT-START"}) {
      if (const auto t = card(header, key)) {
        found.push_back({parse_iso_utc(*date + "T" + *t, std::string("DATE-OBS + ") + key),
                         std::string("DATE-OBS+") + key, resolution(*t, 1.0)});
        break;
      }
    }
  }
  for (const char* key : {"JD", "JD-OBS", "JD_OBS"}) {
    if (const auto v = card(header, key)) found.push_back({number(key, *v), key, resolution(*v, 86400.0)});
  }
  for (const char* key : {"MJD-OBS", "MJD"}) {
    if (const auto v = card(header, key)) {
      found.push_back({number(key, *v) + 2400000.5, key, resolution(*v, 86400.0)});
    }
  }
  if (found.empty()) {
    throw TimeError("no exposure start time: none of UT-OBS, DATE-OBS (with a time, or with "
                    "TIME-OBS/UT), DATE-BEG, JD, JD-OBS, MJD-OBS, MJD is present");
  }
  // The finest; on a tie the first in the order above.
  return *std::min_element(found.begin(), found.end(),
                           [](const ExposureStart& a, const ExposureStart& b) { return a.precision_s < b.precision_s; });
}

Vector3 earth_barycentric_au(double jd_tdb) {
  const double centuries = (jd_tdb - kJ2000) / 36525.0;
  const Vector3 emb = heliocentric(kEarthMoon, centuries);
  // The Sun about the barycentre: minus the mass-weighted giants.
  Vector3 sun;
  double mass = 1.0;
  for (std::size_t i = 0; i < kGiants.size(); ++i) {
    const Vector3 p = heliocentric(kGiants[i], centuries);
    const double m = 1.0 / kSunOverGiant[i];
    sun.x -= m * p.x;
    sun.y -= m * p.y;
    sun.z -= m * p.z;
    mass += m;
  }
  const Vector3 moon = moon_geocentric(jd_tdb);
  constexpr double kMoonShare = 1.0 / (1.0 + 81.30056);  // m_moon / (m_earth + m_moon)
  return {emb.x + sun.x / mass - kMoonShare * moon.x, emb.y + sun.y / mass - kMoonShare * moon.y,
          emb.z + sun.z / mass - kMoonShare * moon.z};
}

double bjd_tdb(double jd_utc, double ra_deg, double dec_deg) {
  const double jd_tt = jd_utc + (tai_minus_utc(jd_utc) + 32.184) / 86400.0;
  const double jd_tdb = jd_tt + tdb_minus_tt(jd_tt) / 86400.0;
  const Vector3 earth = earth_barycentric_au(jd_tdb);
  const double ra = ra_deg * kDeg, dec = dec_deg * kDeg;
  const double toward_star = earth.x * std::cos(dec) * std::cos(ra) + earth.y * std::cos(dec) * std::sin(ra) +
                             earth.z * std::sin(dec);
  return jd_tdb + toward_star / kLightDayAu;
}

}  // namespace tianyu::pipeline
