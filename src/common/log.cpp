#include "common/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace tianyu {
namespace {

thread_local std::uint64_t t_process_id = 0;
thread_local std::string t_command;

void append_escaped(std::string_view text, spdlog::memory_buf_t& dest) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      dest.push_back('\\');
      dest.push_back(ch);
    } else if (u < 0x20) {
      const char esc[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 15]};
      dest.append(esc, esc + sizeof esc);
    } else {
      dest.push_back(ch);
    }
  }
}

// %P and %C in a pattern: the running step's process id and command as JSON values (null
// outside a step).
class StepProcessId : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string v = t_process_id ? std::to_string(t_process_id) : "null";
    dest.append(v.data(), v.data() + v.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<StepProcessId>(); }
};

class StepCommand : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
    if (t_command.empty()) {
      dest.append(std::string_view("null"));
      return;
    }
    dest.push_back('"');
    append_escaped(t_command, dest);
    dest.push_back('"');
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<StepCommand>(); }
};

// %* in a pattern: the log message escaped as a JSON string body, so JSON-lines output stays
// valid whatever the message holds (quotes, backslashes, file names with control characters).
class JsonEscapedMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    append_escaped(std::string_view(msg.payload.data(), msg.payload.size()), dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

}  // namespace

StepLogScope::StepLogScope(std::uint64_t process_id, std::string command) {
  t_process_id = process_id;
  t_command = std::move(command);
}

StepLogScope::~StepLogScope() {
  t_process_id = 0;
  t_command.clear();
}

void setup_logging(const LogConfig& config, std::string_view program, std::string_view site, std::string_view group) {
  const std::string name(program);
  spdlog::drop(name);
  auto logger = spdlog::stderr_color_mt(name);
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (config.format == "json") {
    // Site and group are fixed for the process: escaped once into the pattern ('%' doubled).
    spdlog::memory_buf_t escaped_site, escaped_group;
    append_escaped(site, escaped_site);
    append_escaped(group, escaped_group);
    auto literal = [](const spdlog::memory_buf_t& b) {
      std::string out;
      for (char ch : std::string_view(b.data(), b.size())) {
        out += ch;
        if (ch == '%') out += '%';
      }
      return out;
    };
    formatter->add_flag<JsonEscapedMessage>('*').add_flag<StepProcessId>('P').add_flag<StepCommand>('C').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","program":"%n","level":"%l","site":")" + literal(escaped_site) +
        R"(","group":")" + literal(escaped_group) + R"(","process_id":%P,"command":%C,"msg":"%*"})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %n %^%l%$ %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::from_str(config.level));
  spdlog::set_default_logger(logger);
}

}  // namespace tianyu
