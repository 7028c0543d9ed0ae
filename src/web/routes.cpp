// The route table. Every route is GET (HEAD follows it); every other method is refused with
// 405 before anything is read, so no request can change state.
#include <spdlog/fmt/fmt.h>

#include "publisher/publisher.h"
#include "web/html.h"
#include "web/pages.h"
#include "web/read_model.h"
#include "web/server.h"
#include "web/server_internal.h"
#include "web/site_health.h"

namespace tianyu::web {

using nlohmann::json;

namespace {

// `pattern` as a page and, under /api, as its JSON.
void both(httplib::Server& http, const Config& config, const std::string& pattern, const Reader& reader,
          const Renderer& render, const std::function<std::string(const httplib::Request&)>& title) {
  http.Get(pattern, [&config, reader, render, title](const httplib::Request& req, httplib::Response& res) {
    answer(config, req, res, reader, render, title(req), false);
  });
  http.Get("/api" + pattern, [&config, reader, render](const httplib::Request& req, httplib::Response& res) {
    answer(config, req, res, reader, render, "", true);
  });
}

std::function<std::string(const httplib::Request&)> fixed(std::string title) {
  return [title](const httplib::Request&) { return title; };
}

void refuse_writes(httplib::Server& http) {
  const auto refuse = [](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Allow", "GET, HEAD");
    send_error(res, 405, fmt::format("{} is not allowed: tianyu-web is read-only (GET only)", req.method),
               req.path.rfind("/api", 0) == 0);
  };
  http.Post(R"(.*)", refuse);
  http.Put(R"(.*)", refuse);
  http.Patch(R"(.*)", refuse);
  http.Delete(R"(.*)", refuse);
  http.Options(R"(.*)", refuse);
}

}  // namespace

void WebServer::add_routes() {
  httplib::Server& http = *http_;
  const Config& config = config_;
  BrokerProbe& probe = *probe_;
  both(http, config, "/observations", [](db::Connection& c, const httplib::Request&) { return observations(c); },
       pages::observations, fixed("Observations"));
  http.Get("/", [&config](const httplib::Request& req, httplib::Response& res) {
    answer(config, req, res, [](db::Connection& c, const httplib::Request&) { return observations(c); },
           pages::observations, "Observations", false);
  });
  both(http, config, R"(/observations/(\d{1,19}))",
       [](db::Connection& c, const httplib::Request& req) { return observation(c, id_in(req, 1, "observation")); },
       pages::observation, [](const httplib::Request& req) { return "Observation " + std::string(req.matches[1]); });
  both(http, config, R"(/observations/(\d{1,19})/durations)",
       [](db::Connection& c, const httplib::Request& req) { return durations(c, id_in(req, 1, "observation")); },
       pages::durations, [](const httplib::Request& req) { return "Durations of observation " + std::string(req.matches[1]); });
  both(http, config, R"(/observations/(\d{1,19})/sources/(\d{1,19}))",
       [](db::Connection& c, const httplib::Request& req) {
         return light_curve(c, id_in(req, 1, "observation"), id_in(req, 2, "source"));
       },
       pages::light_curve,
       [](const httplib::Request& req) { return "Light curve of source " + std::string(req.matches[2]); });
  both(http, config, "/queues", [&probe](db::Connection& c, const httplib::Request&) { return queues(c, probe); },
       pages::queues, fixed("Queues"));
  both(http, config, "/daemons", [](db::Connection& c, const httplib::Request&) { return daemons(c); },
       pages::daemons, fixed("Daemons"));
  http.Get("/api/status", [&config](const httplib::Request& req, httplib::Response& res) {
    answer(config, req, res, [](db::Connection& c, const httplib::Request& r) {
      std::uint64_t id = 0;
      if (r.has_param("observation")) {
        try {
          id = std::stoull(r.get_param_value("observation"));
        } catch (const std::exception&) {
          throw NotFound("no observation " + r.get_param_value("observation"));
        }
        observation_summary(c, id);  // 404 for an unknown one
      }
      return publisher::status(c, id);
    }, nullptr, "", true);
  });
  http.Get("/api", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(html::page("Routes", pages::api_index()), "text/html; charset=utf-8");
  });
  refuse_writes(http);
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler's own message
    if (res.status == 404) send_error(res, 404, "no page at " + req.path, req.path.rfind("/api", 0) == 0);
  });
}

}  // namespace tianyu::web
