#include "consumer/hand_off.h"

#include <spdlog/spdlog.h>

#include "common/queues.h"

namespace tianyu::consumer {

void HandOffPublisher::connected(broker::Connection& broker) {
  broker.enable_confirms();
  in_flight_.clear();
  declared_queues_.clear();
}

void HandOffPublisher::publish(broker::Connection& broker, const std::vector<process::Dispatch>& dispatches) {
  for (const auto& d : dispatches) {
    const std::string queue = queues::work_queue(d.site, d.group);
    if (declared_queues_.insert(queue).second) queues::declare_work_queue(broker, d.site, d.group);
    broker::PublishOptions options;
    options.message_id = queues::message_id(d.process_id, d.attempt);
    const queues::ProcessMessage m{d.process_id, d.attempt};
    in_flight_[broker.publish("", queue, queues::encode(m), options)] = {d.process_id, d.attempt};
  }
}

void HandOffPublisher::settle(broker::Connection& broker) {
  if (broker.unconfirmed() == 0) return;  // kicks are confirmed too: read theirs as well
  const auto confirms = broker.wait_for_confirms(std::chrono::milliseconds(0));
  std::vector<process::AttemptKey> confirmed;
  auto forget = [&](std::uint64_t seq, bool stored) {
    const auto it = in_flight_.find(seq);
    if (it == in_flight_.end()) return;
    if (stored) confirmed.push_back(it->second);
    in_flight_.erase(it);
  };
  for (auto seq : confirms.acked) forget(seq, true);
  for (auto seq : confirms.nacked) forget(seq, false);
  for (auto seq : confirms.returned) forget(seq, false);
  if (!confirms.nacked.empty() || !confirms.returned.empty()) {
    spdlog::warn("the broker refused {} and returned {} publishes; the manager republishes the dispatches among them",
                 confirms.nacked.size(), confirms.returned.size());
  }
  mark_published(confirmed);
}

void HandOffPublisher::mark_published(const std::vector<process::AttemptKey>& confirmed) {
  if (confirmed.empty()) return;
  try {
    if (!db_) db_ = std::make_unique<db::Connection>(db::settings_from(config_.db));
    process::mark_published(*db_, confirmed);
  } catch (const std::exception& e) {
    // Left unmarked, they are republished by the manager; the consumers drop the duplicates.
    spdlog::warn("cannot mark {} handed-off dispatches published: {}", confirmed.size(), e.what());
    db_.reset();
  }
}

}  // namespace tianyu::consumer
