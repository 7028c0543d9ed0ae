#include "common/broker.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "common/queues.h"
#include "support/live_services.h"

namespace tianyu::broker {
namespace {

using namespace std::chrono_literals;

class LiveBroker : public ::testing::Test {
 protected:
  void SetUp() override {
    TIANYU_REQUIRE_LIVE_SERVICES();
    settings_ = settings_from(test::live_config()->broker);
    queue_ = test::unique_name("tianyu.test");
  }
  void TearDown() override {
    if (queue_.empty() || !test::live_config()) return;
    try {
      Connection c(settings_, "broker_test cleanup");
      c.delete_queue(queue_);
      for (const auto& extra : extra_queues_) c.delete_queue(extra);
    } catch (...) {
    }
  }
  // Polls the ready-message count until it equals `expected` or two seconds pass.
  std::uint32_t settle_count(Connection& c, const std::string& queue, std::uint32_t expected) {
    std::uint32_t n = 0;
    for (int i = 0; i < 40; ++i) {
      n = c.message_count(queue);
      if (n == expected) break;
      std::this_thread::sleep_for(50ms);
    }
    return n;
  }

  Settings settings_;
  std::string queue_;
  std::vector<std::string> extra_queues_;
};

TEST_F(LiveBroker, PersistentPublishIsConfirmedConsumedAndAcked) {
  Connection publisher(settings_, "broker_test publisher");
  publisher.declare_queue(queue_);
  publisher.enable_confirms();
  const std::string body = R"({"process_id":18446744073709551615,"command":"noop"})";
  const auto seq = publisher.publish("", queue_, body, {.message_id = "42.1"});
  const Confirms confirms = publisher.wait_for_confirms(5s);
  EXPECT_EQ(confirms.acked.count(seq), 1u);
  EXPECT_TRUE(confirms.pending.empty());
  EXPECT_TRUE(confirms.returned.empty());
  EXPECT_EQ(publisher.unconfirmed(), 0u);
  EXPECT_EQ(settle_count(publisher, queue_, 1), 1u);

  {
    Connection consumer(settings_, "broker_test consumer");
    consumer.consume(queue_, 1);
    const auto delivery = consumer.next_delivery(5s);
    ASSERT_TRUE(delivery.has_value());
    EXPECT_EQ(delivery->body, body);
    EXPECT_EQ(delivery->message_id, "42.1");
    EXPECT_EQ(delivery->routing_key, queue_);
    EXPECT_FALSE(delivery->redelivered);
    consumer.ack(delivery->delivery_tag);
    EXPECT_FALSE(consumer.next_delivery(200ms).has_value());
  }
  // Acked before the consumer went away: nothing comes back.
  EXPECT_EQ(settle_count(publisher, queue_, 0), 0u);
}

TEST_F(LiveBroker, UnackedDeliveryReturnsMarkedRedelivered) {
  Connection publisher(settings_, "broker_test publisher");
  publisher.declare_queue(queue_);
  publisher.enable_confirms();
  publisher.publish("", queue_, "first", {.message_id = "1.1"});
  ASSERT_EQ(publisher.wait_for_confirms(5s).acked.size(), 1u);
  {
    Connection crashed(settings_, "broker_test consumer that dies");
    crashed.consume(queue_, 1);
    ASSERT_TRUE(crashed.next_delivery(5s).has_value());
    // Leaves without acking, as a killed consumer would.
  }
  EXPECT_EQ(settle_count(publisher, queue_, 1), 1u);
  Connection consumer(settings_, "broker_test consumer");
  consumer.consume(queue_, 1);
  const auto again = consumer.next_delivery(5s);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->body, "first");
  EXPECT_TRUE(again->redelivered);
  consumer.ack(again->delivery_tag);
}

TEST_F(LiveBroker, PrefetchBoundsUnackedDeliveries) {
  Connection publisher(settings_, "broker_test publisher");
  publisher.declare_queue(queue_);
  publisher.enable_confirms();
  for (int i = 0; i < 5; ++i) publisher.publish("", queue_, std::to_string(i));
  ASSERT_EQ(publisher.wait_for_confirms(5s).acked.size(), 5u);
  Connection consumer(settings_, "broker_test consumer");
  consumer.consume(queue_, 2);
  const auto a = consumer.next_delivery(5s);
  const auto b = consumer.next_delivery(5s);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(consumer.next_delivery(300ms).has_value()) << "prefetch 2 allows only 2 unacked";
  consumer.ack(a->delivery_tag);
  const auto c = consumer.next_delivery(5s);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->body, "2");  // a classic queue delivers in order
}

TEST_F(LiveBroker, UnroutableMandatoryPublishIsReturnedNotStored) {
  Connection publisher(settings_, "broker_test publisher");
  publisher.enable_confirms();
  const auto seq = publisher.publish("", queue_ + ".nobody", "lost?", {.message_id = "9.1"});
  const Confirms confirms = publisher.wait_for_confirms(5s);
  EXPECT_EQ(confirms.returned.count(seq), 1u);
  EXPECT_EQ(confirms.acked.count(seq), 0u) << "a returned message must not count as stored";
}

TEST_F(LiveBroker, RejectedDeliveryGoesToTheDeadLetterQueue) {
  const std::string dlx = queue_ + ".dlx";
  const std::string dead = queue_ + ".dead";
  extra_queues_ = {dead};
  Connection c(settings_, "broker_test");
  c.declare_exchange(dlx, "fanout");
  c.declare_queue(dead);
  c.bind_queue(dead, dlx, "");
  QueueOptions dead_lettered;
  dead_lettered.dead_letter_exchange = dlx;
  c.declare_queue(queue_, dead_lettered);
  c.enable_confirms();
  c.publish("", queue_, "poison", {.message_id = "13.1"});
  ASSERT_EQ(c.wait_for_confirms(5s).acked.size(), 1u);
  Connection consumer(settings_, "broker_test consumer");
  consumer.consume(queue_, 1);
  const auto d = consumer.next_delivery(5s);
  ASSERT_TRUE(d.has_value());
  consumer.reject(d->delivery_tag, /*requeue=*/false);
  EXPECT_EQ(settle_count(c, dead, 1), 1u);
  EXPECT_EQ(settle_count(c, queue_, 0), 0u);
}

TEST_F(LiveBroker, ChannelErrorIsReportedAndTheConnectionStaysUsable) {
  Connection c(settings_, "broker_test");
  EXPECT_THROW(c.message_count(queue_ + ".missing"), BrokerError);  // 404 closes the channel
  c.declare_queue(queue_);
  EXPECT_EQ(c.message_count(queue_), 0u);
}

TEST_F(LiveBroker, WrongPasswordIsRefusedAndNotRetryable) {
  Settings wrong = settings_;
  wrong.password = "definitely-not-the-password";
  try {
    Connection c(wrong, "broker_test wrong password");
    FAIL() << "login must fail";
  } catch (const BrokerError& e) {
    EXPECT_FALSE(e.retryable()) << e.what();
    EXPECT_NE(std::string(e.what()).find("ACCESS_REFUSED"), std::string::npos) << e.what();
  }
}

TEST(Broker, RefusedConnectionIsRetryable) {
  Settings s;
  s.port = 1;  // nothing listens on loopback port 1
  s.rpc_timeout_ms = 2000;
  try {
    Connection c(s, "broker_test refused");
    FAIL() << "expected a connection error";
  } catch (const BrokerError& e) {
    EXPECT_TRUE(e.connection_lost());
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
  }
}

// The dead-letter queue is capped: redeclaring it with exactly the capped arguments is accepted,
// and with none (an uncapped queue) refused (RabbitMQ compares the declared arguments).
TEST_F(LiveBroker, TheDeadLetterQueueIsDeclaredCappedWithItsOverflowCounted) {
  Connection c(settings_, "broker_test dead letters");
  queues::declare_dead_letters(c);
  EXPECT_NO_THROW(c.declare_queue(queues::kDeadLetterQueue, queues::dead_letter_options()));
  const auto options = queues::dead_letter_options();
  EXPECT_EQ(options.dead_letter_exchange, queues::kOverflowExchange)
      << "what the cap drops goes to the overflow the manager counts";
  try {
    c.declare_queue(queues::kDeadLetterQueue, QueueOptions{});
    ADD_FAILURE() << "an uncapped redeclaration was accepted: the queue has no caps";
  } catch (const BrokerError& e) {
    EXPECT_FALSE(e.connection_lost());
    EXPECT_NE(std::string(e.what()).find("PRECONDITION_FAILED"), std::string::npos) << e.what();
  }
  EXPECT_EQ(queues::kDeadLetterMaxMessages, 10000);
  EXPECT_EQ(queues::kDeadLetterTtlMs, 7LL * 24 * 3600 * 1000);
}

}  // namespace
}  // namespace tianyu::broker
