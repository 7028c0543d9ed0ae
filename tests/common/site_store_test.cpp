// The site store refuses every path that could lose data or reach outside the site root, and
// names the path and the reason; valid paths round-trip through relative().
#include "common/site_store.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/names.h"

namespace fs = std::filesystem;
using tianyu::store::PathError;
using tianyu::store::SiteStore;

namespace {

// A fresh site root (with a real raw area holding one frame) and a directory outside it.
class SiteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    base_ = fs::temp_directory_path() / ("site_store_test_" + std::to_string(rd()));
    root_ = base_ / "site";
    outside_ = base_ / "outside";
    fs::create_directories(root_ / "raw");
    fs::create_directories(outside_);
    std::ofstream(root_ / "raw" / "f.fits") << "frame";
    std::ofstream(outside_ / "secret") << "secret";
  }
  void TearDown() override { fs::remove_all(base_); }

  // The message of the PathError `call` throws ("" when it throws none).
  template <typename F>
  static std::string refusal(F call) {
    try {
      call();
    } catch (const PathError& e) {
      EXPECT_FALSE(e.retryable());
      return e.what();
    }
    return "";
  }

  fs::path base_, root_, outside_;
};

TEST_F(SiteStoreTest, RootItselfIsRefusedForReadWriteAndRemove) {
  SiteStore store(root_);
  EXPECT_EQ(refusal([&] { store.for_writing("."); }), "path '.' resolves to the site root itself");
  EXPECT_EQ(refusal([&] { store.for_writing("x/.."); }), "path 'x/..' resolves to the site root itself");
  EXPECT_EQ(refusal([&] { store.for_reading("x/.."); }), "path 'x/..' resolves to the site root itself");
  EXPECT_EQ(refusal([&] { store.remove("."); }), "path '.' resolves to the site root itself");
  EXPECT_TRUE(fs::exists(root_ / "raw" / "f.fits"));
}

TEST_F(SiteStoreTest, EmptyAndAbsolutePathsAreRefused) {
  SiteStore store(root_);
  EXPECT_EQ(refusal([&] { store.for_reading(""); }),
            "path '' is empty: name a file or directory under the site root");
  EXPECT_EQ(refusal([&] { store.for_reading("/etc/passwd"); }),
            "path '/etc/passwd' is absolute: paths are relative to the site root " + store.root().string());
}

TEST_F(SiteStoreTest, EscapesAreRefusedNamingTheRoot) {
  SiteStore store(root_);
  const std::string leaves = " leaves the site root " + store.root().string();
  EXPECT_EQ(refusal([&] { store.for_reading("../x"); }), "path '../x'" + leaves);
  EXPECT_EQ(refusal([&] { store.for_writing("a/../../x"); }), "path 'a/../../x'" + leaves);
  EXPECT_EQ(refusal([&] { store.for_reading("../outside/secret"); }), "path '../outside/secret'" + leaves);
  EXPECT_FALSE(fs::exists(base_ / "x"));
  EXPECT_FALSE(fs::exists(root_ / "a"));  // refused before any directory was created
}

TEST_F(SiteStoreTest, RawAreaIsReadableButNeverWritten) {
  SiteStore store(root_);
  EXPECT_EQ(store.for_reading("raw/f.fits"), fs::canonical(root_ / "raw" / "f.fits"));
  const std::string raw = " is in the raw-frame area: steps never write or delete there";
  EXPECT_EQ(refusal([&] { store.for_writing("raw"); }), "path 'raw'" + raw);
  EXPECT_EQ(refusal([&] { store.for_writing("raw/f.fits"); }), "path 'raw/f.fits'" + raw);
  EXPECT_EQ(refusal([&] { store.for_writing("raw/night/new.fits"); }), "path 'raw/night/new.fits'" + raw);
  EXPECT_EQ(refusal([&] { store.remove("raw"); }), "path 'raw'" + raw);
  EXPECT_EQ(refusal([&] { store.remove("x/../raw/f.fits"); }), "path 'x/../raw/f.fits'" + raw);
  EXPECT_TRUE(fs::exists(root_ / "raw" / "f.fits"));
  EXPECT_FALSE(fs::exists(root_ / "raw" / "night"));
}

TEST_F(SiteStoreTest, SymlinkOutOfTheRootIsRefusedForReadAndWrite) {
  fs::create_directory_symlink(outside_, root_ / "link");
  SiteStore store(root_);
  const std::string to = " follows a symlink out of the site root to ";
  EXPECT_EQ(refusal([&] { store.for_reading("link/secret"); }),
            "path 'link/secret'" + to + fs::canonical(outside_ / "secret").string());
  EXPECT_EQ(refusal([&] { store.for_writing("link/f"); }),
            "path 'link/f'" + to + (fs::canonical(outside_) / "f").string());
  EXPECT_EQ(refusal([&] { store.remove("link/secret"); }),
            "path 'link/secret'" + to + fs::canonical(outside_ / "secret").string());
  EXPECT_TRUE(fs::exists(outside_ / "secret"));
  EXPECT_FALSE(fs::exists(outside_ / "f"));
}

TEST_F(SiteStoreTest, RawSymlinkToFramesElsewhereIsReadableNotWritable) {
  // run-local links OUT/site/raw to the operator's frame directory.
  fs::remove_all(root_ / "raw");
  fs::create_directory_symlink(outside_, root_ / "raw");
  SiteStore store(root_);
  EXPECT_EQ(store.for_reading("raw/secret"), fs::canonical(outside_ / "secret"));
  EXPECT_EQ(store.relative(outside_ / "secret"), "raw/secret");
  EXPECT_TRUE(store.contains(outside_ / "secret"));
  const std::string raw = " is in the raw-frame area: steps never write or delete there";
  EXPECT_EQ(refusal([&] { store.for_writing("raw/secret"); }), "path 'raw/secret'" + raw);
  EXPECT_EQ(refusal([&] { store.remove("raw"); }), "path 'raw'" + raw);
  EXPECT_TRUE(fs::exists(outside_ / "secret"));
  EXPECT_TRUE(fs::is_symlink(root_ / "raw"));
}

TEST_F(SiteStoreTest, ExistingSymlinkAsLastComponentIsRefusedForWriting) {
  fs::create_directories(root_ / "products");
  std::ofstream(root_ / "products" / "real.fits") << "x";
  fs::create_symlink(root_ / "products" / "real.fits", root_ / "products" / "alias.fits");
  SiteStore store(root_);
  EXPECT_EQ(store.for_reading("products/alias.fits"), fs::canonical(root_ / "products" / "real.fits"));
  EXPECT_EQ(refusal([&] { store.for_writing("products/alias.fits"); }),
            "path 'products/alias.fits' is a symlink: steps never write or delete through one");
}

TEST_F(SiteStoreTest, NestedWriteCreatesItsParentsInsideTheRoot) {
  SiteStore store(root_);
  const fs::path target = store.for_writing("night/2024-01-01/stack/out.fits");
  EXPECT_EQ(target, fs::canonical(root_) / "night" / "2024-01-01" / "stack" / "out.fits");
  EXPECT_TRUE(fs::is_directory(root_ / "night" / "2024-01-01" / "stack"));
  EXPECT_FALSE(fs::exists(target));  // the store creates directories, never the file
}

TEST_F(SiteStoreTest, RemoveDeletesOnlyTheNamedTree) {
  SiteStore store(root_);
  fs::create_directories(root_ / "stage" / "sub");
  std::ofstream(root_ / "stage" / "sub" / "a") << "a";
  fs::create_directory_symlink(outside_, root_ / "stage" / "out_link");
  store.remove("stage");
  EXPECT_FALSE(fs::exists(root_ / "stage"));
  EXPECT_TRUE(fs::exists(outside_ / "secret"));  // the link inside the tree was not followed
  store.remove("never_created");                 // absent: no-op
  EXPECT_TRUE(fs::exists(root_ / "raw" / "f.fits"));
}

// An attempt that fails removes the directories it made, and only those, only when empty.
TEST_F(SiteStoreTest, MissingDirectoriesAreTheOnesAWriteWouldMake) {
  SiteStore store(root_);
  fs::create_directories(root_ / "products");
  EXPECT_EQ(store.missing_directories("products/obs1/calibrated/12.fits"),
            (std::vector<std::string>{"products/obs1", "products/obs1/calibrated"}));
  store.for_writing("products/obs1/calibrated/12.fits");
  EXPECT_TRUE(store.missing_directories("products/obs1/calibrated/13.fits").empty());
  EXPECT_EQ(store.missing_directories("top.fits"), std::vector<std::string>{});
  EXPECT_NE(refusal([&] { store.missing_directories("raw/new/f.fits"); }), "");
  EXPECT_NE(refusal([&] { store.missing_directories("../outside/x/f.fits"); }), "");
}

TEST_F(SiteStoreTest, RemoveIfEmptyKeepsADirectoryAnotherWriterFilled) {
  SiteStore store(root_);
  store.for_writing("products/obs1/calibrated/12.fits");
  std::ofstream(root_ / "products" / "obs1" / "calibrated" / "13.fits") << "another attempt's product";
  for (const char* d : {"products/obs1/calibrated", "products/obs1"}) store.remove_if_empty(d);
  EXPECT_TRUE(fs::exists(root_ / "products" / "obs1" / "calibrated" / "13.fits"));
  fs::remove(root_ / "products" / "obs1" / "calibrated" / "13.fits");
  for (const char* d : {"products/obs1/calibrated", "products/obs1", "products"}) store.remove_if_empty(d);
  EXPECT_FALSE(fs::exists(root_ / "products"));
  store.remove_if_empty("products");  // absent: no-op
  std::ofstream(root_ / "plain_file") << "x";
  store.remove_if_empty("plain_file");  // a file is never removed by it
  EXPECT_TRUE(fs::exists(root_ / "plain_file"));
  EXPECT_NE(refusal([&] { store.remove_if_empty("raw"); }), "");
}

TEST_F(SiteStoreTest, RelativeRoundTrips) {
  SiteStore store(root_);
  for (const std::string rel : {"night/a.fits", "raw/f.fits", "a/b/c"}) {
    const fs::path abs = rel.rfind("raw", 0) == 0 ? store.for_reading(rel) : store.for_writing(rel);
    EXPECT_EQ(store.relative(abs), rel);
    EXPECT_TRUE(store.contains(abs));
  }
  EXPECT_EQ(refusal([&] { store.relative(outside_ / "secret"); }),
            "path '" + (outside_ / "secret").string() + "' lies outside the site root " + store.root().string());
  EXPECT_FALSE(store.contains(outside_ / "secret"));
  EXPECT_FALSE(store.contains(base_ / "site2"));  // a sibling sharing the root's prefix
}

TEST_F(SiteStoreTest, MissingRootIsAConfigError) {
  try {
    SiteStore store(base_ / "absent");
    FAIL() << "no error";
  } catch (const tianyu::ConfigError& e) {
    EXPECT_EQ(e.field(), "site_root");
    EXPECT_EQ(std::string(e.what()), "site root '" + (base_ / "absent").string() + "' is not an existing directory");
  }
}

TEST(Names, ValidNames) {
  EXPECT_TRUE(tianyu::is_valid_name("tianyu-1"));
  EXPECT_TRUE(tianyu::is_valid_name("a_b"));
  EXPECT_TRUE(tianyu::is_valid_name(std::string(64, 'a')));
  EXPECT_NO_THROW(tianyu::require_valid_name("site", "lenghu"));
}

TEST(Names, InvalidNamesAreRefusedNamingTheName) {
  const std::string rule = "' is invalid: only a-z, 0-9, '_' and '-' (1-64 characters)";
  const std::vector<std::string> names = {"a.b", "A", "", std::string(65, 'a'), "a/b", "a b", "caf\xc3\xa9"};
  for (const std::string& name : names) {
    EXPECT_FALSE(tianyu::is_valid_name(name)) << name;
    try {
      tianyu::require_valid_name("group", name);
      ADD_FAILURE() << "accepted '" << name << "'";
    } catch (const tianyu::InputError& e) {
      EXPECT_EQ(std::string(e.what()), "group name '" + name + rule);
      EXPECT_FALSE(e.retryable());
    }
  }
}

}  // namespace
