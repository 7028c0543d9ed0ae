#include "pipeline/time/airmass.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tp = tianyu::pipeline;

// The reference values are astropy 6's (SkyCoord(ra, dec).transform_to(AltAz(obstime, location)),
// no refraction, IERS auto-download off) for HAT-P-32 (RA 31.0427, Dec 46.6878) from Xinglong
// (40.3933 N, 117.5750 E, 960 m).
TEST(Airmass, AltitudeMatchesAstropy) {
  const tp::Site xinglong{40.3933, 117.5750, 960};
  // 2017-12-20T14:00:00 UTC: alt 70.50036, sec z 1.060846.
  EXPECT_NEAR(tp::altitude_deg(xinglong, 2458108.0833333335, 31.0427, 46.6878), 70.50036, 0.02);
  // 2017-12-20T20:30:00 UTC: alt 10.68452, sec z 5.39371.
  EXPECT_NEAR(tp::altitude_deg(xinglong, 2458108.3541666665, 31.0427, 46.6878), 10.68452, 0.02);
  // 2017-12-21T00:00:00 UTC: below the horizon (alt -2.759), so no airmass.
  EXPECT_NEAR(tp::altitude_deg(xinglong, 2458108.5, 31.0427, 46.6878), -2.759, 0.02);
  EXPECT_TRUE(std::isnan(tp::airmass(xinglong, 2458108.5, 31.0427, 46.6878)));
}

TEST(Airmass, GreenwichSiderealTimeMatchesAstropy) {
  // astropy Time('2017-12-20T14:00:00').sidereal_time('mean', longitude=0): 299.34737 deg.
  EXPECT_NEAR(tp::greenwich_mean_sidereal_deg(2458108.0833333335), 299.34737, 0.003);
}

TEST(Airmass, PickeringFormula) {
  // 1 / sin(h + 244 / (165 + 47 h^1.1)) evaluated in Python: 70.50036 -> 1.0605412,
  // 10.68452 -> 5.2460285, 30 -> 1.9931538, 0 -> 38.7494.
  EXPECT_NEAR(tp::pickering_airmass(70.50036492798856), 1.0605412, 1e-6);
  EXPECT_NEAR(tp::pickering_airmass(10.684523527448246), 5.2460285, 1e-6);
  EXPECT_NEAR(tp::pickering_airmass(30.0), 1.9931538, 1e-6);
  EXPECT_NEAR(tp::pickering_airmass(0.0), 38.7494, 1e-3);
  // At 70 degrees it is astropy's sec z within 0.05 %.
  const tp::Site xinglong{40.3933, 117.5750, 960};
  EXPECT_NEAR(tp::airmass(xinglong, 2458108.0833333335, 31.0427, 46.6878), 1.060846, 0.0006);
}
