#pragma once
// tianyu-web's HTTP side: routes, the read-only rule (GET and HEAD only, others 405), and
// errors as messages (an unknown route or id is a 404 naming it; the database out of reach is
// a 503 saying a retry helps; nothing ever answers with a stack).
#include <memory>
#include <string>

#include "common/config.h"

namespace httplib {
class Server;
}

namespace tianyu::web {

struct ListenAddress {
  std::string host = "127.0.0.1";  // loopback unless told otherwise
  int port = 8080;
};

// "HOST:PORT" (":PORT" keeps the host); InputError naming `origin` when malformed.
ListenAddress parse_listen(const std::string& text, const std::string& origin);

class BrokerProbe;

class WebServer {
 public:
  explicit WebServer(const Config& config);
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;
  // Binds (port 0: any free port); throws naming the address when it cannot.
  void bind(const ListenAddress& address);
  int port() const noexcept { return port_; }
  // Serves until stop() is called from another thread.
  void serve();
  void stop();

 private:
  void add_routes();
  Config config_;
  std::unique_ptr<httplib::Server> http_;
  std::unique_ptr<BrokerProbe> probe_;
  int port_ = 0;
};

}  // namespace tianyu::web
