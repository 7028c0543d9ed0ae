// Source extraction: positions and fluxes of known stars, hot pixels dropped, and a source
// larger than SEP's default pixel stack still extracted.
#include "pipeline/detection/extract.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "pipeline/sep_support.h"
#include "pipeline/sim/night.h"

namespace tianyu::pipeline {
namespace {

TEST(Extract, FindsKnownStarsAndDropsHotPixels) {
  Image image(200, 150);
  std::mt19937_64 rng(1);
  std::normal_distribution<double> noise(0.0, 5.0);
  for (auto& v : image.pixels) v = static_cast<float>(noise(rng));
  const std::vector<std::pair<double, double>> stars{{40.3, 30.7}, {150.6, 100.2}, {90.0, 75.5}};
  for (std::size_t i = 0; i < stars.size(); ++i) {
    sim::add_moffat_star(image, stars[i].first, stars[i].second, 2e4 * (i + 1), 3.0, 3.0);
  }
  image.at(120, 20) = 5000;  // a hot pixel: all its flux in one pixel
  const auto sources = extract_sources(image, nullptr, 5.0);
  ASSERT_EQ(sources.size(), 3u);
  // Brightest first: the third star, then the second, then the first.
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& [x, y] = stars[2 - i];
    EXPECT_NEAR(sources[i].x, x, 0.05) << i;
    EXPECT_NEAR(sources[i].y, y, 0.05) << i;
  }
}

// 700 x 700 pixels above threshold: more than SEP's default stack of 300,000 pixels. The stack
// grows and the source comes out whole.
TEST(Extract, ASourceBiggerThanThePixelStackIsStillExtracted) {
  Image image(1000, 1000);
  for (int y = 150; y < 850; ++y)
    for (int x = 150; x < 850; ++x) image.at(x, y) = 100.0f + 0.001f * (x + y);
  const auto sources = extract_sources(image, nullptr, 1.0);
  ASSERT_EQ(sources.size(), 1u);
  // The 3x3 detection filter spreads the square's edge by one pixel on each side.
  EXPECT_EQ(sources[0].npix, 702 * 702);
  EXPECT_NEAR(sources[0].x, 499.5, 0.5);
}

TEST(Extract, RejectsAZeroNoiseLevelAndAMismatchedMask) {
  const Image image(10, 10);
  EXPECT_THROW(extract_sources(image, nullptr, 0.0), ExtractionError);
  const std::vector<std::uint8_t> mask(5, 0);
  EXPECT_THROW(extract_sources(image, &mask, 1.0), ExtractionError);
  try {
    extract_sources(image, nullptr, 0.0);
  } catch (const ExtractionError& e) {
    EXPECT_FALSE(e.retryable()) << e.what();
  }
}

// A frame SEP cannot process: 4,400 stars 6 px apart on one bright pedestal form a single
// object above threshold with more peaks than SEP's 1024 sub-objects when deblending. The
// error carries SEP's message and its detail, and a retry cannot help (same frame, same
// outcome).
TEST(Extract, AFrameSepCannotDeblendIsABadInputWithSepsDetail) {
  Image image(400, 400);
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const int cx = x / 6 * 6 + 3, cy = y / 6 * 6 + 3;
      image.at(x, y) = 10.0f + 100.0f * std::exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / 2.0f);
    }
  }
  try {
    extract_sources(image, nullptr, 1.0);
    ADD_FAILURE() << "SEP deblended 4,400 peaks of one object";
  } catch (const ExtractionError& e) {
    const std::string text = e.what();
    EXPECT_EQ(text.rfind("sep_extract: object deblending overflow (", 0), 0u) << text;
    EXPECT_NE(text.find("limit of sub-objects reached while deblending"), std::string::npos) << text;
    EXPECT_FALSE(e.retryable()) << text;
    EXPECT_FALSE(retry_can_help(e));
  }
}

// Only SEP running out of memory (MEMORY_ALLOC_ERROR) may pass on a later attempt.
TEST(Extract, OnlySepsMemoryErrorIsRetryable) {
  EXPECT_TRUE(sep_support::retry_can_help(sep_support::kMemoryAllocError));
  EXPECT_EQ(sep_support::message(sep_support::kMemoryAllocError), "memory allocation");
  for (int status : {2, 3, 7, 8, 9, 10}) EXPECT_FALSE(sep_support::retry_can_help(status)) << status;
  EXPECT_TRUE(ExtractionError("sep_extract: memory allocation", true).retryable());
}

// The catalogue CSV writes each value at 10 significant digits, as an ostream at precision 10
// does (the align step and the catalogues written before read it back that way).
// n random sources (positions on and off a 4k frame, fluxes over many decades, a and b scaled
// to tiny and huge values, negative pixel counts), then one of zeros.
std::vector<Source> random_catalogue(unsigned seed, int n, double flux_sigma, double a_scale, double b_scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> position(-5, 4100);
  std::lognormal_distribution<double> flux(8, flux_sigma);
  std::vector<Source> sources;
  for (int i = 0; i < n; ++i) {
    Source s;
    s.x = position(rng), s.y = position(rng), s.flux = flux(rng), s.peak = -flux(rng), s.a = a_scale * flux(rng);
    s.b = b_scale * flux(rng), s.theta = position(rng) / 1e3, s.npix = i * 37 - 900, s.flag = i % 7;
    sources.push_back(s);
  }
  sources.push_back(Source{});
  return sources;
}

TEST(Extract, TheCatalogueCsvWritesTenSignificantDigits) {
  const auto sources = random_catalogue(9, 500, 3, 1e-9, 1e12);
  std::ostringstream expected;
  expected << "x,y,flux,peak,a,b,theta,npix,flag\n";
  expected.precision(10);
  for (const auto& s : sources) {
    expected << s.x << ',' << s.y << ',' << s.flux << ',' << s.peak << ',' << s.a << ',' << s.b << ',' << s.theta << ','
             << s.npix << ',' << s.flag << '\n';
  }
  EXPECT_EQ(sources_csv(sources), expected.str());
  EXPECT_EQ(sources_csv({}), "x,y,flux,peak,a,b,theta,npix,flag\n");
}

// The catalogue read back must be what the old reader (an istream over the line with its commas
// made blanks, i.e. strtod) gave, double for double, on everything sources_csv writes.
TEST(Extract, TheCatalogueCsvReadsBackAsStrtodReadsIt) {
  const auto sources = random_catalogue(11, 2000, 4, 1e-300, 1e200);
  const std::string text = sources_csv(sources);
  const auto parsed = parse_sources_csv(text);
  ASSERT_EQ(parsed.size(), sources.size());
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);
  for (const auto& p : parsed) {
    std::getline(lines, line);
    std::replace(line.begin(), line.end(), ',', ' ');
    std::istringstream row(line);
    Source s;
    row >> s.x >> s.y >> s.flux >> s.peak >> s.a >> s.b >> s.theta >> s.npix >> s.flag;
    ASSERT_TRUE(row) << line;
    for (const auto& [mine, theirs] : {std::pair{p.x, s.x}, {p.y, s.y}, {p.flux, s.flux}, {p.peak, s.peak},
                                       {p.a, s.a}, {p.b, s.b}, {p.theta, s.theta}}) {
      EXPECT_EQ(std::memcmp(&mine, &theirs, sizeof mine), 0) << line;
    }
    EXPECT_EQ(p.npix, s.npix);
    EXPECT_EQ(p.flag, s.flag);
  }
  // Windows line ends and blanks around fields read the same; an empty catalogue is empty.
  const auto crlf = parse_sources_csv("x,y,flux,peak,a,b,theta,npix,flag\r\n 1.5, 2 ,3,4,5,6,7,8,9\r\n");
  ASSERT_EQ(crlf.size(), 1u);
  EXPECT_EQ(crlf[0].y, 2.0);
  EXPECT_EQ(crlf[0].flag, 9);
  EXPECT_TRUE(parse_sources_csv("x,y,flux,peak,a,b,theta,npix,flag\n").empty());
}

TEST(Extract, AMalformedCatalogueLineIsNamedWithItsField) {
  const std::string head = "x,y,flux,peak,a,b,theta,npix,flag\n1,2,3,4,5,6,7,8,9\n";
  const auto message = [&](const std::string& bad) {
    try {
      parse_sources_csv(head + bad);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("1,2,x3,4,5,6,7,8,9\n"), "line 3: field 'flux' is not a number followed by a comma");
  EXPECT_EQ(message("1,2,3,4,5,6,7,8\n"), "line 3: field 'npix' is not a number followed by a comma");
  EXPECT_EQ(message("1,2,3,4,5,6,7,8,9,10\n"), "line 3: field 'flag' is not a number ending the line");
  EXPECT_EQ(message("1,2,3,4,5,6,7,8.5,9\n"), "line 3: field 'npix' is not a number followed by a comma");
}

}  // namespace
}  // namespace tianyu::pipeline
