#pragma once
// The fixture of file tests: an empty directory of the test's own under the temporary
// directory (named after the suite, the run's seed and the test, so parallel runs never share
// one), and an optional small tmpfs a full-disk case mounts; the tmpfs is unmounted before the
// directory is removed.
#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "pipeline/small_tmpfs.h"

namespace tianyu::test {

class ScratchDirTest : public ::testing::Test {
 protected:
  explicit ScratchDirTest(std::string prefix) : prefix_(std::move(prefix)) {}
  void SetUp() override {
    const auto* unit = ::testing::UnitTest::GetInstance();
    dir_ = std::filesystem::temp_directory_path() /
           (prefix_ + "_" + std::to_string(unit->random_seed()) + "_" + unit->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    tmpfs_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string prefix_;
  std::filesystem::path dir_;
  std::unique_ptr<pipeline::testing::SmallTmpfs> tmpfs_;
};

}  // namespace tianyu::test
