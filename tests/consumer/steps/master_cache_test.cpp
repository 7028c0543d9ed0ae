// The consumer's master cache: a master is read once while its file is unchanged, read again
// when the file is replaced, and the least recently used image is dropped beyond the capacity.
#include "consumer/steps/master_cache.h"

#include <chrono>
#include <fstream>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "pipeline/fits_io.h"

namespace tianyu::consumer::steps {
namespace {

namespace fs = std::filesystem;

class MasterCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("master_cache_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // A 32x32 master of constant `level`, written whole under `name` (as products are: renamed in).
  fs::path write_master(const std::string& name, float level) {
    pipeline::Image image(32, 32);
    for (auto& v : image.pixels) v = level;
    const auto staged = dir_ / (name + ".tmp.fits");
    pipeline::write_fits(staged, image, {});
    fs::rename(staged, dir_ / name);
    return dir_ / name;
  }
  fs::path dir_;
};

TEST_F(MasterCacheTest, AnUnchangedMasterIsReadOnce) {
  MasterCache cache(1 << 20);
  const auto flat = write_master("master_flat.fits", 1.25f);
  const auto first = cache.image(flat);
  const auto second = cache.image(flat);
  EXPECT_EQ(cache.reads(), 1u);
  EXPECT_EQ(first.get(), second.get());
  EXPECT_EQ(second->at(7, 9), 1.25f);
}

TEST_F(MasterCacheTest, AReplacedFileIsReadAgain) {
  MasterCache cache(1 << 20);
  const auto bias = write_master("master_bias.fits", 100.0f);
  EXPECT_EQ(cache.image(bias)->at(0, 0), 100.0f);
  // A later modification time (file systems with coarse clocks need the pause).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  write_master("master_bias.fits", 250.0f);
  fs::last_write_time(bias, fs::last_write_time(bias) + std::chrono::seconds(1));
  EXPECT_EQ(cache.image(bias)->at(0, 0), 250.0f);
  EXPECT_EQ(cache.reads(), 2u);
}

TEST_F(MasterCacheTest, TheLeastRecentlyUsedImageIsDroppedBeyondTheCapacity) {
  MasterCache cache(2 * 32 * 32 * sizeof(float));  // two masters
  const auto bias = write_master("bias.fits", 1), dark = write_master("dark.fits", 2), flat = write_master("flat.fits", 3);
  cache.image(bias);
  cache.image(dark);
  cache.image(bias);  // the dark is now the least recently used
  cache.image(flat);  // drops the dark
  EXPECT_EQ(cache.reads(), 3u);
  cache.image(bias);
  cache.image(flat);
  EXPECT_EQ(cache.reads(), 3u) << "the bias and the flat are kept";
  EXPECT_EQ(cache.image(dark)->at(1, 1), 2.0f);
  EXPECT_EQ(cache.reads(), 4u) << "the dark was dropped and is read again";
}

TEST_F(MasterCacheTest, AFileThatIsNotFitsIsAnErrorNamingItAndNothingIsKept) {
  MasterCache cache(1 << 20);
  const auto bad = dir_ / "master_flat.fits";
  { std::ofstream(bad) << "not a FITS file"; }
  try {
    cache.image(bad);
    FAIL() << "a text file was read as a master";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("master_flat.fits"), std::string::npos) << e.what();
  }
  try {
    cache.image(dir_ / "absent.fits");
    FAIL() << "an absent master was read";
  } catch (const pipeline::FitsError& e) {  // the FITS reader's error, not the file system's
    EXPECT_NE(std::string(e.what()).find("absent.fits"), std::string::npos) << e.what();
  }
  write_master("master_flat.fits", 4.0f);
  EXPECT_EQ(cache.image(bad)->at(3, 3), 4.0f) << "the failed read left nothing behind";
}

}  // namespace
}  // namespace tianyu::consumer::steps
