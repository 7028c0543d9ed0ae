#include "web/server.h"

#include <functional>

#include <httplib.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "common/db.h"
#include "publisher/publisher.h"
#include "web/html.h"
#include "web/pages.h"
#include "web/read_model.h"
#include "web/server_internal.h"
#include "web/site_health.h"

namespace tianyu::web {

using nlohmann::json;

ListenAddress parse_listen(const std::string& text, const std::string& origin) {
  const auto colon = text.rfind(':');
  ListenAddress a;
  if (colon == std::string::npos) throw InputError(fmt::format("{} '{}': expected HOST:PORT", origin, text));
  if (colon > 0) a.host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    throw InputError(fmt::format("{} '{}': the port must be a number 0-65535", origin, text));
  }
  a.port = std::stoi(port);
  return a;
}

namespace {

// One database connection per server thread (httplib keeps a fixed pool), opened on first use
// under the read-only account the configuration names.
db::Connection& connection(const Config& config) {
  thread_local std::unique_ptr<db::Connection> c;
  if (!c) c = std::make_unique<db::Connection>(db::settings_from(config.db));
  return *c;
}

// Runs a read; a lost connection is reopened and the read done once more (it changes nothing).
json read(const Config& config, const std::function<json(db::Connection&)>& query) {
  try {
    return query(connection(config));
  } catch (const db::DbError& e) {
    if (!e.connection_lost()) throw;
    connection(config).reconnect();
    return query(connection(config));
  }
}

}  // namespace

void send_error(httplib::Response& res, int status, const std::string& message, bool as_json) {
  res.status = status;
  if (as_json) {
    res.set_content(json{{"error", message}, {"status", status}}.dump(), "application/json");
  } else {
    res.set_content(pages::error(status, message), "text/html; charset=utf-8");
  }
}

std::uint64_t id_in(const httplib::Request& req, std::size_t i, const char* what) {
  const std::string text = req.matches[i];
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    throw NotFound(fmt::format("no {} {}", what, text));
  }
}

void answer(const Config& config, const httplib::Request& req, httplib::Response& res, const Reader& reader,
            const Renderer& render, const std::string& title, bool as_json) {
  try {
    const json doc = read(config, [&](db::Connection& c) { return reader(c, req); });
    if (as_json) {
      res.set_content(doc.dump(), "application/json");
    } else {
      res.set_content(html::page(title, render(doc)), "text/html; charset=utf-8");
    }
  } catch (const NotFound& e) {
    send_error(res, 404, e.what(), as_json);
  } catch (const db::DbError& e) {
    spdlog::warn("{} {}: database: {}", req.method, req.path, e.what());
    const bool lost = e.connection_lost();
    send_error(res, lost ? 503 : 500,
               lost ? "the database is out of reach; reload to retry" : std::string("database error: ") + e.what(),
               as_json);
  } catch (const std::exception& e) {
    spdlog::error("{} {}: {}", req.method, req.path, e.what());
    send_error(res, 500, std::string("could not draw this page: ") + e.what(), as_json);
  }
}

WebServer::WebServer(const Config& config)
    : config_(config), http_(std::make_unique<httplib::Server>()),
      probe_(std::make_unique<BrokerProbe>(config.broker, std::chrono::milliseconds(2000))) {
  // A page cannot run script even if something slipped past the escaping (defence in depth).
  http_->set_default_headers({{"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"},
                              {"X-Content-Type-Options", "nosniff"}, {"Cache-Control", "no-store"}});
  add_routes();
}

WebServer::~WebServer() = default;

void WebServer::bind(const ListenAddress& address) {
  port_ = address.port == 0 ? http_->bind_to_any_port(address.host) : address.port;
  if (port_ < 0 || (address.port != 0 && !http_->bind_to_port(address.host, address.port))) {
    throw Error(fmt::format("tianyu-web: cannot listen on {}:{} (in use, or not an address of this host)",
                            address.host, address.port));
  }
}

void WebServer::serve() { http_->listen_after_bind(); }
void WebServer::stop() { http_->stop(); }

}  // namespace tianyu::web
