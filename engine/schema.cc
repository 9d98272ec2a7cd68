#include "engine/schema.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tensord {
namespace {

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// An alias set: `a`, `a!`, `b|a`, `a -> *`, `a! -> b`.
bool ValidAlias(absl::string_view a) {
  size_t i = 0;
  auto ident = [&] {
    const size_t start = i;
    while (i < a.size() && IsIdentChar(a[i])) ++i;
    return i > start;
  };
  if (!ident()) return false;
  while (i < a.size() && a[i] == '|') {
    ++i;
    if (!ident()) return false;
  }
  if (i < a.size() && a[i] == '!') ++i;
  if (i == a.size()) return true;
  if (a.substr(i, 4) != " -> ") return false;
  i += 4;
  if (i < a.size() && a[i] == '*') return i + 1 == a.size();
  return ident() && i == a.size();
}

class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<FunctionSchema> Parse() {
    FunctionSchema schema;
    if (text_.substr(0, 6) == "aten::") pos_ = 6;
    SkipSpace();
    if (!Ident(schema.name)) return Error("expected the operator name");
    if (Peek() == '.') {
      ++pos_;
      if (!Ident(schema.overload)) return Error("expected an overload name after '.'");
    }
    SkipSpace();
    if (!Consume('(')) return Error("expected '('");
    if (auto s = Arguments(schema.arguments, /*is_return=*/false); !s.ok()) return s;
    SkipSpace();
    if (!Consume('-') || !Consume('>')) return Error("expected '->'");
    SkipSpace();
    if (Peek() == '(') {
      ++pos_;
      schema.returns_parenthesized = true;
      if (auto s = Arguments(schema.returns, /*is_return=*/true); !s.ok()) return s;
    } else {
      SchemaArgument ret;
      if (auto s = Type(ret.type); !s.ok()) return s;
      schema.returns.push_back(std::move(ret));
    }
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected text after the returns");
    return schema;
  }

 private:
  absl::Status Error(absl::string_view what) const {
    const size_t keep = std::min<size_t>(text_.size(), 200);
    return absl::InvalidArgumentError(absl::StrCat("malformed schema '", text_.substr(0, keep),
                                                   keep < text_.size() ? "..." : "", "' at column ",
                                                   pos_ + 1, ": ", what));
  }

  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void SkipSpace() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }
  bool Consume(char c) {
    SkipSpace();
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  bool Ident(std::string& out) {
    if (!IsIdentStart(Peek())) return false;
    const size_t start = pos_;
    while (IsIdentChar(Peek())) ++pos_;
    out = std::string(text_.substr(start, pos_ - start));
    return true;
  }

  // "(a)", "(a!)", "(a -> *)", "(b|a)": the text inside the parentheses.
  absl::Status Alias(std::string& out) {
    ++pos_;  // '('
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != ')') {
      const char c = text_[pos_];
      if (!IsIdentChar(c) && c != '!' && c != ' ' && c != '-' && c != '>' && c != '*' && c != '|') {
        return Error("unexpected character in an alias annotation");
      }
      ++pos_;
    }
    if (pos_ == text_.size()) return Error("expected ')' after an alias annotation");
    out = std::string(text_.substr(start, pos_ - start));
    if (out.empty() || out.front() == ' ' || out.back() == ' ') {
      return Error("empty or badly spaced alias annotation");
    }
    if (!ValidAlias(out)) return Error(absl::StrCat("malformed alias annotation '", out, "'"));
    ++pos_;  // ')'
    return absl::OkStatus();
  }

  absl::Status Type(SchemaType& type) {
    SkipSpace();
    if (!Ident(type.base)) return Error("expected a type");
    if (Peek() == '(') {
      if (auto s = Alias(type.alias); !s.ok()) return s;
    }
    if (Peek() == '[') {
      ++pos_;
      type.is_list = true;
      if (std::isdigit(static_cast<unsigned char>(Peek()))) {
        int64_t n = 0;
        while (std::isdigit(static_cast<unsigned char>(Peek()))) {
          if (n > 1000000) return Error("list size too large");
          n = n * 10 + (text_[pos_++] - '0');
        }
        type.list_size = n;
      }
      if (Peek() != ']') return Error("expected ']'");
      ++pos_;
      if (Peek() == '(') {
        if (auto s = Alias(type.list_alias); !s.ok()) return s;
      }
    }
    if (Peek() == '?') {
      ++pos_;
      type.optional = true;
    }
    return absl::OkStatus();
  }

  // A default value: a number, True/False/None, a quoted string or a bracketed list.
  absl::Status Default(std::string& out) {
    SkipSpace();
    const size_t start = pos_;
    const char c = Peek();
    if (c == '"' || c == '\'') {
      ++pos_;
      while (pos_ < text_.size() && text_[pos_] != c) {
        if (text_[pos_] == '\\') ++pos_;
        ++pos_;
      }
      if (pos_ >= text_.size()) return Error("unterminated string default");
      ++pos_;
    } else if (c == '[') {
      int depth = 0;
      do {
        if (Peek() == '[') ++depth;
        if (Peek() == ']') --depth;
        ++pos_;
      } while (pos_ < text_.size() && depth > 0);
      if (depth != 0) return Error("expected ']' to close a list default");
    } else {
      while (pos_ < text_.size() && (IsIdentChar(text_[pos_]) || text_[pos_] == '.' ||
                                     text_[pos_] == '-' || text_[pos_] == '+')) {
        ++pos_;
      }
    }
    if (pos_ == start) return Error("expected a default value after '='");
    out = std::string(text_.substr(start, pos_ - start));
    return absl::OkStatus();
  }

  // After '(': arguments up to and including ')'.
  absl::Status Arguments(std::vector<SchemaArgument>& out, bool is_return) {
    SkipSpace();
    if (Peek() == ')') {
      ++pos_;
      return absl::OkStatus();
    }
    bool kwarg_only = false;
    while (true) {
      SkipSpace();
      if (!is_return && Peek() == '*') {
        if (kwarg_only) return Error("a second '*'");
        ++pos_;
        kwarg_only = true;
        if (!Consume(',')) return Error("expected ',' after '*'");
        continue;
      }
      SchemaArgument arg;
      arg.kwarg_only = kwarg_only;
      if (auto s = Type(arg.type); !s.ok()) return s;
      SkipSpace();
      if (IsIdentStart(Peek())) {
        Ident(arg.name);
      } else if (!is_return) {
        return Error("expected an argument name");
      }
      SkipSpace();
      if (Peek() == '=') {
        if (is_return) return Error("a return cannot have a default");
        ++pos_;
        std::string value;
        if (auto s = Default(value); !s.ok()) return s;
        arg.default_value = std::move(value);
      }
      for (const SchemaArgument& other : out) {
        if (!arg.name.empty() && other.name == arg.name) {
          return Error(absl::StrCat("duplicate argument name '", arg.name, "'"));
        }
      }
      out.push_back(std::move(arg));
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == ')') {
        ++pos_;
        if (kwarg_only && !out.empty() && !out.back().kwarg_only) {
          return Error("'*' must be followed by an argument");
        }
        return absl::OkStatus();
      }
      return Error("expected ',' or ')'");
    }
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

bool SchemaType::IsWrite() const {
  return (!alias.empty() && alias.back() == '!') ||
         (!list_alias.empty() && list_alias.back() == '!');
}

std::string SchemaType::ToString() const {
  std::string s = base;
  if (!alias.empty()) absl::StrAppend(&s, "(", alias, ")");
  if (is_list) {
    absl::StrAppend(&s, "[", list_size ? absl::StrCat(*list_size) : "", "]");
    if (!list_alias.empty()) absl::StrAppend(&s, "(", list_alias, ")");
  }
  if (optional) s += "?";
  return s;
}

std::string SchemaArgument::ToString() const {
  std::string s = type.ToString();
  if (!name.empty()) absl::StrAppend(&s, " ", name);
  if (default_value) absl::StrAppend(&s, "=", *default_value);
  return s;
}

std::string FunctionSchema::QualifiedName() const {
  return overload.empty() ? name : absl::StrCat(name, ".", overload);
}

std::string FunctionSchema::ToString() const {
  std::vector<std::string> args;
  bool star = false;
  for (const SchemaArgument& a : arguments) {
    if (a.kwarg_only && !star) {
      args.push_back("*");
      star = true;
    }
    args.push_back(a.ToString());
  }
  std::vector<std::string> rets;
  for (const SchemaArgument& r : returns) rets.push_back(r.ToString());
  const std::string ret_text = returns_parenthesized
                                   ? absl::StrCat("(", absl::StrJoin(rets, ", "), ")")
                                   : absl::StrJoin(rets, ", ");
  return absl::StrCat(QualifiedName(), "(", absl::StrJoin(args, ", "), ") -> ", ret_text);
}

absl::StatusOr<FunctionSchema> ParseSchema(absl::string_view text) { return Parser(text).Parse(); }

}  // namespace tensord
