// simulate_night through the whole machinery: published, dispatched, run by a consumer, and its
// night equal to what the simulator writes for the same seed.
#include <fstream>
#include <functional>
#include <map>

#include "pipeline/sim/night.h"
#include "process/flow_fixture.h"
#include "support/process_fixture_helpers.h"

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

// Every entry under `dir` (symlinks not followed) with a digest of its content or link target:
// equal listings before and after mean nothing was created, changed or deleted. The daemons'
// own logs, which the fixture keeps at the top of the site root, are left out.
std::map<std::string, std::string> listing(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const auto rel = fs::relative(e.path(), dir).generic_string();
    if (e.path().parent_path() == dir && e.path().extension() == ".log") continue;
    if (e.is_symlink()) {
      out[rel] = "link " + fs::read_symlink(e.path()).string();
    } else if (e.is_regular_file()) {
      out[rel] = "file " + std::to_string(std::hash<std::string>{}(bytes(e.path())));
    } else {
      out[rel] = "dir";
    }
  }
  return out;
}

// Each `out` below would, before the site store, have deleted or written outside what the step
// owns: the root itself, the raw frames, a directory beside the root, a symlink's target, an
// existing directory it did not create. Each fails at attempt 1 naming the path, and nothing
// under the site root (or behind the symlink) changes.
TEST_F(SimulateNightStep, RefusesEveryOutThatIsNotItsOwn) {
  const fs::path outside = root_.parent_path() / (site_ + "_outside");
  test::lay_out_protected_files(root_, outside, {"night1", "link", "keep.fits"});
  const auto before = listing(root_);
  const auto outside_before = listing(outside);

  const std::map<std::string, std::string> outs = {
      {"dot", "."}, {"up", "x/.."}, {"raw", "raw"}, {"raw_night", "raw/night1"}, {"escape", "../escape"},
      {"link", "link/night"}, {"existing", "products/kept"}};
  std::vector<ProcessSpec> specs;
  for (const auto& [key, out] : outs) {
    specs.push_back(spec(key, "simulate_night"));
    specs.back().params = {{"out", out}, {"config", {{"width", 64}, {"height", 64}, {"frames", 8}, {"stars", 5}}}};
  }
  const auto id = publisher::publish(*c_, specs, ids_);
  start("tianyu-manager");
  start("tianyu-consumer");
  ASSERT_TRUE(settle(60s)) << stuck_report();

  test::expect_paths_refused(*c_, id, outs);
  EXPECT_EQ(listing(root_), before);
  EXPECT_EQ(listing(outside), outside_before);
  EXPECT_FALSE(fs::exists(root_.parent_path() / "escape"));
  if (!HasFailure()) fs::remove_all(outside);
}

}  // namespace
}  // namespace tianyu
