// Stacking in bands equals the whole-image stack bit for bit (fractional, rotated and integer
// transforms, masks, a rejected frame, child nodes with weight maps, band heights that do not
// divide the height), also through FITS files read and written a band at a time.
#include "pipeline/stacking/banded_stack.h"

#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "pipeline/fits_io.h"
#include "pipeline/fits_rows.h"
#include "pipeline/sim/night.h"
#include "pipeline/streaming/minute_frame.h"

namespace tianyu::pipeline {
namespace {

namespace fs = std::filesystem;
constexpr int kWidth = 97, kHeight = 83;

struct Frame {
  Image image;
  std::vector<std::uint8_t> mask;
  double weight;
  FrameTransform transform;
};

FrameTransform rotated(double degrees, double scale, double dx, double dy) {
  const double a = degrees * 3.14159265358979323846 / 180;
  return {dx, dy, scale * std::cos(a), -scale * std::sin(a), scale * std::sin(a), scale * std::cos(a)};
}

// Stars and noise on frames of slightly different sizes, each with a few bad pixels.
std::vector<Frame> frames() {
  std::mt19937_64 rng(17);
  std::normal_distribution<double> noise(0, 5);
  std::uniform_int_distribution<int> bad(0, 40);
  const std::vector<std::pair<double, FrameTransform>> setups = {
      {1.0, FrameTransform::translation(0.37, -1.61)}, {1.0, FrameTransform::translation(3, -2)},
      {1.0, rotated(0.6, 1.001, 1.3, -0.7)},           {0.0, FrameTransform::translation(0.5, 0.5)},
      {1.0, rotated(-1.1, 0.999, -2.2, 4.4)},          {2.0, FrameTransform::translation(-0.25, 0.75)}};
  std::vector<Frame> out;
  for (std::size_t i = 0; i < setups.size(); ++i) {
    Frame f{Image(kWidth + static_cast<int>(i % 3), kHeight + static_cast<int>(i % 2)), {}, setups[i].first,
            setups[i].second};
    sim::add_moffat_star(f.image, 30, 20, 3e4, 3.0, 3.0);
    sim::add_moffat_star(f.image, 70, 60, 1e4, 3.0, 3.0);
    for (auto& v : f.image.pixels) v += static_cast<float>(100 + noise(rng));
    f.mask.assign(f.image.pixels.size(), 0);
    for (std::size_t p = 0; p < f.mask.size(); ++p) f.mask[p] = bad(rng) == 0 ? 2 : 0;
    out.push_back(std::move(f));
  }
  return out;
}

// Two child nodes: stacks of the first and last frames, with their weight maps.
std::vector<Stack> nodes(const std::vector<Frame>& f) {
  std::vector<Stack> out;
  for (const auto& [a, b] : std::vector<std::pair<int, int>>{{0, 2}, {4, 5}}) {
    out.push_back(stack_node({{&f[a].image, f[a].weight, f[a].transform, &f[a].mask},
                              {&f[b].image, f[b].weight, f[b].transform, &f[b].mask}},
                             kWidth, kHeight));
  }
  return out;
}

Stack whole(const std::vector<Frame>& f, const std::vector<Stack>& n) {
  std::vector<StackInput> in;
  for (const auto& x : f) in.push_back({&x.image, x.weight, x.transform, &x.mask});
  for (const auto& s : n) in.push_back({&s.image, 1.0, {}, nullptr, &s.weight_map});
  return stack_node(in, kWidth, kHeight, 2);
}

FloatRows rows_of(const Image& im) {
  return [&im](int y0, int rows, float* out) { std::copy_n(im.row(y0), static_cast<std::size_t>(rows) * im.width, out); };
}

std::vector<BandedChild> in_memory(const std::vector<Frame>& f, const std::vector<Stack>& n) {
  std::vector<BandedChild> out;
  for (const auto& x : f) {
    MaskRows mask = [&x](int y0, int rows, std::uint8_t* o) {
      std::copy_n(x.mask.data() + static_cast<std::size_t>(y0) * x.image.width, static_cast<std::size_t>(rows) * x.image.width, o);
    };
    out.push_back({x.image.width, x.image.height, x.weight, x.transform, rows_of(x.image), mask, {}});
  }
  for (const auto& s : n) out.push_back({kWidth, kHeight, 1.0, {}, rows_of(s.image), {}, rows_of(s.weight_map)});
  return out;
}

void expect_identical(const Stack& a, const Stack& b, const std::string& what) {
  ASSERT_EQ(a.image.pixels.size(), b.image.pixels.size()) << what;
  std::size_t differ = 0, covered = 0;
  for (std::size_t p = 0; p < a.image.pixels.size(); ++p) {
    differ += a.image.pixels[p] != b.image.pixels[p] || a.weight_map.pixels[p] != b.weight_map.pixels[p];
    covered += a.weight_map.pixels[p] > 0;
  }
  EXPECT_EQ(differ, 0u) << what;
  EXPECT_GT(covered, a.image.pixels.size() / 2) << what << ": most pixels are covered";
}

TEST(BandedStack, EqualsTheWholeStackBitForBitWhateverTheBandHeight) {
  const auto f = frames();
  const auto n = nodes(f);
  const Stack expected = whole(f, n);
  for (const int band : {1, 7, 16, 40, kHeight, 200}) {
    Stack got{Image(kWidth, kHeight), Image(kWidth, kHeight)};
    int next = 0;
    stack_in_bands(in_memory(f, n), kWidth, kHeight, band, [&](int y0, const Stack& s) {
      EXPECT_EQ(y0, next);
      std::copy(s.image.pixels.begin(), s.image.pixels.end(), got.image.row(y0));
      std::copy(s.weight_map.pixels.begin(), s.weight_map.pixels.end(), got.weight_map.row(y0));
      next = y0 + s.image.height;
    }, 2);
    EXPECT_EQ(next, kHeight);
    expect_identical(got, expected, "band of " + std::to_string(band) + " rows");
  }
}

TEST(BandedStack, FrameRowsCoverTheBandPlusInterpolationMargin) {
  // dy = 2.5: output rows 10..19 read frame rows 12..22; one more each side against rounding.
  const auto r = frame_rows_for_band(FrameTransform::translation(0, 2.5), 50, 10, 20, 100);
  EXPECT_EQ(r.first, 11);
  EXPECT_EQ(r.end, 24);
  const auto clipped = frame_rows_for_band(FrameTransform::translation(0, -30), 50, 0, 20, 100);
  EXPECT_EQ(clipped.first, 0);
  EXPECT_EQ(clipped.end, 0) << "the band falls above the frame";
  // A band too short of rows throws instead of reading past them.
  Image part(10, 3);
  EXPECT_THROW(stack_band({{{&part, 1.0, FrameTransform::translation(0, 0)}, 0, 20}}, 10, 20, 5, 5), StackError);
}

TEST(BandedStack, BudgetGivesTheTianyuBandHeight) {
  // 8 masked frames 8120 wide, translated: (256 MiB - 8*5*8120*4) / (8*8120 + 8*5*8120) rows.
  std::vector<BandedChild> children(8);
  for (auto& c : children) c = {8120, 8120, 1.0, FrameTransform::translation(0.4, -3.2), [](int, int, float*) {},
                               [](int, int, std::uint8_t*) {}, {}};
  EXPECT_EQ(band_rows_for_budget(children, 8120, 8120, 256u << 20), 685);
  EXPECT_EQ(band_rows_for_budget(children, 8120, 8120, 1), 16) << "never below 16 rows";
}

TEST(BandedStack, AMinuteStacksMaskInBandsIsItsWholeMask) {
  // A minute of 10 frames of 0.3 s: full exposure 3 s; shifted footprints leave edges short,
  // and the fullest pixels all lie in the last rows, so every other band alone would misjudge.
  Image exposure(40, 50, 2.7f);
  for (int y = 44; y < 50; ++y)
    for (int x = 3; x < 37; ++x) exposure.at(x, y) = 3.0f;
  exposure.at(5, 10) = 3.0f - 1e-5f;  // within the tolerance of a frame time: full
  const auto whole = streaming::partial_exposure_mask(exposure);
  const auto rows = partial_exposure_rows(rows_of(exposure), 40, 50);
  std::vector<std::uint8_t> banded(whole.size());
  for (int y0 = 0; y0 < 50; y0 += 7) rows(y0, std::min(7, 50 - y0), banded.data() + static_cast<std::size_t>(y0) * 40);
  EXPECT_EQ(banded, whole);
  EXPECT_EQ(banded[10 * 40 + 5], 0) << "a full pixel";
  EXPECT_EQ(banded[10 * 40 + 6], kPartialExposure) << "2.7 s of 3 s";
  EXPECT_EQ(banded[45 * 40 + 3], 0);
}

class BandedFits : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("banded_stack_test_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path dir;
};

TEST_F(BandedFits, FilesReadAndWrittenInBandsEqualTheWholeStack) {
  const auto f = frames();
  const auto n = nodes(f);
  std::vector<FitsRowReader> readers;
  readers.reserve(f.size() * 2 + n.size() * 2);
  std::vector<BandedChild> children;
  for (std::size_t i = 0; i < f.size(); ++i) {
    Image m(f[i].image.width, f[i].image.height);
    for (std::size_t p = 0; p < m.pixels.size(); ++p) m.pixels[p] = f[i].mask[p];
    write_fits(dir / ("f" + std::to_string(i) + ".fits"), f[i].image, {});
    write_fits(dir / ("m" + std::to_string(i) + ".fits"), m, {}, PixelType::uint16);
    const auto& image = readers.emplace_back(dir / ("f" + std::to_string(i) + ".fits"));
    const auto& mask = readers.emplace_back(dir / ("m" + std::to_string(i) + ".fits"));
    children.push_back({image.width(), image.height(), f[i].weight, f[i].transform,
                        [&image](int y, int r, float* o) { image.read(y, r, o); },
                        [&mask](int y, int r, std::uint8_t* o) { mask.read(y, r, o); }, {}});
  }
  for (std::size_t i = 0; i < n.size(); ++i) {
    write_fits(dir / ("n" + std::to_string(i) + ".fits"), n[i].image, {});
    write_fits(dir / ("w" + std::to_string(i) + ".fits"), n[i].weight_map, {});
    const auto& image = readers.emplace_back(dir / ("n" + std::to_string(i) + ".fits"));
    const auto& weight = readers.emplace_back(dir / ("w" + std::to_string(i) + ".fits"));
    children.push_back({kWidth, kHeight, 1.0, {}, [&image](int y, int r, float* o) { image.read(y, r, o); }, {},
                        [&weight](int y, int r, float* o) { weight.read(y, r, o); }});
  }
  {
    FitsRowWriter image(dir / "stack.fits", kWidth, kHeight, {{"NCOMBINE", 5LL, "good frames"}});
    FitsRowWriter weight(dir / "stack.weight.fits", kWidth, kHeight, {});
    stack_in_bands(children, kWidth, kHeight, 12, [&](int y0, const Stack& s) {
      image.write(y0, s.image.height, s.image.pixels.data());
      weight.write(y0, s.image.height, s.weight_map.pixels.data());
    });
    EXPECT_FALSE(fs::exists(dir / "stack.fits")) << "nothing at the final name before commit";
    image.commit();
    weight.commit();
  }
  const auto got_image = read_fits(dir / "stack.fits");
  EXPECT_EQ(got_image.header.at("NCOMBINE"), "5");
  expect_identical({got_image.image, read_fits(dir / "stack.weight.fits").image}, whole(f, n), "through FITS");
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path() << " left behind";
  }
}

TEST_F(BandedFits, AnUncommittedWriterLeavesNothing) {
  {
    FitsRowWriter w(dir / "out.fits", 10, 10, {});
    std::vector<float> rows(30, 1.0f);
    w.write(0, 3, rows.data());
    EXPECT_THROW(w.write(5, 3, rows.data()), FitsError) << "rows out of order";
    EXPECT_THROW(w.commit(), FitsError) << "7 rows never written";
  }
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST_F(BandedFits, ATruncatedOrForeignFileFailsNamingIt) {
  write_fits(dir / "frame.fits", Image(64, 64, 1.0f), {});
  fs::resize_file(dir / "frame.fits", 2880 + 64 * 30 * 4);
  try {
    FitsRowReader r(dir / "frame.fits");
    FAIL() << "a truncated file was accepted";
  } catch (const FitsError& e) {
    EXPECT_NE(std::string(e.what()).find("frame.fits"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    EXPECT_FALSE(e.retryable());
  }
  std::ofstream(dir / "notes.fits") << "not a FITS file at all";
  try {
    FitsRowReader r(dir / "notes.fits");
    FAIL() << "a foreign file was accepted";
  } catch (const FitsError& e) {
    EXPECT_NE(std::string(e.what()).find("notes.fits"), std::string::npos) << e.what();
    EXPECT_FALSE(e.retryable());
  }
  write_fits(dir / "small.fits", Image(8, 8), {});
  std::vector<float> out(8 * 4);
  EXPECT_THROW(FitsRowReader(dir / "small.fits").read(6, 4, out.data()), FitsError) << "rows 6..10 of 8";
}

}  // namespace
}  // namespace tianyu::pipeline
