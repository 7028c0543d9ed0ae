#pragma once
// Shared by server.cpp and routes.cpp: reading through the per-thread connection and answering
// a page or its JSON with errors mapped to statuses.
#include <functional>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/db.h"

namespace tianyu::web {

using Reader = std::function<nlohmann::json(db::Connection&, const httplib::Request&)>;
using Renderer = std::function<std::string(const nlohmann::json&)>;

void send_error(httplib::Response& res, int status, const std::string& message, bool as_json);
// The decimal id in the route's i-th capture; NotFound naming `what` when it is not one.
std::uint64_t id_in(const httplib::Request& req, std::size_t i, const char* what);
// A page and its JSON: the document from `reader`, then either it (as_json) or the page
// `render` draws from it under `title`. NotFound -> 404, database out of reach -> 503.
void answer(const Config& config, const httplib::Request& req, httplib::Response& res, const Reader& reader,
            const Renderer& render, const std::string& title, bool as_json);

}  // namespace tianyu::web
