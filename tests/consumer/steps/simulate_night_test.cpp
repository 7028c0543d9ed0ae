// simulate_night through the whole machinery: published, dispatched, run by a consumer, and its
// night equal to what the simulator writes for the same seed.
#include <fstream>

#include "pipeline/sim/night.h"
#include "process/flow_fixture.h"

namespace tianyu {
namespace {

class SimulateNightStep : public ProcessFlow {};

std::string bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST_F(SimulateNightStep, WritesTheSeedsNightUnderTheSiteRoot) {
  const nlohmann::json overrides = {{"width", 128}, {"height", 128}, {"frames", 8}, {"stars", 20}};
  auto night = spec("night", "simulate_night");
  night.params = {{"out", "sim/night1"}, {"seed", 42}, {"config", overrides}};
  auto bad = spec("bad", "simulate_night");
  bad.params = {{"out", "sim/bad"}, {"config", {{"width", -1}}}};
  auto escape = spec("escape", "simulate_night");
  escape.params = {{"out", "../outside"}};
  const auto id = publisher::publish(*c_, {night, bad, escape}, ids_);
  start("tianyu-manager");
  start("tianyu-consumer");
  ASSERT_TRUE(settle(60s)) << stuck_report();

  EXPECT_EQ(state_of(id.at("night")), "success");
  auto config = pipeline::sim::apply_json(pipeline::sim::SimConfig{}, overrides);
  config.seed = 42;
  const auto reference = root_ / "reference";
  pipeline::sim::simulate_night(config, reference, 1);
  for (const char* file : {"raw/sci_0008.fits", "calib/flat_005.fits", "truth/flux.csv"}) {
    EXPECT_EQ(bytes(root_ / "sim/night1" / file), bytes(reference / file)) << file;
  }
  for (const auto& entry : fs::directory_iterator(root_ / "sim")) {
    EXPECT_EQ(entry.path().filename().string().front() == '.', false)
        << "staging directory left behind: " << entry.path();
  }

  EXPECT_EQ(state_of(id.at("bad")), "failed");
  const auto error = c_->query_one("SELECT error FROM process WHERE process_id = ?", {id.at("bad")}).str(0);
  EXPECT_NE(error.find("width: must be at least 64"), std::string::npos) << error;
  EXPECT_EQ(attempt_of(id.at("bad")), 1) << "a bad config is not retried";
  EXPECT_EQ(state_of(id.at("escape")), "failed");
  EXPECT_FALSE(fs::exists(root_.parent_path() / "outside"));
}

}  // namespace
}  // namespace tianyu
