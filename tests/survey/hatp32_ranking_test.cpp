// The night's vetted single-transit ranking on the real HAT-P-32 night (../shared/data/hatp32)
// through scripts/run-local.sh: the planet (the source nearest pixel 423,286) ranks first, and
// the candidates the raw ln Bayes factor put above it carry the vetting reasons that explain
// them. Skipped when the data set is not there.
#include <filesystem>

#include <gtest/gtest.h>

#include "common/db.h"
#include "support/live_services.h"
#include "support/run_local_script.h"

namespace tianyu {
namespace {

namespace fs = std::filesystem;

TEST(HatP32Night, ThePlanetRanksFirstAfterVetting) {
  TIANYU_REQUIRE_LIVE_SERVICES();
  const fs::path raw = fs::path(TIANYU_SOURCE_DIR) / "../shared/data/hatp32";
  if (!fs::exists(raw)) GTEST_SKIP() << raw << " is not here";
  const auto out = fs::temp_directory_path() / test::unique_name("hatp32_rank");
  test::ScratchDatabase db(test::live_config()->db);
  const auto run = test::run_local_script(
      raw, out, db.name(),
      "--target HAT-P-32 --target-ra 31.042825 --target-dec 46.687836 --calibration '{\"saturation_adu\": 4095}'");
  ASSERT_EQ(run.exit_code, 0) << run.log;
  db::Connection c(db.settings());
  const auto planet = c.query_one("SELECT source_id FROM source ORDER BY POW(x_px - 423, 2) + POW(y_px - 286, 2) LIMIT 1").u64(0);
  const auto first = c.query_one("SELECT v.source_id, v.passed, t.depth FROM transit_vetting v JOIN transit_candidate t "
                                 "USING (observation_id, source_id) WHERE v.vetted_rank = 1");
  EXPECT_EQ(first.u64(0), planet);
  EXPECT_EQ(first.i64(1), 1);
  EXPECT_NEAR(first.f64(2), 0.024, 0.008);  // the published depth is 2.3-2.5 %
  // Every candidate the raw ln BF ranked above the planet failed a test, and says which.
  for (const auto& r : c.query("SELECT v.passed, v.reasons FROM transit_vetting v JOIN transit_candidate t "
                               "USING (observation_id, source_id) WHERE t.ln_bayes_factor > (SELECT ln_bayes_factor "
                               "FROM transit_candidate WHERE source_id = ?)", {planet})) {
    EXPECT_EQ(r.i64(0), 0);
    EXPECT_NE(r.str(1), "passed every test");
  }
}

}  // namespace
}  // namespace tianyu
