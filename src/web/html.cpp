#include "web/html.h"

#include <cmath>

#include <spdlog/fmt/fmt.h>

namespace tianyu::web::html {

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (const char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string text(const nlohmann::json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return escape(value.get<std::string>());
  if (value.is_number_float()) return fmt::format("{:.4g}", value.get<double>());
  return escape(value.dump());
}

std::string fixed(const nlohmann::json& value, int decimals) {
  if (!value.is_number()) return text(value);
  return fmt::format("{:.{}f}", value.get<double>(), decimals);
}

namespace {
constexpr const char* kStyle = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
nav{background:#1f3b57;padding:8px 16px}nav a{color:#fff;margin-right:18px;text-decoration:none}
main{padding:12px 18px}h1{font-size:20px}h2{font-size:16px;margin-top:22px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}
th{background:#eee}.num{text-align:right}.err{font-family:monospace;white-space:pre-wrap;max-width:60em}
.grid td{width:9px;height:12px;padding:0;border:1px solid #fff}.grid th{font-weight:normal;font-size:12px}
.bar{background:#ddd;width:120px;height:10px;display:inline-block}.bar span{display:block;height:10px;background:#2e8b57}
.legend span{display:inline-block;padding:1px 6px;margin-right:4px;color:#fff;font-size:12px}
.note{color:#666}svg{background:#fff;border:1px solid #ddd;margin:4px}
)";
}  // namespace

std::string page(std::string_view title, const std::string& body) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"30\"><title>{0} · tianyu</title><style>{1}</style></head>"
      "<body><nav><a href=\"/\">Observations</a><a href=\"/queues\">Queues</a>"
      "<a href=\"/daemons\">Daemons</a><a href=\"/api\">JSON API</a></nav><main><h1>{0}</h1>\n{2}\n"
      "</main></body></html>\n",
      escape(title), kStyle, body);
}

std::string table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows, std::string_view css_class) {
  std::string out = fmt::format("<table class=\"{}\"><tr>", escape(css_class));
  for (const auto& h : header) out += "<th>" + escape(h) + "</th>";
  out += "</tr>\n";
  for (const auto& row : rows) {
    out += "<tr>";
    for (const auto& cell : row) out += "<td>" + cell + "</td>";
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

std::string link(std::string_view href, std::string_view label) {
  return fmt::format("<a href=\"{}\">{}</a>", escape(href), escape(label));
}

std::string state_colour(std::string_view state) {
  if (state == "success") return "#2e8b57";
  if (state == "failed") return "#c0392b";
  if (state == "cancelled") return "#7f8c8d";
  if (state == "running") return "#2980b9";
  if (state == "queued" || state == "ready") return "#8e44ad";
  if (state == "retry_wait") return "#e67e22";
  return "#bdc3c7";  // waiting
}

std::string duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "";
  const auto s = static_cast<long long>(std::llround(seconds));
  if (s >= 3600) return fmt::format("{} h {:02} min", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{} min {:02} s", s / 60, s % 60);
  return fmt::format("{} s", s);
}

}  // namespace tianyu::web::html
