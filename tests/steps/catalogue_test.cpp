// The step contract: params read strictly (unknown and mistyped fields refused, naming them),
// written whole, documented; the README's step table generated from the declarations; every
// declared step has a consumer handler and every handler a declaration.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "consumer/steps/registry.h"
#include "steps/catalogue.h"
#include "steps/step_params.h"

namespace tianyu::steps {
namespace {

std::string error_of(const std::string& command, const json& params) {
  try {
    normalised_params(command, params);
  } catch (const InputError& e) {
    EXPECT_FALSE(e.retryable());
    return e.what();
  }
  return "";
}

TEST(StepParams, AnUnknownFieldIsRefusedNamingIt) {
  const auto error = error_of("calibrate", {{"observation_id", 1}, {"frame_id", 2}, {"frmae_id", 3}});
  EXPECT_NE(error.find("calibrate: parameter 'frmae_id' is not a parameter of this step"), std::string::npos) << error;
  EXPECT_NE(error.find("known: frame_id, observation_id"), std::string::npos) << error;
}

TEST(StepParams, AMistypedFieldIsRefusedNamingItAndTheType) {
  EXPECT_EQ(error_of("calibrate", {{"observation_id", 1}, {"frame_id", "2"}}),
            "calibrate: parameter 'frame_id' must be a non-negative integer, got \"2\"");
  EXPECT_EQ(error_of("sleep", {{"ms", -5}}), "sleep: parameter 'ms' must be a non-negative integer, got -5");
  EXPECT_EQ(error_of("detect_sources", {{"observation_id", 1}, {"options", {{"radii_fwhm", {1.5, "x"}}}}}),
            "detect_sources: parameter 'options.radii_fwhm' must be an array of numbers, got [1.5,\"x\"]");
  EXPECT_EQ(error_of("stack", {{"observation_id", 1}}), "stack: parameter 'node' is required (a non-negative integer)");
}

TEST(StepParams, AnUnknownCommandIsRefusedListingTheSteps) {
  const auto error = error_of("calibrat", json::object());
  EXPECT_NE(error.find("unknown command 'calibrat' (the steps are: noop, sleep"), std::string::npos) << error;
}

TEST(StepParams, NormalisedParamsCarryEveryDefault) {
  const auto p = normalised_params("detect_sources", {{"observation_id", 7}});
  EXPECT_EQ(p.at("observation_id"), 7);
  EXPECT_EQ(p.at("options").at("radii_fwhm"), json({1.5, 2.0, 3.0}));
  const auto stack = read_params<StackParams>({{"observation_id", 7}, {"node", 3}, {"frame_ids", {4, 5}}}, "stack");
  EXPECT_EQ(stack.node, 3u);
  EXPECT_FALSE(stack.is_template);
  EXPECT_EQ(stack.frame_ids, (std::vector<std::uint64_t>{4, 5}));
  EXPECT_EQ(write_params(stack).at("template"), false);
}

TEST(StepParams, AStructRoundTripsThroughJson) {
  SimulateNightParams p;
  p.out = "sim/n1";
  p.seed = 9;
  p.config = {{"frames", 10}};
  const auto back = read_params<SimulateNightParams>(write_params(p), "simulate_night");
  EXPECT_EQ(back.out, "sim/n1");
  EXPECT_EQ(back.seed, std::optional<std::uint64_t>(9));
  EXPECT_EQ(back.config, p.config);
  EXPECT_EQ(back.preset, "default");
}

std::string readme_step_table() {
  std::ifstream in(std::string(TIANYU_SOURCE_DIR) + "/README.md");
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  const std::string begin = "<!-- steps:begin (generated from src/steps/catalogue.cpp: tianyu-publish steps) -->\n";
  const std::string end = "<!-- steps:end -->";
  const auto b = text.find(begin);
  const auto e = text.find(end);
  if (b == std::string::npos || e == std::string::npos) return "markers not found";
  return text.substr(b + begin.size(), e - b - begin.size());
}

TEST(StepCatalogue, TheReadmeStepTableIsTheGeneratedOne) {
  EXPECT_EQ(readme_step_table(), step_table_markdown())
      << "README.md's step table differs from the declarations: paste the output of `tianyu-publish steps`";
}

TEST(StepCatalogue, EveryDeclaredStepHasAConsumerHandlerAndViceVersa) {
  consumer::StepRegistry registry;
  consumer::register_diagnostic_steps(registry);
  consumer::register_simulation_steps(registry);
  consumer::register_reduction_steps(registry);
  consumer::register_photometry_steps(registry);
  std::vector<std::string> declared;
  for (const auto& d : declared_steps()) declared.push_back(d.command);
  std::sort(declared.begin(), declared.end());
  EXPECT_EQ(registry.commands(), declared);
}

}  // namespace
}  // namespace tianyu::steps
