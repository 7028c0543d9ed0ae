#pragma once
// The fixture of tests that need only the database: a scratch database of their own on the live
// MariaDB, migrated to the current schema, and a connection to it. Skipped (or failed, under
// TIANYU_REQUIRE_LIVE=1) without the live services; a derived SetUp returns early when
// IsSkipped() || HasFatalFailure().
#include <memory>

#include <gtest/gtest.h>

#include "common/db.h"
#include "common/migrations.h"
#include "support/live_services.h"

namespace tianyu::test {

class LiveScratchDb : public ::testing::Test {
 protected:
  void SetUp() override {
    TIANYU_REQUIRE_LIVE_SERVICES();
    scratch_ = std::make_unique<ScratchDatabase>(live_config()->db);
    db::migrate(scratch_->settings());
    c_ = std::make_unique<db::Connection>(scratch_->settings());
  }

  std::unique_ptr<ScratchDatabase> scratch_;
  std::unique_ptr<db::Connection> c_;
};

}  // namespace tianyu::test
