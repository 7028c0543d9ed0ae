// The consumer's masters cache: a master is read once for a night's frames, read again when its
// file was replaced, the least recently used goes first, and a file that cannot be read is an
// error naming it (nothing cached).
#include "consumer/steps/masters_cache.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <unistd.h>

#include <gtest/gtest.h>

#include "pipeline/fits_io.h"

namespace tianyu::consumer::steps {
namespace {

namespace fs = std::filesystem;

struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("tianyu-masters-cache-" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(dir); }
  ~Scratch() { fs::remove_all(dir); }
};

pipeline::Image flat(float level) {
  pipeline::Image image(8, 6);
  for (auto& v : image.pixels) v = level;
  return image;
}

TEST(MastersCache, AMasterIsReadOnceForEveryFrameOfTheNight) {
  Scratch s;
  MastersCache cache;
  pipeline::write_fits(s.dir / "bias.fits", flat(100), {});
  const auto first = cache.read(s.dir / "bias.fits");
  for (int frame = 0; frame < 5; ++frame) EXPECT_EQ(cache.read(s.dir / "bias.fits"), first);
  EXPECT_EQ(cache.reads(), 1u);
  EXPECT_EQ(first->at(3, 2), 100.0f);
}

TEST(MastersCache, AReplacedFileIsReadAgain) {
  Scratch s;
  MastersCache cache;
  pipeline::write_fits(s.dir / "flat.fits", flat(1.0f), {});
  EXPECT_EQ(cache.read(s.dir / "flat.fits")->at(0, 0), 1.0f);
  // Written elsewhere and renamed over it, as products are: a new inode, size kept, new time.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  pipeline::write_fits(s.dir / "flat.tmp.fits", flat(0.5f), {});
  fs::rename(s.dir / "flat.tmp.fits", s.dir / "flat.fits");
  EXPECT_EQ(cache.read(s.dir / "flat.fits")->at(0, 0), 0.5f);
  EXPECT_EQ(cache.reads(), 2u);
}

TEST(MastersCache, TheLeastRecentlyUsedGoesFirst) {
  Scratch s;
  MastersCache cache(2);
  for (const char* name : {"a.fits", "b.fits", "c.fits"}) pipeline::write_fits(s.dir / name, flat(1), {});
  cache.read(s.dir / "a.fits");
  cache.read(s.dir / "b.fits");
  cache.read(s.dir / "a.fits");  // a is now the most recent
  cache.read(s.dir / "c.fits");  // b goes
  EXPECT_EQ(cache.reads(), 3u);
  cache.read(s.dir / "a.fits");
  EXPECT_EQ(cache.reads(), 3u);
  cache.read(s.dir / "b.fits");
  EXPECT_EQ(cache.reads(), 4u);
}

TEST(MastersCache, AnUnreadableMasterIsAnErrorNamingIt) {
  Scratch s;
  MastersCache cache;
  { std::ofstream(s.dir / "broken.fits") << "SIMPLE  = not a FITS file"; }
  for (const char* name : {"missing.fits", "broken.fits"}) {
    try {
      cache.read(s.dir / name);
      FAIL() << name << " was read";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(cache.reads(), 0u);
}

}  // namespace
}  // namespace tianyu::consumer::steps
