// The bad-input suite, cases refused when they are published: DAG files, site and group names,
// pipeline options, export's --out, configuration files. Each runs tianyu-publish as an
// operator does and asserts the exit code, that the error names the field, file, path or name,
// and that no file under the site root and no row changed (snapshot).
#include <algorithm>

#include "publisher/ingest.h"
#include "publisher/observation_dag.h"
#include "safety/bad_input_fixture.h"

namespace tianyu::safety {
namespace {

struct CliCase {
  std::string name;
  std::vector<std::string> args;
  std::vector<std::string> needles;  // each must appear in the output
  int exit_code = 1;                 // 1: refused input; 2: configuration or usage
};

class BadPublishInput : public BadInput {
 protected:
  // Runs each case, checking its exit code, its words and that nothing changed.
  void expect_refused(const std::vector<CliCase>& cases) {
    for (const auto& k : cases) {
      SCOPED_TRACE(k.name);
      const auto before = snapshot();
      const auto run = run_tool("tianyu-publish", k.args);
      EXPECT_EQ(run.exit_code, k.exit_code) << run.output;
      for (const auto& needle : k.needles) EXPECT_NE(run.output.find(needle), std::string::npos) << run.output;
      expect_unchanged(before, snapshot());
    }
  }
  std::string dag_file(const std::string& name, const nlohmann::json& processes) {
    return input_file(name + ".json", processes.dump(1)).string();
  }
  nlohmann::json process(const std::string& key, const std::string& command, const nlohmann::json& extra = {}) {
    nlohmann::json p = {{"key", key}, {"command", command}, {"site", site_}, {"group", "general"}, {"depends_on", nlohmann::json::array()}};
    for (const auto& [k, v] : extra.items()) p[k] = v;
    return p;
  }
  // An observation of one good frame, with one source's light curve, for pipeline and export.
  std::uint64_t observation_with_a_light_curve() {
    fs::create_directories(root_ / "raw" / "night1");
    for (int i = 0; i < 3; ++i) write_frame(root_ / "raw" / "night1" / fmt::format("sci_{}.fits", i), i);
    publisher::IngestOptions o;
    o.site = site_;
    o.directory = root_ / "raw" / "night1";
    o.target = "WASP-4";
    o.ra_deg = 353.56;
    o.dec_deg = -42.06;
    o.observation = "night1";
    const auto obs = publisher::ingest(*c_, o).observation_id;
    c_->execute("INSERT INTO source (observation_id, source_id, x_px, y_px, template_flux, fwhm_px, a_px, b_px, "
                "theta_rad, sep_flag, isolated) VALUES (?, 7, 10, 20, 1000, 2, 1, 1, 0, 0, 1)", {obs});
    c_->execute("INSERT INTO source_photometry (observation_id, source_id, is_reference, decision, "
                "instrumental_mag, rms, points) VALUES (?, 7, 0, 'target', 12.5, 0.001, 3)", {obs});
    c_->execute("INSERT INTO relative_flux (observation_id, source_id, frame_id, rel_flux, rel_flux_err, flags) "
                "SELECT ?, 7, frame_id, 1 + 0.001 * (frame_id % 3), 0.001, 0 FROM raw_frame", {obs});
    return obs;
  }
};

// Cases 1-8: DAG files. Refused whole at publish, naming the field, command or key; nothing
// written. The unknown top-level field is a misspelt `depends_on`: accepted, it would start
// the process without its dependency.
// The publisher validates every process against its step contract (src/steps) and parse_dag
// refuses fields it does not know: nothing of the file is written.
TEST_F(BadPublishInput, DagFilesAreRefusedWholeNamingTheField) {
  const auto good = process("good", "noop");
  auto with = [&](const nlohmann::json& bad) { return nlohmann::json::array({good, bad}); };
  expect_refused({
      {"unknown param field", {"dag", dag_file("unknown_param", with(process("t", "touch", {{"params", {{"sleep_msec", 5}}}})))},
       {"'sleep_msec'"}},
      {"mistyped param field", {"dag", dag_file("mistyped_param", with(process("t", "touch", {{"params", {{"sleep_ms", "5"}}}})))},
       {"'sleep_ms'", "non-negative integer"}},
      {"unknown command", {"dag", dag_file("unknown_command", with(process("t", "frobnicate")))}, {"frobnicate"}},
      {"unknown top-level field",
       {"dag", dag_file("unknown_field", with(process("t", "noop", {{"depend_on", {"good"}}})))}, {"depend_on"}},
      {"cycle", {"dag", dag_file("cycle", {process("a", "noop", {{"depends_on", {"b"}}}), process("b", "noop", {{"depends_on", {"a"}}})})},
       {"dependency cycle", "'a'", "'b'"}},
      {"unknown dependency key", {"dag", dag_file("unknown_key", with(process("t", "noop", {{"depends_on", {"nope"}}})))},
       {"unknown key 'nope'"}},
      {"dotted group", {"dag", dag_file("dotted_group", with(process("t", "noop", {{"group", "b.c"}})))}, {"'b.c'"}},
      {"step params of one process", {"process", "simulate_night", "--site", site_, "--group", "general", "--params", R"({"out": 5})"},
       {"'out'", "must be a string"}},
  });
}

// Cases 9-12: names that would become queue names or paths.
TEST_F(BadPublishInput, SiteAndGroupNamesAreRefusedNamingThem) {
  expect_refused({
      {"dotted site", {"site", "add", "a.b", "--root", root_.string()}, {"site name 'a.b' is invalid"}},
      {"dotted group", {"group", "add", "--site", site_, "b.c"}, {"group name 'b.c' is invalid"}},
      {"uppercase group", {"group", "add", "--site", site_, "Bigram"}, {"group name 'Bigram' is invalid"}},
      {"group with a space", {"group", "add", "--site", site_, "big ram"}, {"group name 'big ram' is invalid"}},
  });
}

// Cases 13-15: pipeline options, refused before the observation's DAG is published.
// `--exposure-mode` is auto, long or short.
// `pipeline --calibration` takes only the override fields; `--photometry` only the declared options.
TEST_F(BadPublishInput, PipelineOptionsAreRefusedNamingTheField) {
  const auto obs = std::to_string(observation_with_a_light_curve());
  expect_refused({
      {"mistyped photometry option", {"pipeline", "--observation", obs, "--photometry", R"({"radii_fwhm": "x"})"},
       {"'radii_fwhm'", "array of numbers"}},
      {"unknown photometry option", {"pipeline", "--observation", obs, "--photometry", R"({"aperture_px": 3})"},
       {"'aperture_px'"}},
      {"unknown calibration field", {"pipeline", "--observation", obs, "--calibration", R"({"gain": 1.3})"},
       {"gain"}},
      {"unknown field-search option", {"pipeline", "--observation", obs, "--field-search", R"({"period_max": 3})"},
       {"'period_max'"}},
      {"field-search naming another field", {"pipeline", "--observation", obs, "--field-search", R"({"field_id": 3})"},
       {"--field-search", "'field_id'", "'observation_id'"}},
      {"unknown exposure mode", {"pipeline", "--observation", obs, "--exposure-mode", "medium"},
       {"--exposure-mode", "auto, long or short", "'medium'"}},
  });
}

// The search after every night (issue 21): `pipeline --field-search` ends the night's DAG with
// the field's periodic search, after the night's light curves and its field matching.
TEST_F(BadPublishInput, PipelineWithFieldSearchEndsTheNightWithItsFieldsSearch) {
  const auto obs = observation_with_a_light_curve();
  publisher::PipelineOptions o;
  o.observation_id = obs;
  o.field_search = nlohmann::json{{"method", "bls"}};
  const auto dag = publisher::observation_dag(*c_, o);
  const auto search = std::find_if(dag.begin(), dag.end(), [](const auto& p) { return p.command == "field_search"; });
  ASSERT_NE(search, dag.end());
  EXPECT_EQ(search->params.at("observation_id").get<std::uint64_t>(), obs);
  EXPECT_EQ(search->params.at("method").get<std::string>(), "bls");
  EXPECT_EQ(search->params.at("field_id").get<std::uint64_t>(), 0u);
  std::vector<std::string> after;
  for (const auto& d : search->depends_on) after.push_back(std::get<std::string>(d));
  EXPECT_EQ(after, (std::vector<std::string>{"match_field", "relative_flux"}));
  o.field_search.reset();
  const auto without = publisher::observation_dag(*c_, o);
  EXPECT_EQ(without.size() + 1, dag.size());
}

// Cases 16-17: export's --out reaches gnuplot quoted: a quote draws the plot and runs nothing;
// a line break (no gnuplot string can hold one) is refused naming the path, nothing written.
TEST_F(BadPublishInput, ExportOutPathsNeitherInjectNorBreakGnuplot) {
  const auto obs = std::to_string(observation_with_a_light_curve());
  const fs::path exports = root_.parent_path() / (site_ + "_exports");
  const fs::path quoted = exports / "a'; system 'touch INJECTED'; print '";
  const fs::path injected = fs::current_path() / "INJECTED";
  fs::remove(injected);
  auto before = snapshot();
  const auto run = run_tool("tianyu-publish", {"export", "--observation", obs, "--out", quoted.string(), "--plot-near", "10,20"});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(fs::exists(quoted / "lightcurve_7.png")) << run.output;
  EXPECT_FALSE(fs::exists(injected)) << "a quote in --out ran a gnuplot command";
  expect_unchanged(before, snapshot());
  const fs::path broken = exports / "two\nlines";
  expect_refused({{"line break in --out",
                   {"export", "--observation", obs, "--out", broken.string(), "--plot-near", "10,20"},
                   {"output path '" + broken.string() + "' contains a line break"}}});
  EXPECT_FALSE(fs::exists(broken));
  fs::remove_all(exports);
}

// Cases 18-20: configuration files: exit 2 naming the file and the field.
TEST_F(BadPublishInput, ConfigFilesAreRefusedWithExitTwoNamingTheField) {
  const auto unknown = input_file("unknown.json", R"({"broker": {"host": "127.0.0.1", "prot": 5672}})").string();
  const auto dotted = input_file("dotted.json", R"({"site": "a.b"})").string();
  const auto prefetch = input_file("prefetch.json", R"({"consumer": {"workers": 2, "prefetch": 4}})").string();
  expect_refused({
      {"unknown field", {"--config", unknown, "db", "version"}, {unknown, "unknown field 'broker.prot'"}, 2},
      {"dotted site name", {"--config", dotted, "db", "version"}, {dotted, "field 'site' is 'a.b'"}, 2},
      {"prefetch above workers", {"--config", prefetch, "db", "version"}, {prefetch, "'consumer.prefetch' is 4"}, 2},
  });
}

}  // namespace
}  // namespace tianyu::safety
