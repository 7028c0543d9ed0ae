#include "common/connectivity.h"

#include <spdlog/fmt/fmt.h>

#include "common/broker.h"
#include "common/db.h"
#include "common/migrations.h"

namespace tianyu {

std::string check_connectivity(const Config& config, const std::string& program) {
  db::Connection database(db::settings_from(config.db));
  const int version = db::schema_version(database);
  broker::Connection broker(broker::settings_from(config.broker), program + " --check");
  return fmt::format(
      "ok: MariaDB {}:{} database '{}' at schema version {}; RabbitMQ {}:{} vhost '{}'; "
      "site '{}', group '{}'",
      config.db.host, config.db.port, config.db.name, version, config.broker.host,
      config.broker.port, config.broker.vhost, config.site, config.group);
}

}  // namespace tianyu
