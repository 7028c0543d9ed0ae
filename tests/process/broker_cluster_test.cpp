// Scaling out on a broker cluster (issue 17): three local RabbitMQ nodes started by
// scripts/broker-cluster.sh on ports of their own, quorum queues replicated on all three, the
// daemons given the node list. The node every daemon is connected to (the first listed, which
// also leads every queue they declared) is killed mid-night: nothing is lost, nothing runs twice,
// the night completes, and the node rejoins when started again. Also the node list's parsing.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "process/flow_fixture.h"
#include "support/process_fixture_helpers.h"

namespace tianyu {
namespace {

using Clock = std::chrono::steady_clock;

// Ports of this test's cluster (AMQP 56830-56832, distribution 56840-56842, epmd 56849): clear
// of the shared broker (56720-56723) and of the script's default cluster (56800-56819).
constexpr int kClusterPort = 56830;

Config with_env(const std::map<std::string, std::string>& vars) {
  return load_config(std::nullopt, [&](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
}

TEST(BrokerNodes, ListIsParsedInOrderFromTheEnvironment) {
  const auto c = with_env({{"TIANYU_BROKER_NODES", "127.0.0.1:5701,localhost:5702,[::1]:5703"},
                           {"TIANYU_BROKER_DEAD_LETTER_QUEUE_TYPE", "quorum"}});
  ASSERT_EQ(c.broker.nodes.size(), 3u);
  EXPECT_EQ(c.broker.nodes[0], (BrokerNode{"127.0.0.1", 5701}));
  EXPECT_EQ(c.broker.nodes[1], (BrokerNode{"localhost", 5702}));
  EXPECT_EQ(c.broker.nodes[2], (BrokerNode{"::1", 5703}));
  const auto s = broker::settings_from(c.broker);
  EXPECT_TRUE(s.quorum_dead_letters);
  EXPECT_EQ(s.nodes.size(), 3u);
  EXPECT_TRUE(with_env({}).broker.nodes.empty()) << "no list: the one broker at host:port";
  EXPECT_FALSE(broker::settings_from(with_env({}).broker).quorum_dead_letters);
}

TEST(BrokerNodes, BadListsAreRefusedNamingTheField) {
  auto refused = [](const std::string& nodes, const std::string& expected) {
    try {
      with_env({{"TIANYU_BROKER_NODES", nodes}, {"TIANYU_BROKER_DEAD_LETTER_QUEUE_TYPE", "quorum"}});
      ADD_FAILURE() << "'" << nodes << "' was accepted";
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), "broker.nodes") << nodes;
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("TIANYU_BROKER_NODES"), std::string::npos) << e.what();
    }
  };
  refused("127.0.0.1", "has no host:port form");
  refused("127.0.0.1:0", "has no port in 1-65535");
  refused("127.0.0.1:70000", "has no port in 1-65535");
  refused("127.0.0.1:5672x", "has no port in 1-65535");
  refused("127.0.0.1:5701,,127.0.0.1:5702", "has no host:port form");
  refused("bad host:5701", "has an invalid host");
  refused("127.0.0.1:5701,127.0.0.1:5701", "lists '127.0.0.1:5701' twice");
}

TEST(BrokerNodes, AClusterNeedsQuorumDeadLetters) {
  try {
    with_env({{"TIANYU_BROKER_NODES", "127.0.0.1:5701,127.0.0.1:5702"}});
    ADD_FAILURE() << "two nodes with classic dead-letter queues were accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "broker.dead_letter_queue_type");
    EXPECT_NE(std::string(e.what()).find("needs 'quorum'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(with_env({{"TIANYU_BROKER_NODES", "127.0.0.1:5701"}}).broker.nodes.size(), 1u)
      << "one node may keep classic dead-letter queues";
}

// Runs scripts/broker-cluster.sh with this test's directory and ports; its output and status.
struct ScriptResult {
  int status = -1;
  std::string output;
};

class BrokerCluster : public ProcessFlow {
 protected:
  void SetUp() override {
    ProcessFlow::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    dir_ = fs::path(TIANYU_SOURCE_DIR) / "run" / "cluster-test";
    // A fresh cluster each run: a crashed earlier run's nodes are stopped, its data dropped.
    ASSERT_EQ(script("stop").status, 0);
    fs::remove_all(dir_);
    const auto started = Clock::now();
    const auto start = script("start");
    ASSERT_EQ(start.status, 0) << start.output;
    cluster_up_s_ = seconds_since(started);
    std::ifstream credentials(dir_ / "credentials");
    std::string line;
    std::getline(credentials, line);
    ASSERT_EQ(line.rfind("BROKER_PASSWORD=", 0), 0u) << "no password in " << dir_ / "credentials";
    const std::string nodes = fmt::format("127.0.0.1:{},127.0.0.1:{},127.0.0.1:{}", kClusterPort,
                                          kClusterPort + 1, kClusterPort + 2);
    extra_env_ = {{"TIANYU_BROKER_NODES", nodes},
                  {"TIANYU_BROKER_USER", "tianyu"},
                  {"TIANYU_BROKER_PASSWORD", line.substr(16)},
                  {"TIANYU_BROKER_DEAD_LETTER_QUEUE_TYPE", "quorum"},
                  {"TIANYU_LOG_LEVEL", "info"}};  // the connect and redelivery lines are counted
    config_.broker = with_env(extra_env_).broker;  // the fixture's cleanup deletes our queues there
  }
  void TearDown() override {
    ProcessFlow::TearDown();
    if (!dir_.empty()) {
      EXPECT_EQ(script("stop").status, 0);
      if (!HasFailure()) fs::remove_all(dir_);
    }
  }

  ScriptResult script(const std::string& args) {
    const std::string command = fmt::format(
        "TIANYU_CLUSTER_DIR='{}' TIANYU_CLUSTER_PORT={} bash '{}/scripts/broker-cluster.sh' {} 2>&1",
        dir_.string(), kClusterPort, TIANYU_SOURCE_DIR, args);
    ScriptResult r;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return r;
    char buffer[4096];
    while (std::fgets(buffer, sizeof buffer, pipe)) r.output += buffer;
    const int status = ::pclose(pipe);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  }
  static double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  }
  // The quorum queues of this test's site: name -> (leader, members, online).
  struct QueueNodes {
    std::string leader;
    std::set<std::string> members;
    std::set<std::string> online;
  };
  std::map<std::string, QueueNodes> our_queues() {
    const auto listed = script("queues");
    std::map<std::string, QueueNodes> out;
    if (listed.status != 0) {
      ADD_FAILURE() << listed.output;
      return out;
    }
    for (const auto& q : nlohmann::json::parse(listed.output.substr(listed.output.find('[')))) {
      const auto name = q.at("name").get<std::string>();
      if (name.find(site_) == std::string::npos && name.rfind("tianyu.dead-letters", 0) != 0) continue;
      EXPECT_EQ(q.at("type"), "quorum") << name;
      auto& n = out[name];
      n.leader = q.at("leader").get<std::string>();
      for (const auto& m : q.at("members")) n.members.insert(m.get<std::string>());
      for (const auto& m : q.at("online")) n.online.insert(m.get<std::string>());
    }
    return out;
  }
  static std::string leaders(const std::map<std::string, QueueNodes>& queues) {
    std::string out;
    for (const auto& [name, n] : queues) {
      out += fmt::format("\n    {} leader {} members {} online {}", name, n.leader,
                         n.members.size(), n.online.size());
    }
    return out;
  }
  // Lines of every daemon's log that contain `text`. The manager's alert relay keeps a
  // connection of its own, opened when it has something to say: its lines are not counted.
  std::int64_t log_lines_with(const std::string& text) {
    std::int64_t n = 0;
    for (const auto& f : fs::directory_iterator(root_)) {
      if (f.path().extension() != ".log") continue;
      std::ifstream in(f.path());
      for (std::string line; std::getline(in, line);) {
        n += line.find(text) != std::string::npos && line.find("tianyu-alert-relay") == std::string::npos;
      }
    }
    return n;
  }
  // The longest a daemon was without a broker: from its first "broker: ..." warning to its
  // connection to node 2, by the UTC time-of-day stamps its log lines start with.
  double longest_reconnect_s() {
    auto time_of = [](const std::string& line) {
      if (line.size() < 27 || line[10] != 'T') return -1.0;
      return std::stoi(line.substr(11, 2)) * 3600.0 + std::stoi(line.substr(14, 2)) * 60.0 +
             std::stod(line.substr(17, 9));
    };
    double longest = 0;
    for (const auto& f : fs::directory_iterator(root_)) {
      if (f.path().extension() != ".log") continue;
      std::ifstream in(f.path());
      double lost = -1;
      for (std::string line; std::getline(in, line);) {
        if (lost < 0 && line.find("warning broker: ") != std::string::npos) lost = time_of(line);
        if (lost >= 0 && line.find("connected to RabbitMQ node 2 of 3") != std::string::npos) {
          longest = std::max(longest, std::fmod(time_of(line) - lost + 86400.0, 86400.0));
          break;
        }
      }
    }
    return longest;
  }
  std::vector<ProcessSpec> night(int chains, int length, int free) {
    std::vector<ProcessSpec> work;
    auto add = [&](std::string key, std::vector<publisher::Dependency> deps, std::string group) {
      auto p = spec(std::move(key), "touch", std::move(deps), std::move(group));
      p.params = {{"sleep_ms", 20}};
      p.max_attempts = 5;
      work.push_back(std::move(p));
    };
    for (int c = 0; c < chains; ++c) {
      for (int i = 0; i < length; ++i) {
        std::vector<publisher::Dependency> deps;
        if (i > 0) deps.emplace_back(fmt::format("chain{}.{}", c, i - 1));
        add(fmt::format("chain{}.{}", c, i), deps, (c + i) % 2 ? "bigram" : "general");
      }
    }
    for (int i = 0; i < free; ++i) add(fmt::format("free{}", i), {}, i % 3 ? "general" : "bigram");
    return work;
  }

  fs::path dir_;
  double cluster_up_s_ = 0;
};

TEST_F(BrokerCluster, NodeKilledMidNightLosesAndDoublesNothing) {
  const auto work = night(20, 15, 300);
  const auto n = static_cast<std::int64_t>(work.size());
  publisher::publish(*c_, work, ids_);
  const auto night_started = Clock::now();
  start("tianyu-manager");
  start("tianyu-consumer", "general");
  start("tianyu-consumer", "general");
  start("tianyu-consumer", "bigram");
  ASSERT_TRUE(test::wait_until([&] { return count("state = 'success'") >= 80; }, 60s)) << stuck_report();
  const auto before = our_queues();
  ASSERT_FALSE(before.empty());
  EXPECT_EQ(log_lines_with("connected to RabbitMQ node 1 of 3"), 4) << "all four daemons start on node 1";

  const auto done_at_kill = count("state = 'success'");
  const auto killed = Clock::now();
  const auto kill = script("kill-node 1");
  ASSERT_EQ(kill.status, 0) << kill.output;
  // Moving again: more successes than the steps the consumers held (3 x 2 workers) could give.
  ASSERT_TRUE(test::wait_until([&] { return count("state = 'success'") >= done_at_kill + 12; }, 60s))
      << stuck_report();
  const double recovery_s = seconds_since(killed);
  ASSERT_TRUE(settle(120s)) << stuck_report() << count("state = 'success'") << " of " << n << " done";
  const double night_s = seconds_since(night_started);

  EXPECT_EQ(count("state = 'success'"), n) << "every process succeeded";
  expect_touched_exactly_once(n);  // one effect row, written once, and one file per process
  EXPECT_GE(log_lines_with("connected to RabbitMQ node 2 of 3"), 4) << "every daemon moved to node 2";
  const auto during = our_queues();
  for (const auto& [name, q] : during) {
    EXPECT_EQ(q.members.size(), 3u) << name << " is replicated on all three nodes";
    EXPECT_EQ(q.online.size(), 2u) << name << ": node 1 is down";
    EXPECT_EQ(q.leader.find("-1@"), std::string::npos) << name << " elected a leader on a live node";
  }

  const auto restarted = script("start-node 1");
  ASSERT_EQ(restarted.status, 0) << restarted.output;
  const auto status = script("status");
  EXPECT_EQ(status.status, 0) << "node 1 rejoined: " << status.output;
  ASSERT_TRUE(test::wait_until([&] {
    for (const auto& [name, q] : our_queues()) if (q.online.size() != 3) return false;
    return true;
  }, 30s)) << "node 1's queue members came back" << leaders(our_queues());
  const auto after = our_queues();

  std::cout << fmt::format(
      "CLUSTER FIGURES: cluster up in {:.1f} s; {} processes; node 1 killed after {} successes; "
      "every daemon reconnected within {:.2f} s of losing its connection; the night moving again "
      "(12 more successes) {:.2f} s after the kill began; night {:.1f} s; {} redeliveries; {} processes needed "
      "a second attempt; {} reconnections\n  leaders before the kill:{}\n  after the kill:{}\n"
      "  after node 1 rejoined:{}\n",
      cluster_up_s_, n, done_at_kill, longest_reconnect_s(), recovery_s, night_s,
      log_lines_with("RabbitMQ redelivered message"), count("attempt > 1"),
      log_lines_with("connected to RabbitMQ node") - 4, leaders(before), leaders(during), leaders(after));
  EXPECT_LT(recovery_s, 60.0);
}

}  // namespace
}  // namespace tianyu
