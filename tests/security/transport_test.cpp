// Our own database and broker clients against a local instance started with TLS by
// tests/security/security_test.sh (which passes its addresses in the environment): the right
// CA gives an encrypted, verified session; a CA that did not sign the server's certificate is
// refused and not retried; root without a password is refused over TCP.
#include <cstdlib>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "common/broker.h"
#include "common/config.h"
#include "common/db.h"

namespace tianyu {
namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::optional<std::string>(v) : std::nullopt;
}

class Transport : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!env("TIANYU_SECURITY_WRONG_CA")) {
      GTEST_SKIP() << "run by tests/security/security_test.sh (it starts the TLS instance)";
    }
    config_ = load_config(std::nullopt);  // run/env.sh + env-tls.sh of the test's instance
    wrong_ca_ = *env("TIANYU_SECURITY_WRONG_CA");
  }
  Config config_;
  std::string wrong_ca_;
};

TEST_F(Transport, DatabaseWithTheRightCaIsEncryptedAndVerified) {
  ASSERT_EQ(config_.db.tls.enabled, 1);
  db::Connection c(db::settings_from(config_.db));
  const db::Row r = c.query_one("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
  EXPECT_FALSE(r.str(1).empty()) << "the session is not encrypted";
  EXPECT_EQ(c.query_one("SELECT 6 * 7").i64(0), 42);
}

TEST_F(Transport, DatabaseWithAWrongCaIsRefusedForGood) {
  auto settings = db::settings_from(config_.db);
  settings.tls_ca = wrong_ca_;
  try {
    db::Connection c(settings);
    FAIL() << "a server certificate not signed by " << wrong_ca_ << " was accepted";
  } catch (const db::DbError& e) {
    EXPECT_EQ(e.code(), 2026) << e.what();  // CR_SSL_CONNECTION_ERROR
    EXPECT_FALSE(e.retryable()) << e.what();
    EXPECT_NE(std::string(e.what()).find("with TLS"), std::string::npos) << e.what();
  }
}

TEST_F(Transport, BrokerWithTheRightCaCarriesMessages) {
  ASSERT_EQ(config_.broker.tls.enabled, 1);
  broker::Connection b(broker::settings_from(config_.broker), "security_test");
  broker::QueueOptions q;
  q.durable = false;
  q.exclusive = true;
  b.declare_queue("tianyu.security_test", q);
  b.publish("", "tianyu.security_test", "over TLS", broker::PublishOptions{false, true, "m1"});
  b.consume("tianyu.security_test", 1);
  const auto d = b.next_delivery(std::chrono::seconds(5));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->body, "over TLS");
  b.ack(d->delivery_tag);
}

TEST_F(Transport, BrokerWithAWrongCaIsRefusedForGood) {
  auto settings = broker::settings_from(config_.broker);
  settings.tls_ca = wrong_ca_;
  try {
    broker::Connection b(settings, "security_test wrong CA");
    FAIL() << "a server certificate not signed by " << wrong_ca_ << " was accepted";
  } catch (const broker::BrokerError& e) {
    EXPECT_FALSE(e.retryable()) << e.what();
    EXPECT_NE(std::string(e.what()).find("check broker.tls.ca"), std::string::npos) << e.what();
  }
}

TEST_F(Transport, BrokerTlsPortRefusesAPlainClient) {
  auto settings = broker::settings_from(config_.broker);
  settings.tls = false;
  settings.rpc_timeout_ms = 3000;
  EXPECT_THROW(broker::Connection(settings, "security_test plain"), broker::BrokerError);
}

TEST_F(Transport, RootWithoutPasswordIsRefusedOverTcp) {
  for (const bool tls : {false, true}) {
    auto settings = db::settings_from(config_.db);
    settings.user = "root";
    settings.password = "";
    settings.database = "";
    settings.tls = tls;
    try {
      db::Connection c(settings);
      FAIL() << "root logged in over TCP without a password (tls " << tls << ")";
    } catch (const db::DbError& e) {
      EXPECT_EQ(e.code(), 1045) << e.what();  // access denied
    }
  }
}

TEST_F(Transport, ReaderAccountCanOnlyRead) {
  auto settings = db::settings_from(config_.db);
  settings.user = "tianyu_reader";
  settings.password = *env("TIANYU_SECURITY_READER_PASSWORD");
  db::Connection c(settings);
  EXPECT_EQ(c.query_one("SELECT COUNT(*) FROM security_probe").i64(0), 1);
  try {
    c.execute("INSERT INTO security_probe VALUES (2)");
    FAIL() << "the reader account could insert";
  } catch (const db::DbError& e) {
    EXPECT_EQ(e.code(), 1142) << e.what();  // command denied
  }
}

}  // namespace
}  // namespace tianyu
