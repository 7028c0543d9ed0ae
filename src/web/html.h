#pragma once
// HTML building blocks for tianyu-web's pages. Every text that came from the database goes
// through escape() (or a helper that calls it): an error message holding markup is shown as
// text, never run. Pages are self-contained (inline CSS, server-side SVG): they work offline.
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace tianyu::web::html {

// &, <, >, " and ' as entities: safe in element text and in quoted attributes.
std::string escape(std::string_view text);
// A JSON value as escaped text: strings without quotes, numbers as written, null as "".
std::string text(const nlohmann::json& value);
// A whole page: title (escaped), navigation, and `body` (already HTML).
std::string page(std::string_view title, const std::string& body);
// A table: `header` cells are escaped; `rows` cells are HTML already (escape what you put in).
std::string table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows, std::string_view css_class = "");
// <a href="href">label</a>, both escaped.
std::string link(std::string_view href, std::string_view label);
// The colour of a process state (the grid, the legend, the counts).
std::string state_colour(std::string_view state);
// A number with `decimals` fixed decimals (times as BJD need all their digits); "" for null.
std::string fixed(const nlohmann::json& value, int decimals);
// Elapsed seconds as "1 h 02 min", "3 min 05 s" or "12 s".
std::string duration(double seconds);

}  // namespace tianyu::web::html
