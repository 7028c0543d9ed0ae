#include "pipeline/atomic_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "pipeline/small_tmpfs.h"
#include "support/scratch_dir_fixture.h"

namespace tianyu::pipeline {
namespace {

namespace fs = std::filesystem;
using testing::entries;

class AtomicFile : public test::ScratchDirTest {
 protected:
  AtomicFile() : ScratchDirTest("atomic_file_test") {}
};

std::string contents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST_F(AtomicFile, WritesAndReplacesLeavingNoTemporaryFile) {
  const auto path = dir_ / "catalogue.csv";
  write_file_atomically(path, "x,y,flux\n1,2,3\n");
  EXPECT_EQ(contents(path), "x,y,flux\n1,2,3\n");
  write_file_atomically(path, "x,y,flux\n");
  EXPECT_EQ(contents(path), "x,y,flux\n");
  EXPECT_EQ(entries(dir_), std::vector<std::string>{"catalogue.csv"});
}

TEST_F(AtomicFile, EmptyAndLargeContentsLandWhole) {
  write_file_atomically(dir_ / "empty.txt", "");
  EXPECT_EQ(fs::file_size(dir_ / "empty.txt"), 0u);
  const std::string big(3'000'000, 'q');
  write_file_atomically(dir_ / "big.txt", big);
  EXPECT_EQ(contents(dir_ / "big.txt"), big);
}

TEST_F(AtomicFile, MissingDirectoryIsNotRetryableAndNamesTheFile) {
  const auto path = dir_ / "no_such_dir" / "out.csv";
  try {
    write_file_atomically(path, "data");
    ADD_FAILURE() << "wrote into a missing directory";
  } catch (const FileError& e) {
    EXPECT_FALSE(e.retryable()) << e.what();
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
    EXPECT_TRUE(dynamic_cast<const Failure*>(&e) != nullptr);
  }
}

TEST_F(AtomicFile, ErrnoClassification) {
  for (int e : {ENOSPC, EDQUOT, EIO, EAGAIN, EINTR, EMFILE, ENFILE, ENOMEM}) EXPECT_TRUE(transient_errno(e)) << e;
  for (int e : {0, ENOENT, EACCES, EROFS, EISDIR, ENOTDIR, EEXIST, EINVAL}) EXPECT_FALSE(transient_errno(e)) << e;
  const auto error = file_error("/x/y.csv", "writing", ENOSPC);
  EXPECT_TRUE(error.retryable());
  EXPECT_STREQ(error.what(), "/x/y.csv: writing: No space left on device (errno 28, transient: a retry can help)");
}

// A full disk: the write fails with ENOSPC, reported as retryable, and neither a partial
// product nor a temporary file is left; the previous version of the product is untouched.
TEST_F(AtomicFile, FullDiskIsRetryableAndLeavesNoPartialFile) {
  tmpfs_ = std::make_unique<testing::SmallTmpfs>();
  const auto mount = dir_ / "small";
  if (const auto why = tmpfs_->mount(mount); !why.empty()) GTEST_SKIP() << why;
  const auto path = mount / "catalogue.csv";
  write_file_atomically(path, "previous\n");
  try {
    write_file_atomically(path, std::string(2 << 20, 'x'));  // 2 MiB into 1 MiB
    ADD_FAILURE() << "2 MiB fitted into a 1 MiB file system";
  } catch (const FileError& e) {
    EXPECT_TRUE(e.retryable()) << e.what();
    EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  EXPECT_EQ(entries(mount), std::vector<std::string>{"catalogue.csv"});
  EXPECT_EQ(contents(path), "previous\n");
  // Space freed: the same write of something that fits now succeeds.
  write_file_atomically(path, std::string(500'000, 'y'));
  EXPECT_EQ(fs::file_size(path), 500'000u);
}

}  // namespace
}  // namespace tianyu::pipeline
