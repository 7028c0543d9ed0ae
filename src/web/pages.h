#pragma once
// The HTML pages, each drawn from the JSON document its /api route returns (read_model.h,
// site_health.h), so what an operator sees and what a script reads never disagree.
#include <string>

#include <nlohmann/json.hpp>

namespace tianyu::web::pages {

std::string observations(const nlohmann::json& doc);
std::string observation(const nlohmann::json& doc);
std::string durations(const nlohmann::json& doc);
std::string light_curve(const nlohmann::json& doc);
std::string queues(const nlohmann::json& doc);
std::string daemons(const nlohmann::json& doc);
// The route list (the /api index and the README say the same).
std::string api_index();
// A 404 or 405 page: the message is escaped.
std::string error(int status, const std::string& message);

}  // namespace tianyu::web::pages
