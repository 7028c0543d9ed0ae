#include "pipeline/fits_io.h"

#include <fitsio.h>

#include <functional>
#include <memory>
#include <random>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pipeline/calibration/frame_set.h"
#include "pipeline/fits_rows.h"
#include "pipeline/small_tmpfs.h"
#include "support/scratch_dir_fixture.h"

namespace tianyu::pipeline {
namespace {

namespace fs = std::filesystem;

class FitsIo : public test::ScratchDirTest {
 protected:
  FitsIo() : ScratchDirTest("fits_io_test") {}
};

// A FITS file written by hand: each card padded to 80 characters, the header to 2880 bytes,
// then `data_bytes` zero bytes (none: a header that promises pixels it does not have).
void write_raw_fits(const fs::path& path, const std::vector<std::string>& cards, std::size_t data_bytes) {
  std::string header;
  for (auto card : cards) {
    card.resize(80, ' ');
    header += card;
  }
  header += std::string("END").append(77, ' ');
  header.resize((header.size() + 2879) / 2880 * 2880, ' ');
  std::ofstream out(path, std::ios::binary);
  out << header << std::string(data_bytes, '\0');
}

std::vector<std::string> image_cards(const std::string& naxis1, const std::string& naxis2) {
  return {"SIMPLE  =                    T", "BITPIX  =                  -32", "NAXIS   =                    2",
          "NAXIS1  = " + std::string(20 - naxis1.size(), ' ') + naxis1,
          "NAXIS2  = " + std::string(20 - naxis2.size(), ' ') + naxis2};
}

// What each reader says about `path`: the error text, or "" when it read the file.
std::string fits_error_of(const std::function<void()>& read) {
  try {
    read();
  } catch (const FitsError& e) {
    EXPECT_FALSE(e.retryable()) << "bad input is never retryable: " << e.what();
    return e.what();
  }
  return "";
}

Image ramp(int w, int h) {
  Image im(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) im.at(x, y) = static_cast<float>(x * 0.5 + y * 100.25 - 7);
  return im;
}

TEST_F(FitsIo, Float32RoundTripKeepsPixelsAndHeader) {
  const auto im = ramp(37, 21);
  write_fits(dir_ / "a.fits", im, {{"EXPTIME", 15.0, "s"}, {"FILTER", std::string("r"), ""},
                                   {"NFRAMES", 5LL, ""}, {"FLIPPED", true, ""}});
  const auto back = read_fits(dir_ / "a.fits");
  ASSERT_EQ(back.image.width, 37);
  ASSERT_EQ(back.image.height, 21);
  EXPECT_EQ(back.image.pixels, im.pixels);
  EXPECT_DOUBLE_EQ(std::stod(back.header.at("EXPTIME")), 15.0);
  EXPECT_EQ(back.header.at("FILTER"), "r");
  EXPECT_EQ(back.header.at("NFRAMES"), "5");
  EXPECT_EQ(back.header.at("FLIPPED"), "T");
  // Written atomically: no temporary file is left beside it.
  int files = 0;
  for ([[maybe_unused]] const auto& f : fs::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 1);
}

// The pixels as CFITSIO itself reads them with a NaN null value (its per-pixel test): the rule
// read_fits applies in one pass when it reads a plain float image without that test.
std::vector<std::uint32_t> bits_as_cfitsio_reads(const fs::path& path, long pixels) {
  fitsfile* f = nullptr;
  int status = 0, any_null = 0;
  float null_value = NAN;
  std::vector<float> out(static_cast<std::size_t>(pixels));
  long first[2] = {1, 1};
  fits_open_image(&f, path.c_str(), READONLY, &status);
  fits_read_pix(f, TFLOAT, first, pixels, &null_value, out.data(), &any_null, &status);
  fits_close_file(f, &status);
  EXPECT_EQ(status, 0);
  std::vector<std::uint32_t> bits(out.size());
  std::memcpy(bits.data(), out.data(), out.size() * sizeof(float));
  return bits;
}

std::vector<std::uint32_t> bits_of(const std::vector<float>& v) {
  std::vector<std::uint32_t> bits(v.size());
  std::memcpy(bits.data(), v.data(), v.size() * sizeof(float));
  return bits;
}

TEST_F(FitsIo, NaNInfinitiesAndSubnormalsReadAsCfitsiosNullCheckReadsThem) {
  // NaNs of any sign and payload, infinities, subnormals, signed zeros, and ordinary values.
  const std::vector<std::uint32_t> specials = {0x7FC00000u, 0x7F800001u, 0xFFC00000u, 0x7F800000u, 0xFF800000u,
                                               0x00000001u, 0x80000001u, 0x007FFFFFu, 0x80000000u, 0x00000000u,
                                               0x3FC00000u, 0xC0500000u, 0x7F7FFFFFu, 0x00800000u, 0x80800000u};
  Image im(5, 3);
  std::memcpy(im.pixels.data(), specials.data(), specials.size() * sizeof(float));
  write_fits(dir_ / "specials.fits", im, {});
  const auto expected = bits_as_cfitsio_reads(dir_ / "specials.fits", 15);
  // Spelled out: NaN and +-Inf become the quiet NaN, a zero exponent becomes +0, the rest stay.
  EXPECT_EQ(expected, (std::vector<std::uint32_t>{0x7FC00000u, 0x7FC00000u, 0x7FC00000u, 0x7FC00000u,
                                                  0x7FC00000u, 0u, 0u, 0u, 0u, 0u, 0x3FC00000u, 0xC0500000u,
                                                  0x7F7FFFFFu, 0x00800000u, 0x80800000u}));
  EXPECT_EQ(bits_of(read_fits(dir_ / "specials.fits").image.pixels), expected);
  std::vector<float> rows(10);
  read_fits_rows(dir_ / "specials.fits", 1, 2, rows.data());
  EXPECT_EQ(bits_of(rows), std::vector<std::uint32_t>(expected.begin() + 5, expected.end()));
  // A scaled float image (BSCALE 2) is read by CFITSIO's own test, as before.
  {
    fitsfile* f = nullptr;
    int status = 0;
    long axes[2] = {5, 3};
    const std::string name = (dir_ / "scaled.fits").string();
    fits_create_file(&f, name.c_str(), &status);
    fits_create_img(f, FLOAT_IMG, 2, axes, &status);
    double two = 2;
    fits_update_key(f, TDOUBLE, "BSCALE", &two, nullptr, &status);
    fits_set_bscale(f, 1, 0, &status);  // the raw bits go into the file
    fits_write_img(f, TFLOAT, 1, 15, im.pixels.data(), &status);
    fits_close_file(f, &status);
    ASSERT_EQ(status, 0);
  }
  EXPECT_EQ(bits_of(read_fits(dir_ / "scaled.fits").image.pixels), bits_as_cfitsio_reads(dir_ / "scaled.fits", 15));
  EXPECT_EQ(read_fits(dir_ / "scaled.fits").image.pixels[10], 3.0f);  // 1.5 x BSCALE
}

TEST_F(FitsIo, Uint16RoundsClipsAndUsesBzero) {
  Image im(4, 1);
  im.pixels = {-5.0f, 12.4f, 12.6f, 70000.0f};
  write_fits(dir_ / "u.fits", im, {}, PixelType::uint16);
  const auto back = read_fits(dir_ / "u.fits");
  EXPECT_EQ(back.image.pixels, (std::vector<float>{0.0f, 12.0f, 13.0f, 65535.0f}));
  EXPECT_EQ(back.header.at("BITPIX"), "16");
  EXPECT_EQ(back.header.at("BZERO"), "32768");
}

TEST_F(FitsIo, BrokenFilesAreErrorsNamingTheFile) {
  const auto im = ramp(64, 64);
  write_fits(dir_ / "whole.fits", im, {});
  const auto size = fs::file_size(dir_ / "whole.fits");
  fs::copy_file(dir_ / "whole.fits", dir_ / "truncated.fits");
  fs::resize_file(dir_ / "truncated.fits", size / 2);
  std::ofstream(dir_ / "text.fits") << "this is not a FITS file\n";
  for (const char* name : {"truncated.fits", "text.fits", "missing.fits"}) {
    try {
      read_fits(dir_ / name);
      ADD_FAILURE() << name << " was read";
    } catch (const FitsError& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
      EXPECT_FALSE(e.retryable()) << e.what();
    }
  }
  // The truncation is found from the header, before the pixels are allocated or read.
  const auto message = fits_error_of([&] { read_fits(dir_ / "truncated.fits"); });
  EXPECT_NE(message.find("needs 19264 bytes but the file has 10080: truncated"), std::string::npos) << message;
}

TEST_F(FitsIo, ACubeIsNotAnImage) {
  const auto path = dir_ / "cube.fits";
  fitsfile* f = nullptr;
  int status = 0;
  long axes[3] = {8, 8, 3};
  fits_create_file(&f, path.c_str(), &status);
  fits_create_img(f, FLOAT_IMG, 3, axes, &status);
  std::vector<float> zeros(8 * 8 * 3, 0.0f);
  fits_write_img(f, TFLOAT, 1, zeros.size(), zeros.data(), &status);
  fits_close_file(f, &status);
  ASSERT_EQ(status, 0);
  try {
    read_fits(path);
    ADD_FAILURE() << "a cube was read as an image";
  } catch (const FitsError& e) {
    EXPECT_NE(std::string(e.what()).find("NAXIS is 3"), std::string::npos) << e.what();
  }
}

// A header that claims 100000 x 100000 pixels (40 GB as float32) and has no data is refused,
// naming the file and the cards, before anything that size is allocated: by every reader.
TEST_F(FitsIo, HugeNaxisIsRefusedBeforeAllocation) {
  const auto path = dir_ / "huge.fits";
  write_raw_fits(path, image_cards("100000", "100000"), 0);
  const std::string expected = path.string() + ": NAXIS1 x NAXIS2 = 100000 x 100000 is more than 2147483648 pixels";
  EXPECT_EQ(fits_error_of([&] { read_fits(path); }), expected);
  EXPECT_EQ(fits_error_of([&] { read_fits_info(path); }), expected);
  std::vector<float> row(8);
  EXPECT_EQ(fits_error_of([&] { read_fits_rows(path, 0, 1, row.data()); }), expected);
  EXPECT_EQ(fits_error_of([&] { FitsFrameSet set({path}); }), expected);
  // One axis past the bound, and one that is not positive.
  write_raw_fits(dir_ / "wide.fits", image_cards("100001", "1"), 0);
  EXPECT_EQ(fits_error_of([&] { read_fits_info(dir_ / "wide.fits"); }),
            (dir_ / "wide.fits").string() + ": NAXIS1 = 100001 is outside 1..100000 pixels");
  write_raw_fits(dir_ / "empty.fits", image_cards("16", "0"), 0);
  EXPECT_EQ(fits_error_of([&] { read_fits_info(dir_ / "empty.fits"); }),
            (dir_ / "empty.fits").string() + ": NAXIS2 = 0 is outside 1..100000 pixels");
  // Within the bounds but not in the file (40000^2 would be 6.4 GB): refused as truncated.
  write_raw_fits(dir_ / "claims.fits", image_cards("40000", "40000"), 0);
  EXPECT_EQ(fits_error_of([&] { read_fits(dir_ / "claims.fits"); }),
            (dir_ / "claims.fits").string() +
                ": the header (NAXIS1 = 40000, NAXIS2 = 40000, BITPIX = -32) needs 6400002880 bytes "
                "but the file has 2880: truncated");
}

// A card value with a byte that is not UTF-8 (0xFF) or a control character is read as '?';
// valid UTF-8 (an observer's name in Chinese) is kept; the header then becomes JSON.
TEST_F(FitsIo, NonUtf8HeaderValuesAreMadeSafe) {
  const auto path = dir_ / "latin.fits";
  auto cards = image_cards("2", "2");
  cards.push_back("OBSERVER= 'ab\xFF" "cd'");
  cards.push_back("SITE    = '\xE5\xA4\xA9\xE5\x8D\x8E'");
  cards.push_back("NOTE    = 'tab\there\x01'");
  cards.push_back("BROKEN  = '\xE5\xA4x'");  // a 3-byte sequence cut short
  write_raw_fits(path, cards, 2880);
  const auto image = read_fits(path);
  EXPECT_EQ(image.header.at("OBSERVER"), "ab?cd");
  EXPECT_EQ(image.header.at("SITE"), "\xE5\xA4\xA9\xE5\x8D\x8E");
  EXPECT_EQ(image.header.at("NOTE"), "tab?here?");
  EXPECT_EQ(image.header.at("BROKEN"), "??x");
  EXPECT_EQ(image.image.pixels, std::vector<float>(4, 0.0f));
  nlohmann::json json(image.header);
  EXPECT_NO_THROW(json.dump());
  EXPECT_EQ(json.at("OBSERVER"), "ab?cd");
}

TEST_F(FitsIo, ExptimeMustBeANumberEntirely) {
  auto cards = image_cards("2", "2");
  cards.push_back("EXPTIME = '5abc'");
  write_raw_fits(dir_ / "x.fits", cards, 2880);
  EXPECT_EQ(fits_error_of([&] { FitsFrameSet set({dir_ / "x.fits"}, true); }),
            (dir_ / "x.fits").string() + ": EXPTIME '5abc' is not a number");
}

TEST_F(FitsIo, WriteIntoAMissingDirectoryIsNotRetryable) {
  const auto path = dir_ / "no_such_dir" / "a.fits";
  const auto message = fits_error_of([&] { write_fits(path, ramp(8, 8), {}); });
  EXPECT_NE(message.find(path.string() + ": creating"), std::string::npos) << message;
}

// A full disk: CFITSIO's write error carries errno ENOSPC, so the FitsError is retryable (the
// process waits and runs again), and neither the product nor a temporary file is left.
TEST_F(FitsIo, FullDiskIsRetryableAndLeavesNothing) {
  tmpfs_ = std::make_unique<testing::SmallTmpfs>();
  const auto mount = dir_ / "small";
  if (const auto why = tmpfs_->mount(mount); !why.empty()) GTEST_SKIP() << why;
  try {
    write_fits(mount / "big.fits", ramp(1024, 1024), {});  // 4 MiB into 1 MiB
    ADD_FAILURE() << "4 MiB fitted into a 1 MiB file system";
  } catch (const FitsError& e) {
    EXPECT_TRUE(e.retryable()) << e.what();
    EXPECT_NE(std::string(e.what()).find((mount / "big.fits").string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(testing::entries(mount).empty());
  write_fits(mount / "small.fits", ramp(64, 64), {});  // what fits still lands whole
  EXPECT_EQ(read_fits(mount / "small.fits").image.pixels, ramp(64, 64).pixels);
}

// A calibrated frame's mask as calibrate makes it: almost every pixel 0; saturated star cores
// (1), hot pixels (2), a bad flat column (4), a few non-finite pixels (8); 0.3 % flagged.
Image sparse_mask(int w, int h) {
  Image m(w, h);
  std::mt19937 random(17);
  std::uniform_int_distribution<int> x_of(0, w - 1), y_of(0, h - 1);
  for (int star = 0; star < 12; ++star) {
    const int cx = x_of(random), cy = y_of(random);
    for (int y = std::max(0, cy - 2); y <= std::min(h - 1, cy + 2); ++y)
      for (int x = std::max(0, cx - 2); x <= std::min(w - 1, cx + 2); ++x) m.at(x, y) = 1;
  }
  for (int hot = 0; hot < 300; ++hot) m.at(x_of(random), y_of(random)) += 2;
  for (int y = 0; y < h; ++y) m.at(w / 3, y) = 4;
  for (int bad = 0; bad < 20; ++bad) m.at(x_of(random), y_of(random)) = 8;
  return m;
}

// Known answer: the same pixels, as uint16 uncompressed, and the compressed file several times
// smaller; every reader (whole, info, a band, the banded stacker's) sees the image, not the table.
TEST_F(FitsIo, CompressedMaskRoundTripsExactlyAndIsSeveralTimesSmaller) {
  const auto mask = sparse_mask(512, 512);
  const Header header{{"EXTNAME", std::string("MASK"), "MaskBit flags"}};
  write_fits(dir_ / "plain.fits", mask, header, PixelType::uint16);
  write_fits(dir_ / "packed.fits", mask, header, PixelType::uint8, Compression::lossless);
  const auto back = read_fits(dir_ / "packed.fits");
  ASSERT_EQ(back.image.width, 512);
  ASSERT_EQ(back.image.height, 512);
  EXPECT_EQ(back.image.pixels, mask.pixels);
  EXPECT_EQ(back.image.pixels, read_fits(dir_ / "plain.fits").image.pixels);
  EXPECT_EQ(back.header.at("BITPIX"), "8");
  EXPECT_EQ(back.header.at("NAXIS1"), "512");
  EXPECT_EQ(back.header.at("EXTNAME"), "MASK");
  EXPECT_EQ(back.header.count("ZBITPIX"), 0u);
  const auto plain = fs::file_size(dir_ / "plain.fits"), packed = fs::file_size(dir_ / "packed.fits");
  EXPECT_GT(plain, 5 * packed) << plain << " bytes as uint16, " << packed << " compressed";
  const auto info = read_fits_info(dir_ / "packed.fits");
  EXPECT_EQ(info.width, 512);
  EXPECT_EQ(info.height, 512);
  std::vector<float> band(512 * 7);
  read_fits_rows(dir_ / "packed.fits", 100, 7, band.data());
  EXPECT_TRUE(std::equal(band.begin(), band.end(), mask.pixels.begin() + 512 * 100));
  std::vector<std::uint8_t> flags(512 * 3);
  FitsRowReader(dir_ / "packed.fits").read(509, 3, flags.data());
  for (std::size_t i = 0; i < flags.size(); ++i) ASSERT_EQ(flags[i], mask.pixels[512 * 509 + i]) << i;
}

// Mask flags written from bytes are the file the float path writes, byte for byte, and read
// back as bytes, whole or in a band.
TEST_F(FitsIo, MaskBytesWrittenDirectlyAreTheFloatPathsFile) {
  const auto mask = sparse_mask(300, 257);
  std::vector<std::uint8_t> bytes(mask.pixels.begin(), mask.pixels.end());
  const Header header{{"EXTNAME", std::string("MASK"), "MaskBit flags"}};
  for (const auto compression : {Compression::none, Compression::lossless}) {
    write_fits(dir_ / "via_float.fits", mask, header, PixelType::uint8, compression);
    write_fits(dir_ / "direct.fits", bytes, 300, 257, header, compression);
    std::ifstream a(dir_ / "via_float.fits", std::ios::binary), b(dir_ / "direct.fits", std::ios::binary);
    const std::string via_float((std::istreambuf_iterator<char>(a)), {}), direct((std::istreambuf_iterator<char>(b)), {});
    EXPECT_EQ(direct, via_float);
    std::vector<std::uint8_t> back(bytes.size());
    read_fits_rows(dir_ / "direct.fits", 0, 257, back.data());
    EXPECT_EQ(back, bytes);
    std::vector<std::uint8_t> band(300 * 5);
    read_fits_rows(dir_ / "direct.fits", 252, 5, band.data());
    EXPECT_TRUE(std::equal(band.begin(), band.end(), bytes.begin() + 300 * 252));
  }
  EXPECT_NE(fits_error_of([&] { write_fits(dir_ / "short.fits", bytes, 300, 258, header); }).find("inconsistent"),
            std::string::npos);
}

// With a reentrant CFITSIO (Debian's) nothing serialises the threads: files written and read
// on eight threads at once each come back as written.
TEST_F(FitsIo, SeparateFilesOnManyThreadsAtOnceComeBackIntact) {
  if (!fits_io_concurrent()) GTEST_SKIP() << "this CFITSIO is not reentrant: FITS calls take one lock";
  constexpr int kThreads = 8;
  std::vector<Image> images;
  for (int t = 0; t < kThreads; ++t) {
    auto im = ramp(256, 200);
    for (auto& v : im.pixels) v = v * static_cast<float>(t + 1) + 0.25f * static_cast<float>(t);
    images.push_back(std::move(im));
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        const auto path = dir_ / ("t" + std::to_string(t) + ".fits");
        write_fits(path, images[t], {{"ROUND", static_cast<long long>(round), ""}}, PixelType::float32,
                   t % 2 ? Compression::lossless : Compression::none);
        const auto back = read_fits(path);
        EXPECT_EQ(back.image.pixels, images[t].pixels) << t;
        EXPECT_EQ(back.header.at("ROUND"), std::to_string(round)) << t;
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

// Floats compress without loss (GZIP_2, no quantization): every bit comes back.
TEST_F(FitsIo, CompressedFloatImageIsLossless) {
  auto im = ramp(300, 40);
  std::mt19937 random(3);
  std::normal_distribution<float> noise(0.0f, 7.3f);
  for (auto& v : im.pixels) v += noise(random);
  write_fits(dir_ / "f.fits", im, {{"BKGRMS", 7.3, ""}}, PixelType::float32, Compression::lossless);
  const auto back = read_fits(dir_ / "f.fits");
  EXPECT_EQ(back.image.pixels, im.pixels);
  EXPECT_EQ(back.header.at("BITPIX"), "-32");
  EXPECT_DOUBLE_EQ(std::stod(back.header.at("BKGRMS")), 7.3);
}

// A compressed file cut short is bad input, found from the header by every reader.
TEST_F(FitsIo, TruncatedCompressedFileFailsNamingTheFile) {
  const auto path = dir_ / "cut.mask.fits";
  auto noisy = sparse_mask(256, 256);
  std::mt19937 random(5);
  for (auto& v : noisy.pixels) v += static_cast<float>(random() % 200);  // a heap worth cutting
  write_fits(path, noisy, {}, PixelType::uint8, Compression::lossless);
  fs::resize_file(path, fs::file_size(path) / 2);
  std::vector<float> row(256);
  for (const auto& read : std::vector<std::function<void()>>{[&] { read_fits(path); }, [&] { read_fits_info(path); },
                                                            [&] { read_fits_rows(path, 255, 1, row.data()); }}) {
    const auto message = fits_error_of(read);
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  }
  fs::resize_file(path, 4000);  // inside the table's header
  const auto message = fits_error_of([&] { read_fits(path); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
}

}  // namespace
}  // namespace tianyu::pipeline
