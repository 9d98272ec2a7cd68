// JSON for the oracle harnesses: a minimal writer (each function returns serialized JSON text)
// and a minimal reader for the programs tests/oracle/views_vs_torch.py sends the engine.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "engine/tensor.h"

namespace tensord::testing {

inline std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

inline std::string JsonDouble(double v) {
  if (std::isnan(v)) return "\"nan\"";
  if (std::isinf(v)) return v > 0 ? "\"inf\"" : "\"-inf\"";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

inline std::string JsonBool(bool b) { return b ? "true" : "false"; }

inline std::string JsonArray(const std::vector<std::string>& items) {
  return absl::StrCat("[", absl::StrJoin(items, ","), "]");
}

using Fields = std::vector<std::pair<std::string, std::string>>;

inline std::string JsonObject(const Fields& fields) {
  std::vector<std::string> items;
  items.reserve(fields.size());
  for (const auto& [key, value] : fields) {
    items.push_back(absl::StrCat(JsonString(key), ":", value));
  }
  return absl::StrCat("{", absl::StrJoin(items, ","), "}");
}

inline std::string JsonInts(const std::vector<int64_t>& v) {
  std::vector<std::string> items;
  items.reserve(v.size());
  for (const int64_t x : v) items.push_back(absl::StrCat(x));
  return JsonArray(items);
}

// Row-major logical values (strides followed), typed by dtype.
inline std::string JsonValues(const Tensor& t) {
  std::vector<std::string> items;
  items.reserve(static_cast<size_t>(t.numel()));
  switch (t.dtype()) {
    case DType::kFloat32:
    case DType::kFloat64:
      for (const double v : t.ToVector<double>()) items.push_back(JsonDouble(v));
      break;
    case DType::kInt64:
      for (const int64_t v : t.ToVector<int64_t>()) items.push_back(absl::StrCat(v));
      break;
    case DType::kBool:
      for (const bool v : t.ToVector<bool>()) items.push_back(JsonBool(v));
      break;
  }
  return JsonArray(items);
}

// ---- a minimal reader --------------------------------------------------------------------------

struct Json {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  bool integral = false;  // written without '.' or exponent
  std::string string;
  std::vector<Json> array;
  std::vector<std::pair<std::string, Json>> object;

  bool is_null() const { return kind == Kind::kNull; }
  int64_t Int() const { return static_cast<int64_t>(number); }
  const Json* Find(absl::string_view key) const {
    for (const auto& [k, v] : object)
      if (k == key) return &v;
    return nullptr;
  }
};

class JsonReader {
 public:
  explicit JsonReader(absl::string_view text) : s_(text) {}

  absl::StatusOr<Json> Parse() {
    Json v;
    if (!Value(v)) return absl::InvalidArgumentError(absl::StrCat("bad JSON at ", pos_));
    Skip();
    if (pos_ != s_.size()) return absl::InvalidArgumentError("trailing characters after JSON");
    return v;
  }

 private:
  void Skip() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool Literal(absl::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  bool Value(Json& v) {
    Skip();
    if (pos_ >= s_.size()) return false;
    const char c = s_[pos_];
    if (c == '{') return Object(v);
    if (c == '[') return Array(v);
    if (c == '"') {
      v.kind = Json::Kind::kString;
      return String(v.string);
    }
    if (Literal("null")) return true;
    if (Literal("true")) {
      v.kind = Json::Kind::kBool;
      v.boolean = true;
      return true;
    }
    if (Literal("false")) {
      v.kind = Json::Kind::kBool;
      return true;
    }
    return Number(v);
  }
  bool Number(Json& v) {
    const size_t start = pos_;
    v.integral = true;
    while (pos_ < s_.size() &&
           (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '-' ||
            s_[pos_] == '+' || s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) {
      if (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E') v.integral = false;
      ++pos_;
    }
    if (pos_ == start) return false;
    v.kind = Json::Kind::kNumber;
    v.number = std::strtod(std::string(s_.substr(start, pos_ - start)).c_str(), nullptr);
    return true;
  }
  bool String(std::string& out) {
    ++pos_;  // '"'
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c == '\\' && pos_ < s_.size()) {
        const char e = s_[pos_++];
        c = e == 'n' ? '\n' : e == 't' ? '\t' : e;
      }
      out += c;
    }
    if (pos_ >= s_.size()) return false;
    ++pos_;
    return true;
  }
  bool Array(Json& v) {
    v.kind = Json::Kind::kArray;
    ++pos_;
    Skip();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      Json item;
      if (!Value(item)) return false;
      v.array.push_back(std::move(item));
      Skip();
      if (pos_ >= s_.size()) return false;
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == ']') {
        ++pos_;
        return true;
      }
      return false;
    }
  }
  bool Object(Json& v) {
    v.kind = Json::Kind::kObject;
    ++pos_;
    Skip();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      Skip();
      std::string key;
      if (pos_ >= s_.size() || s_[pos_] != '"' || !String(key)) return false;
      Skip();
      if (pos_ >= s_.size() || s_[pos_] != ':') return false;
      ++pos_;
      Json item;
      if (!Value(item)) return false;
      v.object.emplace_back(std::move(key), std::move(item));
      Skip();
      if (pos_ >= s_.size()) return false;
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == '}') {
        ++pos_;
        return true;
      }
      return false;
    }
  }

  absl::string_view s_;
  size_t pos_ = 0;
};

}  // namespace tensord::testing
