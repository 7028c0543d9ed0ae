#include "pipeline/fits_io.h"

#include <fitsio.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace tianyu::pipeline {
namespace {

namespace fs = std::filesystem;

class FitsIo : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("fits_io_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

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
    }
  }
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

}  // namespace
}  // namespace tianyu::pipeline
