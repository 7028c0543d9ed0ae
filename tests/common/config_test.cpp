#include "common/config.h"

#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "common/errors.h"

namespace tianyu {
namespace {

namespace fs = std::filesystem;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

class ConfigFile : public ::testing::Test {
 protected:
  fs::path write(const std::string& text) {
    path_ = fs::temp_directory_path() /
            ("tianyu_config_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json");
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override {
    if (!path_.empty()) fs::remove(path_);
  }
  fs::path path_;
};

// Expects load_config to throw a ConfigError for `field` whose message contains `needle`.
void expect_config_error(const std::function<void()>& load, const std::string& field,
                         const std::string& needle) {
  try {
    load();
    FAIL() << "expected a ConfigError for field '" << field << "'";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), field);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Config, DefaultsPointAtTheLocalLoopbackServices) {
  const Config c = load_config(std::nullopt, env_of({}));
  EXPECT_EQ(c.db.host, "127.0.0.1");
  EXPECT_EQ(c.db.port, 33061);
  EXPECT_EQ(c.db.name, "tianyu");
  EXPECT_EQ(c.db.password, "");
  EXPECT_EQ(c.broker.host, "127.0.0.1");
  EXPECT_EQ(c.broker.port, 56720);
  EXPECT_EQ(c.broker.heartbeat_s, 15);
  EXPECT_EQ(c.site, "local");
  EXPECT_EQ(c.group, "general");
  EXPECT_EQ(c.log.level, "info");
}

TEST_F(ConfigFile, FileValuesReplaceDefaults) {
  const auto path = write(R"({"db": {"host": "db.site-a", "port": 3307},
                              "broker": {"vhost": "tianyu"},
                              "site": "xinglong", "group": "bigram",
                              "log": {"level": "debug"}})");
  const Config c = load_config(path, env_of({}));
  EXPECT_EQ(c.db.host, "db.site-a");
  EXPECT_EQ(c.db.port, 3307);
  EXPECT_EQ(c.db.user, "tianyu");  // untouched fields keep their defaults
  EXPECT_EQ(c.broker.vhost, "tianyu");
  EXPECT_EQ(c.site, "xinglong");
  EXPECT_EQ(c.group, "bigram");
  EXPECT_EQ(c.log.level, "debug");
}

TEST_F(ConfigFile, EnvironmentOverridesFile) {
  const auto path = write(R"({"db": {"host": "from-file", "port": 3307}, "group": "general"})");
  const Config c = load_config(path, env_of({{"TIANYU_DB_HOST", "from-env"},
                                             {"TIANYU_DB_PORT", "4406"},
                                             {"TIANYU_DB_PASSWORD", "s3cret"},
                                             {"TIANYU_GROUP", "gpu"},
                                             {"TIANYU_BROKER_HEARTBEAT_S", "0"}}));
  EXPECT_EQ(c.db.host, "from-env");
  EXPECT_EQ(c.db.port, 4406);
  EXPECT_EQ(c.db.password, "s3cret");
  EXPECT_EQ(c.group, "gpu");
  EXPECT_EQ(c.broker.heartbeat_s, 0);
}

TEST(Config, EveryFieldHasItsEnvironmentVariable) {
  EXPECT_EQ(env_name_for("db.host"), "TIANYU_DB_HOST");
  EXPECT_EQ(env_name_for("broker.rpc_timeout_ms"), "TIANYU_BROKER_RPC_TIMEOUT_MS");
  EXPECT_EQ(env_name_for("site"), "TIANYU_SITE");
  // Setting each variable to a valid value must be accepted for every known field.
  for (const auto& path : config_field_paths()) {
    const bool numeric = path.ends_with("port") || path.ends_with("_s") ||
                         path.ends_with("_ms") || path.ends_with("claim_batch") ||
                         path.ends_with("workers") || path.ends_with("prefetch");
    std::string value = numeric ? "200" : "abc";
    if (path.ends_with("prefetch")) value = "2";  // at most workers (default 2)
    if (path.ends_with("tls.enabled")) value = "0";  // 1 would also need the CA file
    if (path.ends_with("tls.verify")) value = "1";
    if (path == "consumer.hand_off_children" || path == "consumer.continue_chains") value = "0";
    if (path.ends_with("tls.cert") || path.ends_with("tls.key")) continue;  // only as a pair
    if (path == "log.level") value = "warn";
    if (path == "log.format") value = "json";
    if (path == "broker.nodes") value = "127.0.0.1:5672";
    if (path == "broker.dead_letter_queue_type") value = "quorum";
    EXPECT_NO_THROW(load_config(std::nullopt, env_of({{env_name_for(path), value}})))
        << path << " via " << env_name_for(path);
  }
}

TEST_F(ConfigFile, UnknownFieldIsNamed) {
  const auto path = write(R"({"db": {"hots": "x"}})");
  expect_config_error([&] { load_config(path, env_of({})); }, "db.hots",
                      path.string() + ": unknown field 'db.hots'");
}

TEST_F(ConfigFile, WrongTypeIsNamed) {
  const auto path = write(R"({"broker": {"port": "5672"}})");
  expect_config_error([&] { load_config(path, env_of({})); }, "broker.port",
                      "field 'broker.port' must be an integer, got string");
}

TEST_F(ConfigFile, OutOfRangeIsNamed) {
  const auto path = write(R"({"db": {"port": 0}})");
  expect_config_error([&] { load_config(path, env_of({})); }, "db.port",
                      "expected an integer in [1, 65535]");
}

TEST_F(ConfigFile, BadChoiceIsNamed) {
  const auto path = write(R"({"log": {"level": "loud"}})");
  expect_config_error([&] { load_config(path, env_of({})); }, "log.level",
                      "'loud', expected one of: trace, debug");
}

TEST_F(ConfigFile, GroupNameMustBeSafeForQueueNames) {
  const auto path = write(R"({"group": "big ram/1"})");
  expect_config_error([&] { load_config(path, env_of({})); }, "group", "[a-z0-9_-]");
}

TEST(Config, DottedSiteNameIsRefusedSoQueueNamesStayUnambiguous) {
  // site "a.b" group "c" and site "a" group "b.c" would share the queue tianyu.work.a.b.c.
  expect_config_error([] { load_config(std::nullopt, env_of({{"TIANYU_SITE", "a.b"}})); },
                      "site", "'a.b', expected 1-64 characters of [a-z0-9_-]");
}

TEST(Config, PrefetchAboveWorkersIsRefusedNamingTheField) {
  expect_config_error(
      [] {
        load_config(std::nullopt, env_of({{"TIANYU_CONSUMER_WORKERS", "4"},
                                          {"TIANYU_CONSUMER_PREFETCH", "5"}}));
      },
      "consumer.prefetch", "'consumer.prefetch' is 5, more than consumer.workers (4)");
  const Config ok = load_config(std::nullopt, env_of({{"TIANYU_CONSUMER_WORKERS", "4"},
                                                      {"TIANYU_CONSUMER_PREFETCH", "4"}}));
  EXPECT_EQ(ok.consumer.prefetch, 4);
  EXPECT_EQ(ok.consumer.workers, 4);
}

TEST_F(ConfigFile, TlsFieldsLoadFromTheFileAndTheEnvironment) {
  const auto path = write(R"({"db": {"tls": {"enabled": 1, "ca": "/etc/tianyu/tls/ca.pem"}},
                              "broker": {"tls": {"enabled": 1, "ca": "/a/ca.pem", "verify": 0}}})");
  const Config c = load_config(path, env_of({{"TIANYU_DB_TLS_CERT", "/c/client.pem"},
                                             {"TIANYU_DB_TLS_KEY", "/c/client.key"}}));
  EXPECT_EQ(c.db.tls.enabled, 1);
  EXPECT_EQ(c.db.tls.ca, "/etc/tianyu/tls/ca.pem");
  EXPECT_EQ(c.db.tls.cert, "/c/client.pem");
  EXPECT_EQ(c.db.tls.key, "/c/client.key");
  EXPECT_EQ(c.db.tls.verify, 1);  // verification is the default
  EXPECT_EQ(c.broker.tls.enabled, 1);
  EXPECT_EQ(c.broker.tls.ca, "/a/ca.pem");
  EXPECT_EQ(c.broker.tls.verify, 0);
  const Config off = load_config(std::nullopt, env_of({}));
  EXPECT_EQ(off.db.tls.enabled, 0);  // off by default locally
  EXPECT_EQ(off.broker.tls.enabled, 0);
}

TEST(Config, TlsWithoutCaOrWithHalfAClientPairIsRefused) {
  expect_config_error(
      [] { load_config(std::nullopt, env_of({{"TIANYU_BROKER_TLS_ENABLED", "1"}})); },
      "broker.tls.ca", "'broker.tls.ca' must name the CA file");
  expect_config_error(
      [] { load_config(std::nullopt, env_of({{"TIANYU_DB_TLS_CERT", "/c/client.pem"}})); },
      "db.tls.key", "set both or neither");
}

TEST_F(ConfigFile, InvalidJsonNamesTheFile) {
  const auto path = write(R"({"db": {"host": "x",}})");
  expect_config_error([&] { load_config(path, env_of({})); }, "",
                      path.string() + ": not valid JSON");
}

TEST(Config, MissingFileIsNamed) {
  expect_config_error([] { load_config(fs::path("/nonexistent/tianyu.json"), env_of({})); }, "",
                      "/nonexistent/tianyu.json: cannot open");
}

TEST(Config, BadEnvironmentValueNamesTheVariable) {
  expect_config_error([] { load_config(std::nullopt, env_of({{"TIANYU_DB_PORT", "33o61"}})); },
                      "db.port", "environment variable TIANYU_DB_PORT");
  expect_config_error([] { load_config(std::nullopt, env_of({{"TIANYU_DB_HOST", ""}})); },
                      "db.host", "must not be empty");
}

TEST(Config, CommittedRoleFilesLoadAndCarryNoSecrets) {
  int files = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(TIANYU_SOURCE_DIR) / "config")) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    const Config c = load_config(entry.path(), env_of({}));
    EXPECT_TRUE(c.db.password.empty()) << entry.path() << " commits a database password";
    EXPECT_TRUE(c.broker.password.empty()) << entry.path() << " commits a broker password";
    EXPECT_EQ(c.db.host, "127.0.0.1") << entry.path() << ": local default must be loopback";
    EXPECT_EQ(c.broker.host, "127.0.0.1") << entry.path() << ": local default must be loopback";
  }
  EXPECT_EQ(files, 3) << "expected publisher.json, manager.json and consumer.json";
}

}  // namespace
}  // namespace tianyu
