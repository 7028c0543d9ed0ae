#pragma once
// Typed step parameters. A params struct lists its fields once, in a `visit` member:
//
//   template <class V> void visit(V& v) {
//     v.required("frame_id", frame_id, "the science frame");
//     v.optional("sleep_ms", sleep_ms, "milliseconds to wait first");
//   }
//
// and from that one list come the strict JSON reader (an unknown or mistyped field is refused
// with the step and the field named), the writer (every field written, defaults included, so a
// process row says exactly what ran), and the documentation (the README's step table). Nested
// option structs visit their own fields the same way (`v.nested("options", options, ...)`).
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/errors.h"

namespace tianyu::steps {

using json = nlohmann::json;

namespace detail {

template <class T> struct is_vector : std::false_type {};
template <class T> struct is_vector<std::vector<T>> : std::true_type {};
template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};

// What a JSON value must be to become a T, in words for the error message.
template <class T> std::string type_name() {
  if constexpr (std::is_same_v<T, bool>) {
    return "true or false";
  } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
    return "a non-negative integer";
  } else if constexpr (std::is_integral_v<T>) {
    return "an integer";
  } else if constexpr (std::is_floating_point_v<T>) {
    return "a number";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "a string";
  } else if constexpr (std::is_same_v<T, json>) {
    return "a JSON object";
  } else if constexpr (is_vector<T>::value) {
    const std::string element = type_name<typename T::value_type>();  // "a number" -> "numbers"
    return "an array of " + element.substr(element.find(' ') + 1) + "s";
  } else if constexpr (is_optional<T>::value) {
    return type_name<typename T::value_type>();
  } else {
    return "an object";
  }
}

template <class T> bool fits(const json& j) {
  if constexpr (std::is_same_v<T, bool>) {
    return j.is_boolean();
  } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
    // A non-negative integer, whether JSON text parsed it unsigned or C++ built it signed.
    const bool non_negative = j.is_number_unsigned() || (j.is_number_integer() && j.get<std::int64_t>() >= 0);
    return non_negative && j.get<std::uint64_t>() <= std::numeric_limits<T>::max();
  } else if constexpr (std::is_integral_v<T>) {
    return j.is_number_integer() && j.get<std::int64_t>() >= std::numeric_limits<T>::min() &&
           j.get<std::int64_t>() <= std::numeric_limits<T>::max();
  } else if constexpr (std::is_floating_point_v<T>) {
    return j.is_number();
  } else if constexpr (std::is_same_v<T, std::string>) {
    return j.is_string();
  } else if constexpr (std::is_same_v<T, json>) {
    return j.is_object();
  } else if constexpr (is_vector<T>::value) {
    if (!j.is_array()) return false;
    for (const auto& e : j) {
      if (!fits<typename T::value_type>(e)) return false;
    }
    return true;
  } else {
    return false;
  }
}

}  // namespace detail

// Reads a params struct from JSON, refusing what the struct does not declare.
class ParamReader {
 public:
  ParamReader(const json& j, std::string step, std::string prefix = "")
      : json_(j), step_(std::move(step)), prefix_(std::move(prefix)) {
    if (!j.is_object()) fail(prefix_.empty() ? "parameters" : prefix_, "must be a JSON object, got " + j.dump());
  }

  template <class T> void required(const char* name, T& value, const char*) { read(name, value, true); }
  template <class T> void optional(const char* name, T& value, const char*) { read(name, value, false); }
  template <class T> void nested(const char* name, T& value, const char*) {
    known_.insert(name);
    if (!json_.contains(name)) return;
    ParamReader inner(json_.at(name), step_, path(name));
    value.visit(inner);
    inner.refuse_unknown();
  }

  // After visiting: any field the struct did not declare is an error naming it.
  void refuse_unknown() const {
    for (const auto& [key, v] : json_.items()) {
      if (known_.count(key) == 0) {
        std::string known;
        for (const auto& k : known_) known += (known.empty() ? "" : ", ") + k;
        fail(path(key), "is not a parameter of this step (known: " + (known.empty() ? "none" : known) + ")");
      }
    }
  }

 private:
  template <class T> void read(const char* name, T& value, bool is_required) {
    known_.insert(name);
    if (!json_.contains(name) || json_.at(name).is_null()) {
      if (is_required) fail(path(name), "is required (" + detail::type_name<T>() + ")");
      return;
    }
    const json& v = json_.at(name);
    if constexpr (detail::is_optional<T>::value) {
      typename T::value_type inner{};
      read_value(name, v, inner);
      value = inner;
    } else {
      read_value(name, v, value);
    }
  }
  template <class T> void read_value(const char* name, const json& v, T& value) {
    if (!detail::fits<T>(v)) fail(path(name), "must be " + detail::type_name<T>() + ", got " + v.dump());
    value = v.get<T>();
  }
  std::string path(const std::string& name) const { return prefix_.empty() ? name : prefix_ + "." + name; }
  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw InputError(step_ + ": parameter '" + field + "' " + what);
  }

  const json& json_;
  std::string step_, prefix_;
  std::set<std::string> known_;
};

// Writes every field (defaults included; an empty optional is left out).
class ParamWriter {
 public:
  template <class T> void required(const char* name, const T& value, const char*) { write(name, value); }
  template <class T> void optional(const char* name, const T& value, const char*) { write(name, value); }
  template <class T> void nested(const char* name, const T& value, const char*) {
    ParamWriter inner;
    T copy = value;  // visit() is one member for reading and writing: walk a copy
    copy.visit(inner);
    json_[name] = inner.json_;
  }
  json take() { return std::move(json_); }

 private:
  template <class T> void write(const char* name, const T& value) {
    if constexpr (detail::is_optional<T>::value) {
      if (value) json_[name] = *value;
    } else {
      json_[name] = value;
    }
  }
  json json_ = json::object();
};

// One documented field, for the step table and `tianyu-publish steps`.
struct ParamDoc {
  std::string name;      // dotted for nested options: "options.radii_fwhm"
  std::string type;      // "a non-negative integer", ...
  bool required = false;
  std::string default_value;  // JSON of the default; empty when required or unset
  std::string doc;
};

class ParamDocumenter {
 public:
  explicit ParamDocumenter(std::string prefix = "") : prefix_(std::move(prefix)) {}
  template <class T> void required(const char* name, const T&, const char* doc) {
    docs_.push_back({path(name), detail::type_name<T>(), true, "", doc});
  }
  template <class T> void optional(const char* name, const T& value, const char* doc) {
    std::string def;
    if constexpr (detail::is_optional<T>::value) {
      if (value) def = json(*value).dump();
    } else {
      def = json(value).dump();
    }
    docs_.push_back({path(name), detail::type_name<T>(), false, def, doc});
  }
  template <class T> void nested(const char* name, const T& value, const char*) {
    ParamDocumenter inner(path(name));
    T copy = value;
    copy.visit(inner);
    for (auto& d : inner.docs_) docs_.push_back(std::move(d));
  }
  std::vector<ParamDoc> take() { return std::move(docs_); }

 private:
  std::string path(const std::string& name) const { return prefix_.empty() ? name : prefix_ + "." + name; }
  std::string prefix_;
  std::vector<ParamDoc> docs_;
};

// The typed params of `step` from a process row's JSON: InputError naming the field otherwise.
template <class P> P read_params(const json& j, const std::string& step) {
  P p;
  ParamReader reader(j, step);
  p.visit(reader);
  reader.refuse_unknown();
  return p;
}

template <class P> json write_params(const P& p) {
  ParamWriter writer;
  P copy = p;
  copy.visit(writer);
  return writer.take();
}

template <class P> std::vector<ParamDoc> document_params() {
  P p;
  ParamDocumenter documenter;
  p.visit(documenter);
  return documenter.take();
}

}  // namespace tianyu::steps
