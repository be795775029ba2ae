// The Jinja2 interpreter for chat templates (see jinja.h): values, lexer, parser, evaluator.
#include "core/tokenizer/jinja.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace rlvr::core::jinja {
namespace {

// A failure inside the interpreter; `line` is filled in by the innermost node that sees it.
struct Fail {
  std::string message;
  int line = -1;
};

[[noreturn]] void fail(std::string message) { throw Fail{std::move(message), -1}; }

// ---------------------------------------------------------------------------------------------
// UTF-8 helpers (lenient: an invalid byte b decodes to 0xDC00 + b and encodes back to b).

std::u32string decode(const std::string& s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; ok && k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) {
      out.push_back(0xDC00 + c);
      ++i;
    } else {
      out.push_back(cp);
      i += len;
    }
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp >= 0xDC80 && cp <= 0xDCFF) {
    out.push_back(static_cast<char>(cp - 0xDC00));
  } else if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

size_t codepoint_count(const std::string& s) { return decode(s).size(); }

// Python's str.isspace() set.
bool py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

char32_t ascii_upper(char32_t c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }
char32_t ascii_lower(char32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
bool ascii_alpha(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string to_upper(const std::string& s) {
  std::string out = s;
  for (char& c : out) c = static_cast<char>(ascii_upper(static_cast<unsigned char>(c)));
  return out;
}
std::string to_lower(const std::string& s) {
  std::string out = s;
  for (char& c : out) c = static_cast<char>(ascii_lower(static_cast<unsigned char>(c)));
  return out;
}

// Python str.strip/lstrip/rstrip; `chars` none = white space.
std::string py_strip(const std::string& s, const Value* chars, bool left, bool right) {
  std::u32string u = decode(s);
  std::u32string set;
  bool ws = chars == nullptr || chars->is_none() || chars->is_undefined();
  if (!ws) {
    if (!chars->is_string()) fail("strip() argument must be a string or none, not " + chars->type_name());
    set = decode(chars->as_string());
  }
  auto strip_it = [&](char32_t c) { return ws ? py_space(c) : set.find(c) != std::u32string::npos; };
  size_t b = 0, e = u.size();
  if (left) while (b < e && strip_it(u[b])) ++b;
  if (right) while (e > b && strip_it(u[e - 1])) --e;
  return encode(u.substr(b, e - b));
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0 && s.size() >= p.size(); }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

[[noreturn]] void string_too_large(int64_t max_bytes) {
  fail(fmt::format("render stopped: a string of more than {} bytes (limit: max_output_bytes = {})", max_bytes, max_bytes));
}

// Python str.replace; a result beyond `max_bytes` fails (render budget).
std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count,
                        int64_t max_bytes) {
  std::string out;
  auto grow = [&](const std::string& piece) {
    if (static_cast<int64_t>(out.size() + piece.size()) > max_bytes) string_too_large(max_bytes);
    out += piece;
  };
  if (from.empty()) {
    // Python inserts `to` between every character (and at both ends).
    std::u32string u = decode(s);
    int64_t n = 0;
    for (size_t i = 0; i <= u.size(); ++i) {
      if (count < 0 || n < count) {
        grow(to);
        ++n;
      }
      if (i < u.size()) append_utf8(out, u[i]);
    }
    return out;
  }
  size_t pos = 0;
  int64_t n = 0;
  while (true) {
    size_t at = (count >= 0 && n >= count) ? std::string::npos : s.find(from, pos);
    if (at == std::string::npos) break;
    out.append(s, pos, at - pos);
    grow(to);
    pos = at + from.size();
    ++n;
  }
  out.append(s, pos, std::string::npos);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Number formatting as Python's repr(float).

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  int prec = 1;
  for (; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s = buf;  // [-]d.ddde[+-]XX
  bool neg = s[0] == '-';
  if (neg) s = s.substr(1);
  size_t e = s.find('e');
  std::string mant = s.substr(0, e);
  int exp = std::stoi(s.substr(e + 1));
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits.push_back(c);
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out;
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      if (static_cast<int>(digits.size()) <= exp + 1) {
        out = digits + std::string(static_cast<size_t>(exp + 1) - digits.size(), '0') + ".0";
      } else {
        out = digits.substr(0, static_cast<size_t>(exp + 1)) + "." + digits.substr(static_cast<size_t>(exp + 1));
      }
    } else {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{:02d}", exp < 0 ? '-' : '+', std::abs(exp));
  }
  return neg ? "-" + out : out;
}

// Python repr() of a string.
std::string string_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char q = has_single && !has_double ? '"' : '\'';
  std::string out(1, q);
  for (char32_t c : decode(s)) {
    if (c == static_cast<char32_t>(q) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    } else if (c >= 0xDC80 && c <= 0xDCFF) {
      out += fmt::format("\\udc{:02x}", static_cast<unsigned>(c - 0xDC00));
    } else {
      append_utf8(out, c);
    }
  }
  out.push_back(q);
  return out;
}

// json.dumps(ensure_ascii=False) string.
void json_string(std::string& out, const std::string& s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

// Python json.dumps(value, ensure_ascii=False, indent=indent, separators=None, sort_keys=sort_keys).
// Output beyond `max_bytes` fails (render budget).
void json_dump(std::string& out, const Value& v, int64_t indent, int level, bool sort_keys, int64_t max_bytes) {
  const std::string item_sep = indent >= 0 ? "," : ", ";
  auto newline = [&](int lvl) {
    out.push_back('\n');
    if (static_cast<int64_t>(out.size()) + indent * lvl > max_bytes) string_too_large(max_bytes);
    out.append(static_cast<size_t>(indent * lvl), ' ');
  };
  switch (v.kind()) {
    case Value::Kind::kNone: out += "null"; break;
    case Value::Kind::kBool: out += v.as_bool() ? "true" : "false"; break;
    case Value::Kind::kInt: out += std::to_string(v.as_int()); break;
    case Value::Kind::kFloat: {
      double d = v.as_float();
      if (std::isnan(d)) {
        out += "NaN";
      } else if (std::isinf(d)) {
        out += d > 0 ? "Infinity" : "-Infinity";
      } else {
        out += float_repr(d);
      }
      break;
    }
    case Value::Kind::kString: json_string(out, v.as_string()); break;
    case Value::Kind::kList: {
      const auto& l = v.as_list();
      if (l.empty()) {
        out += "[]";
        break;
      }
      out.push_back('[');
      for (size_t i = 0; i < l.size(); ++i) {
        if (i > 0) out += item_sep;
        if (indent >= 0) newline(level + 1);
        json_dump(out, l[i], indent, level + 1, sort_keys, max_bytes);
      }
      if (indent >= 0) newline(level);
      out.push_back(']');
      break;
    }
    case Value::Kind::kDict: {
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& e : v.as_dict().entries()) entries.push_back(&e);
      if (sort_keys) {
        std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
      }
      if (entries.empty()) {
        out += "{}";
        break;
      }
      out.push_back('{');
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) out += item_sep;
        if (indent >= 0) newline(level + 1);
        json_string(out, entries[i]->first);
        out += ": ";
        json_dump(out, entries[i]->second, indent, level + 1, sort_keys, max_bytes);
      }
      if (indent >= 0) newline(level);
      out.push_back('}');
      break;
    }
    case Value::Kind::kUndefined:
      fail(v.as_string().empty() ? "tojson: an undefined value is not JSON serializable"
                                 : "tojson: '" + v.as_string() + "' is undefined (not JSON serializable)");
    case Value::Kind::kFunction: fail("tojson: a function is not JSON serializable");
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Dict and Value

void Dict::set(const std::string& key, Value value) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(key, std::move(value));
}

const Value* Dict::find(const std::string& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

Value Value::undefined(std::string name) {
  Value v;
  v.s_ = std::move(name);
  return v;
}
Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}
Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.b_ = b;
  return v;
}
Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.i_ = i;
  return v;
}
Value Value::number(double d) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.d_ = d;
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.s_ = std::move(s);
  return v;
}
Value Value::list(List items) {
  Value v;
  v.kind_ = Kind::kList;
  v.nesting_ = 1;
  for (const Value& e : items) {
    v.nesting_ = std::max(v.nesting_, e.nesting_ + 1);
    v.holds_namespace_ = v.holds_namespace_ || e.holds_namespace_;
  }
  v.list_ = std::make_shared<List>(std::move(items));
  return v;
}
Value Value::dict(Dict d) {
  Value v;
  v.kind_ = Kind::kDict;
  v.nesting_ = 1;
  for (const auto& [k, e] : d.entries()) {
    v.nesting_ = std::max(v.nesting_, e.nesting_ + 1);
    v.holds_namespace_ = v.holds_namespace_ || e.holds_namespace_;
  }
  v.dict_ = std::make_shared<Dict>(std::move(d));
  return v;
}
Value Value::namespace_object(Dict d) {
  Value v = dict(std::move(d));
  v.namespace_ = true;
  v.holds_namespace_ = true;
  return v;
}
Value Value::function(Function f, std::string name) {
  Value v;
  v.kind_ = Kind::kFunction;
  v.fn_ = std::make_shared<Function>(std::move(f));
  v.s_ = std::move(name);
  return v;
}

namespace {
template <typename Json>
Value value_from_json(const Json& j, int depth = 0) {
  if (depth > 512) throw Error("jinja value: JSON nested deeper than 512 levels");
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value::boolean(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value::integer(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      uint64_t u = j.template get<uint64_t>();
      return u > static_cast<uint64_t>(INT64_MAX) ? Value::number(static_cast<double>(u)) : Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float: return Value::number(j.template get<double>());
    case nlohmann::json::value_t::string: return Value::string(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      Value::List l;
      l.reserve(j.size());
      for (const auto& e : j) l.push_back(value_from_json(e, depth + 1));
      return Value::list(std::move(l));
    }
    case nlohmann::json::value_t::object: {
      Dict d;
      for (auto it = j.begin(); it != j.end(); ++it) d.set(it.key(), value_from_json(it.value(), depth + 1));
      return Value::dict(std::move(d));
    }
    default: return Value::undefined();
  }
}
}  // namespace

Value Value::from_json(const nlohmann::json& j) { return value_from_json(j); }
Value Value::from_json(const nlohmann::ordered_json& j) { return value_from_json(j); }

nlohmann::json Value::to_json() const {
  switch (kind_) {
    case Kind::kNone: return nullptr;
    case Kind::kBool: return b_;
    case Kind::kInt: return i_;
    case Kind::kFloat: return d_;
    case Kind::kString: return s_;
    case Kind::kList: {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& e : *list_) j.push_back(e.to_json());
      return j;
    }
    case Kind::kDict: {
      nlohmann::json j = nlohmann::json::object();
      for (const auto& [k, v] : dict_->entries()) j[k] = v.to_json();
      return j;
    }
    case Kind::kUndefined: throw Error("jinja value: an undefined value has no JSON form");
    case Kind::kFunction: throw Error("jinja value: a function has no JSON form");
  }
  return nullptr;
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone: return false;
    case Kind::kBool: return b_;
    case Kind::kInt: return i_ != 0;
    case Kind::kFloat: return d_ != 0;
    case Kind::kString: return !s_.empty();
    case Kind::kList: return !list_->empty();
    case Kind::kDict: return dict_->size() > 0;
    case Kind::kFunction: return true;
  }
  return false;
}

std::string Value::str() const {
  switch (kind_) {
    case Kind::kUndefined: return "";
    case Kind::kString: return s_;
    default: return repr();
  }
}

std::string Value::repr() const {
  switch (kind_) {
    case Kind::kUndefined: return "";
    case Kind::kNone: return "None";
    case Kind::kBool: return b_ ? "True" : "False";
    case Kind::kInt: return std::to_string(i_);
    case Kind::kFloat: return float_repr(d_);
    case Kind::kString: return string_repr(s_);
    case Kind::kList: {
      std::string out = "[";
      for (size_t i = 0; i < list_->size(); ++i) {
        if (i > 0) out += ", ";
        out += (*list_)[i].repr();
      }
      return out + "]";
    }
    case Kind::kDict: {
      if (namespace_) {
        std::string out = "<Namespace {";
        bool first = true;
        for (const auto& [k, v] : dict_->entries()) {
          out += (first ? "" : ", ") + string_repr(k) + ": " + v.repr();
          first = false;
        }
        return out + "}>";
      }
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : dict_->entries()) {
        out += (first ? "" : ", ") + string_repr(k) + ": " + v.repr();
        first = false;
      }
      return out + "}";
    }
    case Kind::kFunction: return "<function " + s_ + ">";
  }
  return "";
}

bool Value::equals(const Value& o) const {
  if (is_number() && o.is_number()) {
    if (kind_ == Kind::kInt && o.kind_ == Kind::kInt) return i_ == o.i_;
    return as_float() == o.as_float();
  }
  // Python: True == 1; bools compare as numbers with numbers.
  if (kind_ == Kind::kBool && o.is_number()) return Value::integer(b_ ? 1 : 0).equals(o);
  if (o.kind_ == Kind::kBool && is_number()) return o.equals(*this);
  if (kind_ != o.kind_) return false;
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone: return true;
    case Kind::kBool: return b_ == o.b_;
    case Kind::kString: return s_ == o.s_;
    case Kind::kList: {
      if (list_ == o.list_) return true;
      if (list_->size() != o.list_->size()) return false;
      for (size_t i = 0; i < list_->size(); ++i) {
        if (!(*list_)[i].equals((*o.list_)[i])) return false;
      }
      return true;
    }
    case Kind::kDict: {
      if (dict_ == o.dict_) return true;
      if (dict_->size() != o.dict_->size()) return false;
      for (const auto& [k, v] : dict_->entries()) {
        const Value* ov = o.dict_->find(k);
        if (ov == nullptr || !v.equals(*ov)) return false;
      }
      return true;
    }
    case Kind::kFunction: return fn_ == o.fn_;
    default: return false;
  }
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::kUndefined: return "undefined";
    case Kind::kNone: return "none";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "string";
    case Kind::kList: return "list";
    case Kind::kDict: return namespace_ ? "namespace" : "dict";
    case Kind::kFunction: return "function";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Lexer

namespace detail {

enum class Tok { kText, kVarBegin, kVarEnd, kBlockBegin, kBlockEnd, kName, kString, kInt, kFloat, kOp, kEof };

struct Token {
  Tok type;
  std::string text;  // text, name, string value, operator
  int64_t i = 0;
  double d = 0;
  int line = 0;
};

namespace {

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::kText: return "template text";
    case Tok::kVarBegin: return "'{{'";
    case Tok::kVarEnd: return "'}}'";
    case Tok::kBlockBegin: return "'{%'";
    case Tok::kBlockEnd: return "'%}'";
    case Tok::kName: return "'" + t.text + "'";
    case Tok::kString: return "string " + string_repr(excerpt(t.text, 30));
    case Tok::kInt:
    case Tok::kFloat: return "number " + t.text;
    case Tok::kOp: return "'" + t.text + "'";
    case Tok::kEof: return "end of template";
  }
  return "?";
}

class Lexer {
 public:
  Lexer(std::string source, const std::string& name, const TemplateOptions& options)
      : src_(std::move(source)), name_(name), options_(options) {}

  std::vector<Token> run() {
    // Jinja2 normalizes newlines and drops one trailing newline (keep_trailing_newline=False).
    std::string norm;
    norm.reserve(src_.size());
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\r') {
        norm.push_back('\n');
        if (i + 1 < src_.size() && src_[i + 1] == '\n') ++i;
      } else {
        norm.push_back(src_[i]);
      }
    }
    if (!options_.keep_trailing_newline && !norm.empty() && norm.back() == '\n') norm.pop_back();
    src_ = std::move(norm);

    size_t pos = 0;
    bool line_starting = true;
    bool strip_next = false;
    while (pos < src_.size()) {
      size_t q = pos;
      while (true) {
        q = src_.find('{', q);
        if (q == std::string::npos || q + 1 >= src_.size()) {
          q = std::string::npos;
          break;
        }
        char k = src_[q + 1];
        if (k == '{' || k == '%' || k == '#') break;
        ++q;
      }
      std::string text = src_.substr(pos, q == std::string::npos ? std::string::npos : q - pos);
      const int text_line = line_;
      if (strip_next) text = py_strip(text, nullptr, true, false);
      strip_next = false;
      if (q == std::string::npos) {
        emit_text(text, text_line);
        break;
      }
      const char kind = src_[q + 1];
      const char mod = q + 2 < src_.size() ? src_[q + 2] : '\0';
      if (mod == '-') {
        text = py_strip(text, nullptr, false, true);
      } else if (kind != '{' && options_.lstrip_blocks && mod != '+') {
        size_t l = text.rfind('\n');
        l = l == std::string::npos ? 0 : l + 1;
        if (l > 0 || line_starting) {
          bool blank = true;
          for (size_t i = l; i < text.size(); ++i) {
            if (text[i] != ' ' && text[i] != '\t' && text[i] != '\v' && text[i] != '\f') blank = false;
          }
          if (blank) text.resize(l);
        }
      }
      emit_text(text, text_line);
      count_lines(pos, q);
      pos = q + 2 + ((mod == '-' || mod == '+') ? 1 : 0);
      if (kind == '#') {
        size_t end = src_.find("#}", pos);
        if (end == std::string::npos) {
          throw Error(fmt::format("{}:{}: syntax error: comment '{{#' is not closed, expected '#}}'", name_, line_));
        }
        count_lines(pos, end);
        char endmod = end > pos ? src_[end - 1] : '\0';
        pos = end + 2;
        line_starting = false;
        if (endmod == '-') {
          strip_next = true;
        } else if (endmod != '+' && options_.trim_blocks && pos < src_.size() && src_[pos] == '\n') {
          ++pos;
          ++line_;
          line_starting = true;
        }
        continue;
      }
      const bool is_var = kind == '{';
      tokens_.push_back({is_var ? Tok::kVarBegin : Tok::kBlockBegin, "", 0, 0, line_});
      pos = lex_tag(pos, is_var, &strip_next, &line_starting);
    }
    tokens_.push_back({Tok::kEof, "", 0, 0, line_});
    return std::move(tokens_);
  }

 private:
  void emit_text(const std::string& text, int line) {
    if (!text.empty()) tokens_.push_back({Tok::kText, text, 0, 0, line});
  }

  void count_lines(size_t from, size_t to) {
    for (size_t i = from; i < to && i < src_.size(); ++i) {
      if (src_[i] == '\n') ++line_;
    }
  }

  [[noreturn]] void error(const std::string& what) const {
    throw Error(fmt::format("{}:{}: syntax error: {}", name_, line_, what));
  }

  // Lexes the inside of a tag starting at `pos`; returns the position after the closing delimiter.
  size_t lex_tag(size_t pos, bool is_var, bool* strip_next, bool* line_starting) {
    const int start_line = line_;
    int balance = 0;
    std::string open;  // the closing brackets expected, innermost last
    const char* close = is_var ? "}}" : "%}";
    while (true) {
      while (pos < src_.size() && (src_[pos] == ' ' || src_[pos] == '\t' || src_[pos] == '\n' || src_[pos] == '\r')) {
        if (src_[pos] == '\n') ++line_;
        ++pos;
      }
      if (pos >= src_.size()) {
        line_ = start_line;
        error(fmt::format("'{}' is not closed, expected '{}'", is_var ? "{{" : "{%", close));
      }
      if (balance == 0) {
        char m = src_[pos];
        size_t at = (m == '-' || m == '+') ? pos + 1 : pos;
        if (src_.compare(at, 2, close) == 0 && !(m == '+' && is_var)) {
          tokens_.push_back({is_var ? Tok::kVarEnd : Tok::kBlockEnd, "", 0, 0, line_});
          pos = at + 2;
          *line_starting = false;
          if (m == '-') {
            *strip_next = true;
          } else if (!is_var && m != '+' && options_.trim_blocks && pos < src_.size() && src_[pos] == '\n') {
            ++pos;
            ++line_;
            *line_starting = true;
          }
          return pos;
        }
      }
      const char c = src_[pos];
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t e = pos;
        while (e < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
        tokens_.push_back({Tok::kName, src_.substr(pos, e - pos), 0, 0, line_});
        pos = e;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        pos = lex_number(pos);
      } else if (c == '\'' || c == '"') {
        pos = lex_string(pos);
      } else {
        static const char* kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<",
                                     ">",  "=",  ".",  ",",  ":",  "|",  "(", ")", "[", "]", "{", "}"};
        std::string op;
        for (const char* o : kOps) {
          if (src_.compare(pos, std::strlen(o), o) == 0) {
            op = o;
            break;
          }
        }
        if (op.empty()) error(fmt::format("unexpected character '{}' inside '{}'", excerpt(src_.substr(pos, 1)), is_var ? "{{ }}" : "{% %}"));
        if (op == "(" || op == "[" || op == "{") {
          open.push_back(op == "(" ? ')' : op == "[" ? ']' : '}');
          ++balance;
        }
        if (op == ")" || op == "]" || op == "}") {
          if (balance == 0) error(fmt::format("unbalanced '{}'", op));
          if (open.back() != op[0]) error(fmt::format("unexpected '{}', expected '{}'", op, open.back()));
          open.pop_back();
          --balance;
        }
        tokens_.push_back({Tok::kOp, op, 0, 0, line_});
        pos += op.size();
      }
    }
  }

  size_t lex_number(size_t pos) {
    size_t e = pos;
    auto digits = [&]() {
      while (e < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
    };
    digits();
    bool is_float = false;
    if (e + 1 < src_.size() && src_[e] == '.' && std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
      is_float = true;
      ++e;
      digits();
    }
    if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
      size_t save = e;
      ++e;
      if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
      if (e < src_.size() && std::isdigit(static_cast<unsigned char>(src_[e]))) {
        is_float = true;
        digits();
      } else {
        e = save;
      }
    }
    std::string text;
    for (size_t i = pos; i < e; ++i) {
      if (src_[i] != '_') text.push_back(src_[i]);
    }
    Token t{is_float ? Tok::kFloat : Tok::kInt, text, 0, 0, line_};
    if (is_float) {
      t.d = std::strtod(text.c_str(), nullptr);
    } else {
      errno = 0;
      t.i = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) error("integer literal " + excerpt(text) + " does not fit in 64 bits");
    }
    tokens_.push_back(t);
    return e;
  }

  // A Python string literal with its escapes.
  size_t lex_string(size_t pos) {
    const char q = src_[pos];
    const int start_line = line_;
    std::string out;
    size_t i = pos + 1;
    while (true) {
      if (i >= src_.size()) {
        line_ = start_line;
        error(fmt::format("string literal starting with {} is not closed", q));
      }
      char c = src_[i];
      if (c == q) break;
      if (c == '\n') ++line_;
      if (c != '\\') {
        out.push_back(c);
        ++i;
        continue;
      }
      if (i + 1 >= src_.size()) {  // a backslash as the last byte: not closed (was an endless loop)
        i = src_.size();
        continue;
      }
      char n = src_[i + 1];
      i += 2;
      auto hex = [&](int count) -> char32_t {
        char32_t v = 0;
        for (int k = 0; k < count; ++k) {
          if (i >= src_.size() || !std::isxdigit(static_cast<unsigned char>(src_[i]))) {
            error(fmt::format("truncated \\{} escape in a string literal", n));
          }
          char h = src_[i++];
          v = v * 16 + static_cast<char32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
        }
        return v;
      };
      switch (n) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'a': out.push_back('\a'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'v': out.push_back('\v'); break;
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case '\n': ++line_; break;  // line continuation
        case 'x': append_utf8(out, hex(2)); break;
        case 'u': append_utf8(out, hex(4)); break;
        case 'U': append_utf8(out, hex(8)); break;
        default:
          if (n >= '0' && n <= '7') {
            char32_t v = static_cast<char32_t>(n - '0');
            for (int k = 0; k < 2 && i < src_.size() && src_[i] >= '0' && src_[i] <= '7'; ++k) v = v * 8 + static_cast<char32_t>(src_[i++] - '0');
            append_utf8(out, v);
          } else {
            out.push_back('\\');
            out.push_back(n);
          }
      }
    }
    tokens_.push_back({Tok::kString, out, 0, 0, start_line});
    return i + 1;
  }

  std::string src_;
  const std::string& name_;
  TemplateOptions options_;
  std::vector<Token> tokens_;
  int line_ = 1;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// AST

enum class NK {
  // expressions
  kLiteral, kName, kGetAttr, kGetItem, kSlice, kCall, kFilter, kTest, kNeg, kPos, kNot, kBinary, kAnd, kOr,
  kCompare, kCond, kList, kTuple, kDict,
  // statements
  kBody, kText, kPrint, kIf, kFor, kSet, kSetAttr, kSetBlock, kMacro, kCallBlock, kFilterBlock, kBreak, kContinue
};

using NodePtr = std::shared_ptr<const Node>;

struct Node {
  NK kind;
  int line = 0;
  std::string name;                                   // name / attribute / filter / test / operator
  Value literal;                                      // kLiteral
  std::vector<NodePtr> args;                          // operands, call args, list items, body, ...
  std::vector<std::pair<std::string, NodePtr>> kwargs;  // keyword args, macro defaults
  std::vector<std::string> ops;                       // kCompare operators; target names
  NodePtr a, b, c;                                    // object / condition / else etc.
  std::vector<NodePtr> body, else_body;               // statement bodies
  bool negated = false;                               // kTest "is not"
  bool recursive = false;                             // kFor
};

}  // namespace detail

namespace {

using detail::Node;
using detail::NodePtr;
using detail::NK;
using detail::describe;
using detail::Tok;
using detail::Token;

std::shared_ptr<Node> new_node(NK kind, int line) {
  auto n = std::make_shared<Node>();
  n->kind = kind;
  n->line = line;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Parser

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::string& name) : t_(std::move(tokens)), name_(name) {}

  // Limits that keep parsing, rendering and destroying the tree far from the stack's end: real
  // templates use a few dozen nodes per tag and a handful of nested blocks.
  static constexpr int kMaxNodesPerTag = 1000;
  static constexpr int kMaxBlockNesting = 100;
  static constexpr int kMaxExpressionNesting = 200;

  NodePtr parse_template() {
    auto root = make(NK::kBody, 1);
    std::string end = parse_body(root->body, {});
    (void)end;
    return root;
  }

 private:
  std::shared_ptr<Node> make(NK kind, int line) {
    if (++nodes_in_tag_ > kMaxNodesPerTag) {
      throw Error(fmt::format("{}:{}: syntax error: expression too large (more than {} parts in one tag)", name_, line,
                              kMaxNodesPerTag));
    }
    return new_node(kind, line);
  }

  const Token& peek(size_t k = 0) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
  const Token& next() {
    const Token& t = t_[p_];
    if (p_ + 1 < t_.size()) ++p_;
    return t;
  }
  bool is_op(const std::string& op, size_t k = 0) const { return peek(k).type == Tok::kOp && peek(k).text == op; }
  bool is_name(const std::string& n, size_t k = 0) const { return peek(k).type == Tok::kName && peek(k).text == n; }

  [[noreturn]] void error_at(const Token& t, const std::string& expected) const {
    throw Error(fmt::format("{}:{}: syntax error: unexpected {}, expected {}", name_, t.line, describe(t), expected));
  }
  void expect_op(const std::string& op) {
    if (!is_op(op)) error_at(peek(), "'" + op + "'");
    next();
  }
  void expect_block_end(const std::string& tag) {
    if (peek().type != Tok::kBlockEnd) error_at(peek(), "'%}' to end the '" + tag + "' tag");
    next();
  }
  std::string expect_name(const std::string& what) {
    if (peek().type != Tok::kName) error_at(peek(), what);
    return next().text;
  }

  // Parses statements into `out` until a block tag named in `ends` (consumed up to its name).
  // Returns that name, or "" at end of input (an error when `ends` is not empty).
  std::string parse_body(std::vector<NodePtr>& out, const std::vector<std::string>& ends, const std::string& opener = {},
                         int opener_line = 0) {
    struct Nesting {
      int& depth;
      ~Nesting() { --depth; }
    } nesting{++block_depth_};
    if (block_depth_ > kMaxBlockNesting) {
      throw Error(fmt::format("{}:{}: syntax error: blocks nested deeper than {} levels", name_, opener_line,
                              kMaxBlockNesting));
    }
    while (true) {
      const Token& t = peek();
      if (t.type == Tok::kVarBegin || t.type == Tok::kBlockBegin) nodes_in_tag_ = 0;
      if (t.type == Tok::kEof) {
        if (!ends.empty()) {
          throw Error(fmt::format("{}:{}: syntax error: unexpected end of template, expected '{}' to close the '{}' "
                                  "on line {}",
                                  name_, t.line, ends.back(), opener, opener_line));
        }
        return "";
      }
      if (t.type == Tok::kText) {
        auto n = make(NK::kText, t.line);
        n->name = t.text;
        out.push_back(n);
        next();
      } else if (t.type == Tok::kVarBegin) {
        next();
        auto n = make(NK::kPrint, t.line);
        n->a = parse_expression();
        if (peek().type != Tok::kVarEnd) error_at(peek(), "'}}'");
        next();
        out.push_back(n);
      } else if (t.type == Tok::kBlockBegin) {
        next();
        const Token& tag = peek();
        if (tag.type != Tok::kName) error_at(tag, "a tag name after '{%'");
        if (std::find(ends.begin(), ends.end(), tag.text) != ends.end()) {
          next();
          return tag.text;
        }
        out.push_back(parse_statement());
      } else {
        error_at(t, "template text, '{{' or '{%'");
      }
    }
  }

  NodePtr parse_statement() {
    const Token& tag = next();
    const std::string& n = tag.text;
    if (n == "if") return parse_if(tag.line);
    if (n == "for") return parse_for(tag.line);
    if (n == "set") return parse_set(tag.line);
    if (n == "macro") return parse_macro(tag.line);
    if (n == "call") return parse_call_block(tag.line);
    if (n == "filter") return parse_filter_block(tag.line);
    if (n == "generation") {
      // transformers' AssistantTracker tag: renders its body.
      expect_block_end("generation");
      auto body = make(NK::kBody, tag.line);
      parse_body(body->body, {"endgeneration"}, "generation", tag.line);
      expect_block_end("endgeneration");
      return body;
    }
    if (n == "break" || n == "continue") {
      if (loop_depth_ == 0) {
        throw Error(fmt::format("{}:{}: syntax error: '{}' outside of a for loop", name_, tag.line, n));
      }
      expect_block_end(n);
      return make(n == "break" ? NK::kBreak : NK::kContinue, tag.line);
    }
    throw Error(fmt::format("{}:{}: syntax error: unknown tag '{}', expected one of if, for, set, macro, call, "
                            "filter, generation, break, continue (or the end tag of an open block)",
                            name_, tag.line, n));
  }

  NodePtr parse_if(int line) {
    auto n = make(NK::kIf, line);
    // args: conditions; body of each branch stored as a kBody node in kwargs order.
    std::string opener = "if";
    while (true) {
      auto cond = parse_expression();
      expect_block_end(opener);
      auto branch = make(NK::kBody, line);
      std::string end = parse_body(branch->body, {"elif", "else", "endif"}, "if", line);
      n->args.push_back(cond);
      n->body.push_back(branch);
      if (end == "elif") {
        opener = "elif";
        continue;
      }
      if (end == "else") {
        expect_block_end("else");
        auto eb = make(NK::kBody, line);
        parse_body(eb->body, {"endif"}, "if", line);
        n->else_body.push_back(eb);
      }
      expect_block_end("endif");
      return n;
    }
  }

  // A target of for/set: a name or a tuple of names.
  std::vector<std::string> parse_targets(const std::string& tag) {
    std::vector<std::string> names;
    bool paren = is_op("(");
    if (paren) next();
    names.push_back(expect_name("a variable name after '" + tag + "'"));
    while (is_op(",")) {
      next();
      names.push_back(expect_name("a variable name after ','"));
    }
    if (paren) expect_op(")");
    return names;
  }

  NodePtr parse_for(int line) {
    auto n = make(NK::kFor, line);
    n->ops = parse_targets("for");
    if (!is_name("in")) error_at(peek(), "'in'");
    next();
    n->a = parse_expression(/*with_condexpr=*/false);
    if (is_name("if")) {
      next();
      n->b = parse_expression();
    }
    if (is_name("recursive")) {
      next();
      n->recursive = true;
    }
    expect_block_end("for");
    ++loop_depth_;
    std::string end = parse_body(n->body, {"else", "endfor"}, "for", line);
    --loop_depth_;
    if (end == "else") {
      expect_block_end("else");
      parse_body(n->else_body, {"endfor"}, "for", line);
    }
    expect_block_end("endfor");
    return n;
  }

  NodePtr parse_set(int line) {
    // set ns.attr = expr | set a, b = expr | set x = expr | set x %}...{% endset
    if (peek().type == Tok::kName && is_op(".", 1)) {
      auto n = make(NK::kSetAttr, line);
      n->ops.push_back(next().text);
      next();
      n->name = expect_name("an attribute name after '.'");
      expect_op("=");
      n->a = parse_expression();
      expect_block_end("set");
      return n;
    }
    std::vector<std::string> targets = parse_targets("set");
    if (is_op("=")) {
      next();
      auto n = make(NK::kSet, line);
      n->ops = targets;
      n->a = parse_tuple_or_expression();
      expect_block_end("set");
      return n;
    }
    if (targets.size() != 1) error_at(peek(), "'='");
    auto n = make(NK::kSetBlock, line);
    n->ops = targets;
    // optional filter: {% set x | upper %}
    if (is_op("|")) n->a = parse_filter_chain(nullptr);
    expect_block_end("set");
    parse_body(n->body, {"endset"}, "set", line);
    expect_block_end("endset");
    return n;
  }

  // Macro parameters: (a, b=1, ...)
  void parse_params(Node& n) {
    expect_op("(");
    while (!is_op(")")) {
      std::string p = expect_name("a parameter name");
      NodePtr def;
      if (is_op("=")) {
        next();
        def = parse_expression();
      }
      n.kwargs.emplace_back(p, def);
      if (!is_op(",")) break;
      next();
    }
    expect_op(")");
  }

  NodePtr parse_macro(int line) {
    auto n = make(NK::kMacro, line);
    n->name = expect_name("a macro name");
    parse_params(*n);
    expect_block_end("macro");
    int saved = loop_depth_;
    loop_depth_ = 0;
    parse_body(n->body, {"endmacro"}, "macro", line);
    loop_depth_ = saved;
    expect_block_end("endmacro");
    return n;
  }

  NodePtr parse_call_block(int line) {
    auto n = make(NK::kCallBlock, line);
    if (is_op("(")) parse_params(*n);
    n->a = parse_expression();
    if (n->a->kind != NK::kCall) {
      throw Error(fmt::format("{}:{}: syntax error: '{{% call %}}' needs a macro call, like {{% call m(x) %}}", name_, line));
    }
    expect_block_end("call");
    parse_body(n->body, {"endcall"}, "call", line);
    expect_block_end("endcall");
    return n;
  }

  NodePtr parse_filter_block(int line) {
    auto n = make(NK::kFilterBlock, line);
    n->a = parse_filter_chain(nullptr, /*leading_pipe=*/false);
    expect_block_end("filter");
    parse_body(n->body, {"endfilter"}, "filter", line);
    expect_block_end("endfilter");
    return n;
  }

  // ---- expressions

  NodePtr parse_tuple_or_expression() {
    int line = peek().line;
    NodePtr first = parse_expression();
    if (!is_op(",")) return first;
    auto t = make(NK::kTuple, line);
    t->args.push_back(first);
    while (is_op(",")) {
      next();
      if (peek().type == Tok::kBlockEnd || peek().type == Tok::kVarEnd) break;
      t->args.push_back(parse_expression());
    }
    return t;
  }

  // Counts one level of expression recursion for the lifetime of the object.
  struct Deeper {
    Parser& p;
    explicit Deeper(Parser& parser) : p(parser) {
      if (++p.expr_depth_ > kMaxExpressionNesting) {
        throw Error(fmt::format("{}:{}: syntax error: expression nested deeper than {} levels", p.name_, p.peek().line,
                                kMaxExpressionNesting));
      }
    }
    ~Deeper() { --p.expr_depth_; }
  };

  NodePtr parse_expression(bool with_condexpr = true) {
    Deeper deeper(*this);
    NodePtr e = parse_or();
    if (!with_condexpr) return e;
    while (is_name("if")) {
      int line = peek().line;
      next();
      auto n = make(NK::kCond, line);
      n->b = e;
      n->a = parse_or();
      if (is_name("else")) {
        next();
        n->c = parse_expression();
      }
      e = n;
    }
    return e;
  }

  NodePtr parse_or() {
    NodePtr l = parse_and();
    while (is_name("or")) {
      auto n = make(NK::kOr, next().line);
      n->a = l;
      n->b = parse_and();
      l = n;
    }
    return l;
  }
  NodePtr parse_and() {
    NodePtr l = parse_not();
    while (is_name("and")) {
      auto n = make(NK::kAnd, next().line);
      n->a = l;
      n->b = parse_not();
      l = n;
    }
    return l;
  }
  NodePtr parse_not() {
    Deeper deeper(*this);
    if (is_name("not")) {
      auto n = make(NK::kNot, next().line);
      n->a = parse_not();
      return n;
    }
    return parse_compare();
  }
  NodePtr parse_compare() {
    int line = peek().line;
    NodePtr first = parse_math1();
    std::shared_ptr<Node> cmp;
    while (true) {
      std::string op;
      if (peek().type == Tok::kOp &&
          (peek().text == "==" || peek().text == "!=" || peek().text == "<" || peek().text == "<=" ||
           peek().text == ">" || peek().text == ">=")) {
        op = next().text;
      } else if (is_name("in")) {
        next();
        op = "in";
      } else if (is_name("not") && is_name("in", 1)) {
        next();
        next();
        op = "notin";
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(NK::kCompare, line);
        cmp->args.push_back(first);
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? cmp : first;
  }
  NodePtr binary(const std::string& op, NodePtr l, NodePtr r, int line) {
    auto n = make(NK::kBinary, line);
    n->name = op;
    n->a = std::move(l);
    n->b = std::move(r);
    return n;
  }
  NodePtr parse_math1() {
    NodePtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& t = next();
      l = binary(t.text, l, parse_concat(), t.line);
    }
    return l;
  }
  NodePtr parse_concat() {
    NodePtr l = parse_math2();
    while (is_op("~")) {
      const Token& t = next();
      l = binary("~", l, parse_math2(), t.line);
    }
    return l;
  }
  NodePtr parse_math2() {
    NodePtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = next();
      l = binary(t.text, l, parse_pow(), t.line);
    }
    return l;
  }
  NodePtr parse_pow() {
    NodePtr l = parse_unary(true);
    while (is_op("**")) {
      const Token& t = next();
      l = binary("**", l, parse_unary(true), t.line);
    }
    return l;
  }
  NodePtr parse_unary(bool with_filter) {
    Deeper deeper(*this);
    NodePtr n;
    if (is_op("-") || is_op("+")) {
      const Token& t = next();
      auto u = make(t.text == "-" ? NK::kNeg : NK::kPos, t.line);
      u->a = parse_unary(false);
      n = u;
    } else {
      n = parse_postfix(parse_primary());
    }
    if (with_filter) n = parse_filter_expr(n);
    return n;
  }

  NodePtr parse_primary() {
    const Token& t = peek();
    switch (t.type) {
      case Tok::kName: {
        next();
        auto n = make(NK::kLiteral, t.line);
        if (t.text == "true" || t.text == "True") {
          n->literal = Value::boolean(true);
        } else if (t.text == "false" || t.text == "False") {
          n->literal = Value::boolean(false);
        } else if (t.text == "none" || t.text == "None") {
          n->literal = Value::none();
        } else {
          n->kind = NK::kName;
          n->name = t.text;
        }
        return n;
      }
      case Tok::kString: {
        std::string s;
        int line = t.line;
        while (peek().type == Tok::kString) s += next().text;  // adjacent literals concatenate
        auto n = make(NK::kLiteral, line);
        n->literal = Value::string(s);
        return n;
      }
      case Tok::kInt: {
        next();
        auto n = make(NK::kLiteral, t.line);
        n->literal = Value::integer(t.i);
        return n;
      }
      case Tok::kFloat: {
        next();
        auto n = make(NK::kLiteral, t.line);
        n->literal = Value::number(t.d);
        return n;
      }
      case Tok::kOp:
        if (t.text == "(") {
          next();
          if (is_op(")")) {
            next();
            return make(NK::kTuple, t.line);
          }
          NodePtr e = parse_expression();
          if (is_op(",")) {
            auto tup = make(NK::kTuple, t.line);
            tup->args.push_back(e);
            while (is_op(",")) {
              next();
              if (is_op(")")) break;
              tup->args.push_back(parse_expression());
            }
            e = tup;
          }
          expect_op(")");
          return e;
        }
        if (t.text == "[") {
          next();
          auto n = make(NK::kList, t.line);
          while (!is_op("]")) {
            n->args.push_back(parse_expression());
            if (!is_op(",")) break;
            next();
          }
          expect_op("]");
          return n;
        }
        if (t.text == "{") {
          next();
          auto n = make(NK::kDict, t.line);
          while (!is_op("}")) {
            n->args.push_back(parse_expression());
            expect_op(":");
            n->args.push_back(parse_expression());
            if (!is_op(",")) break;
            next();
          }
          expect_op("}");
          return n;
        }
        break;
      default: break;
    }
    error_at(t, "an expression");
  }

  void parse_call_args(Node& n) {
    expect_op("(");
    while (!is_op(")")) {
      if (peek().type == Tok::kName && is_op("=", 1)) {
        std::string k = next().text;
        next();
        n.kwargs.emplace_back(k, parse_expression());
      } else {
        if (!n.kwargs.empty()) error_at(peek(), "a keyword argument (positional arguments come first)");
        n.args.push_back(parse_expression());
      }
      if (!is_op(",")) break;
      next();
    }
    expect_op(")");
  }

  NodePtr parse_postfix(NodePtr n) {
    while (true) {
      if (is_op(".")) {
        const Token& dot = next();
        auto g = make(NK::kGetAttr, dot.line);
        g->a = n;
        if (peek().type == Tok::kInt) {
          g->kind = NK::kGetItem;
          auto idx = make(NK::kLiteral, dot.line);
          idx->literal = Value::integer(next().i);
          g->b = idx;
        } else {
          g->name = expect_name("an attribute name after '.'");
        }
        n = g;
      } else if (is_op("[")) {
        const Token& br = next();
        NodePtr start, stop, step;
        bool slice = false;
        if (!is_op(":")) start = parse_expression();
        if (is_op(":")) {
          slice = true;
          next();
          if (!is_op(":") && !is_op("]")) stop = parse_expression();
          if (is_op(":")) {
            next();
            if (!is_op("]")) step = parse_expression();
          }
        }
        expect_op("]");
        if (slice) {
          auto s = make(NK::kSlice, br.line);
          s->a = n;
          s->args = {start, stop, step};
          n = s;
        } else {
          auto g = make(NK::kGetItem, br.line);
          g->a = n;
          g->b = start;
          n = g;
        }
      } else if (is_op("(")) {
        auto c = make(NK::kCall, peek().line);
        c->a = n;
        parse_call_args(*c);
        n = c;
      } else {
        return n;
      }
    }
  }

  // Parses "| f(args) | g ..." applied to `obj` (nullptr: filter block / set block input).
  NodePtr parse_filter_chain(NodePtr obj, bool leading_pipe = true) {
    bool first = true;
    while ((first && !leading_pipe) || is_op("|")) {
      if (!(first && !leading_pipe)) next();
      first = false;
      int line = peek().line;
      auto f = make(NK::kFilter, line);
      f->name = expect_name("a filter name after '|'");
      while (is_op(".")) {  // dotted filter names are not used; keep the error clear
        error_at(peek(), "a filter name without '.'");
      }
      f->a = obj;
      if (is_op("(")) parse_call_args(*f);
      obj = f;
    }
    return obj;
  }

  NodePtr parse_filter_expr(NodePtr n) {
    while (true) {
      if (is_op("|")) {
        n = parse_filter_chain(n);
      } else if (is_name("is")) {
        const Token& t = next();
        auto test = make(NK::kTest, t.line);
        if (is_name("not")) {
          next();
          test->negated = true;
        }
        // Test names may be keywords (none, true, false) or operators spelled as names.
        if (peek().type == Tok::kName) {
          test->name = next().text;
        } else if (peek().type == Tok::kOp && (peek().text == "==" || peek().text == "!=" || peek().text == "<" ||
                                               peek().text == ">" || peek().text == "<=" || peek().text == ">=")) {
          test->name = next().text;
        } else {
          error_at(peek(), "a test name after 'is'");
        }
        test->a = n;
        if (is_op("(")) {
          parse_call_args(*test);
        } else if ((peek().type == Tok::kString || peek().type == Tok::kInt || peek().type == Tok::kFloat ||
                    (peek().type == Tok::kName && !is_name("else") && !is_name("or") && !is_name("and") &&
                     !is_name("if") && !is_name("in") && !is_name("not") && !is_name("is")) ||
                    is_op("[") || is_op("{")) ) {
          test->args.push_back(parse_postfix(parse_primary()));
        }
        n = test;
      } else {
        return n;
      }
    }
  }

  std::vector<Token> t_;
  size_t p_ = 0;
  const std::string& name_;
  int loop_depth_ = 0;
  int block_depth_ = 0;
  int nodes_in_tag_ = 0;
  int expr_depth_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Evaluator

enum class Flow { kNormal, kBreak, kContinue };

struct Scope {
  std::map<std::string, Value> vars;
};

int64_t py_floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
int64_t py_mod(int64_t a, int64_t b) {
  int64_t m = a % b;
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

const Value* find_kwarg(const CallArgs& args, const std::string& name) {
  for (const auto& [k, v] : args.keyword) {
    if (k == name) return &v;
  }
  return nullptr;
}

// Argument `index` (positional) or keyword `name`; nullptr when absent.
const Value* arg(const CallArgs& args, size_t index, const std::string& name) {
  if (index < args.positional.size()) return &args.positional[index];
  return find_kwarg(args, name);
}

void check_args(const CallArgs& args, const std::string& fn, size_t max_positional, std::initializer_list<const char*> keywords) {
  if (args.positional.size() > max_positional) {
    fail(fmt::format("{}() takes at most {} positional argument{} ({} given)", fn, max_positional,
                     max_positional == 1 ? "" : "s", args.positional.size()));
  }
  for (const auto& [k, v] : args.keyword) {
    bool ok = false;
    for (const char* kw : keywords) ok = ok || k == kw;
    if (!ok) fail(fmt::format("{}() got an unexpected keyword argument '{}'", fn, k));
  }
}

int64_t int_arg(const Value* v, const std::string& what, int64_t def) {
  if (v == nullptr || v->is_undefined() || v->is_none()) return def;
  if (v->kind() == Value::Kind::kInt) return v->as_int();
  if (v->kind() == Value::Kind::kBool) return v->as_bool() ? 1 : 0;
  fail(fmt::format("{} must be an integer, not {}", what, v->type_name()));
}

std::string str_arg(const Value* v, const std::string& what) {
  if (v == nullptr || !v->is_string()) {
    fail(fmt::format("{} must be a string, not {}", what, v == nullptr ? "missing" : v->type_name()));
  }
  return v->as_string();
}

[[noreturn]] void undefined_error(const Value& v) {
  if (v.as_string().empty()) fail("an undefined value was used");
  fail(fmt::format("'{}' is undefined", v.as_string()));
}

// The items a for loop or a filter iterates: list items, dict keys, string characters.
std::vector<Value> iterate(const Value& v, const std::string& what) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return {};
    case Value::Kind::kList: return v.as_list();
    case Value::Kind::kDict: {
      std::vector<Value> keys;
      for (const auto& [k, _] : v.as_dict().entries()) keys.push_back(Value::string(k));
      return keys;
    }
    case Value::Kind::kString: {
      std::vector<Value> chars;
      for (char32_t c : decode(v.as_string())) {
        std::string s;
        append_utf8(s, c);
        chars.push_back(Value::string(s));
      }
      return chars;
    }
    default: fail(fmt::format("{}: {} is not iterable", what, v.type_name()));
  }
}

Value length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return Value::integer(0);
    case Value::Kind::kString: return Value::integer(static_cast<int64_t>(codepoint_count(v.as_string())));
    case Value::Kind::kList: return Value::integer(static_cast<int64_t>(v.as_list().size()));
    case Value::Kind::kDict: return Value::integer(static_cast<int64_t>(v.as_dict().size()));
    default: fail(fmt::format("object of type {} has no length", v.type_name()));
  }
}

// Python ordering for sort/min/max/comparisons: numbers, strings, or lists thereof.
int compare_values(const Value& a, const Value& b, const std::string& op) {
  if ((a.is_number() || a.kind() == Value::Kind::kBool) && (b.is_number() || b.kind() == Value::Kind::kBool)) {
    double x = a.kind() == Value::Kind::kBool ? (a.as_bool() ? 1 : 0) : a.as_float();
    double y = b.kind() == Value::Kind::kBool ? (b.as_bool() ? 1 : 0) : b.as_float();
    if (a.kind() == Value::Kind::kInt && b.kind() == Value::Kind::kInt) {
      return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
    }
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list()) {
    const auto& x = a.as_list();
    const auto& y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!x[i].equals(y[i])) return compare_values(x[i], y[i], op);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  if (a.is_undefined()) undefined_error(a);
  if (b.is_undefined()) undefined_error(b);
  fail(fmt::format("'{}' is not supported between {} and {}", op, a.type_name(), b.type_name()));
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kString:
      if (!item.is_string()) fail(fmt::format("'in <string>' requires a string on the left, not {}", item.type_name()));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::kList:
      for (const auto& e : container.as_list()) {
        if (e.equals(item)) return true;
      }
      return false;
    case Value::Kind::kDict: return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
    case Value::Kind::kUndefined: undefined_error(container);
    default: fail(fmt::format("'in' needs a string, list or dict on the right, not {}", container.type_name()));
  }
}

// Python slice semantics.
template <typename Seq>
Seq slice_seq(const Seq& s, const Value& vstart, const Value& vstop, const Value& vstep) {
  const int64_t n = static_cast<int64_t>(s.size());
  int64_t step = int_arg(&vstep, "slice step", 1);
  if (step == 0) fail("slice step cannot be zero");
  auto norm = [&](const Value& v, int64_t def, bool is_start) -> int64_t {
    if (v.is_undefined() || v.is_none()) return def;
    int64_t i = int_arg(&v, is_start ? "slice start" : "slice stop", def);
    if (i < 0) i += n;
    if (step > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  int64_t start = norm(vstart, step > 0 ? 0 : n - 1, true);
  int64_t stop = norm(vstop, step > 0 ? n : -1, false);
  Seq out;
  // __int128: start + step may be beyond int64 (a step of 2**62).
  if (step > 0) {
    for (__int128 i = start; i < stop; i += step) out.push_back(s[static_cast<size_t>(i)]);
  } else {
    for (__int128 i = start; i > stop; i += step) out.push_back(s[static_cast<size_t>(i)]);
  }
  return out;
}

// strftime with the C library (the template's format string is passed through).
std::string format_time(const std::string& fmt_string, std::time_t when) {
  std::tm tm{};
  localtime_r(&when, &tm);
  std::vector<char> buf(256 + fmt_string.size() * 8);
  size_t n = std::strftime(buf.data(), buf.size(), fmt_string.c_str(), &tm);
  return std::string(buf.data(), n);
}

// Lists and dicts built while rendering may nest this deep (values from JSON: 512).
constexpr int kMaxValueNesting = 1000;

// Checked int64 arithmetic: Python's ints do not overflow, ours stop with a clear error.
[[noreturn]] void integer_overflow(const char* op) {
  fail(fmt::format("integer overflow in {} (results beyond 64 bits are not supported)", op));
}
int64_t checked_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) integer_overflow("+");
  return r;
}
int64_t checked_sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) integer_overflow("-");
  return r;
}
int64_t checked_mul(int64_t a, int64_t b, const char* op) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) integer_overflow(op);
  return r;
}

// Python int(x) of a float; NaN, infinities and values beyond int64 fail.
int64_t float_to_int(double d) {
  if (!(d > -9223372036854775808.0 - 1024 && d < 9223372036854775808.0)) {
    fail(fmt::format("cannot convert {} to an integer (NaN, infinite or beyond 64 bits)", float_repr(d)));
  }
  return static_cast<int64_t>(d);
}

class Renderer {
 public:
  explicit Renderer(const RenderOptions& options) : options_(options) {}

  std::string run(const Node& root, const Value& context) {
    auto globals = std::make_shared<Scope>();
    define_globals(*globals);
    auto top = std::make_shared<Scope>();
    for (const auto& [k, v] : context.as_dict().entries()) top->vars[k] = v;
    scopes_ = {globals, top};
    root_scopes_ = scopes_;
    stack_top_ = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    std::string out;
    exec_body(root.body, out);
    return out;
  }

 private:
  // ---- scopes
  Value lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = (*it)->vars.find(name);
      if (f != (*it)->vars.end()) return f->second;
    }
    return Value::undefined(name);
  }
  void assign(const std::string& name, Value v) { scopes_.back()->vars[name] = std::move(v); }

  void define_globals(Scope& g) {
    g.vars["raise_exception"] = Value::function(
        [](const CallArgs& a) -> Value {
          const Value* m = arg(a, 0, "message");
          fail("raise_exception: " + (m ? m->str() : std::string("(no message)")));
        },
        "raise_exception");
    g.vars["namespace"] = Value::function(
        [](const CallArgs& a) -> Value {
          Dict d;
          for (const Value& p : a.positional) {
            if (!p.is_dict()) fail("namespace() takes only a dict as positional argument, not " + p.type_name());
            for (const auto& [k, v] : p.as_dict().entries()) d.set(k, v);
          }
          for (const auto& [k, v] : a.keyword) d.set(k, v);
          return Value::namespace_object(std::move(d));
        },
        "namespace");
    g.vars["dict"] = Value::function(
        [](const CallArgs& a) -> Value {
          Dict d;
          for (const Value& p : a.positional) {
            if (!p.is_dict()) fail("dict() takes only a dict as positional argument, not " + p.type_name());
            for (const auto& [k, v] : p.as_dict().entries()) d.set(k, v);
          }
          for (const auto& [k, v] : a.keyword) d.set(k, v);
          return Value::dict(std::move(d));
        },
        "dict");
    g.vars["range"] = Value::function(
        [this](const CallArgs& a) -> Value {
          check_args(a, "range", 3, {});
          if (a.positional.empty()) fail("range() expects at least 1 argument");
          int64_t start = 0, stop, step = 1;
          if (a.positional.size() == 1) {
            stop = int_arg(&a.positional[0], "range() argument", 0);
          } else {
            start = int_arg(&a.positional[0], "range() argument", 0);
            stop = int_arg(&a.positional[1], "range() argument", 0);
            if (a.positional.size() == 3) step = int_arg(&a.positional[2], "range() argument", 1);
          }
          if (step == 0) fail("range() step must not be zero");
          // The item count, computed without overflow: ceil((stop - start) / step) when positive.
          __int128 span = step > 0 ? static_cast<__int128>(stop) - start : static_cast<__int128>(start) - stop;
          __int128 mag = step > 0 ? static_cast<__int128>(step) : -static_cast<__int128>(step);
          __int128 count = span <= 0 ? 0 : (span + mag - 1) / mag;
          if (count > 1000000) fail("range() is limited to 1000000 items");
          tick(static_cast<int64_t>(count));
          Value::List out;
          out.reserve(static_cast<size_t>(count));
          for (__int128 k = 0; k < count; ++k) out.push_back(Value::integer(static_cast<int64_t>(start + k * step)));
          return Value::list(std::move(out));
        },
        "range");
    if (options_.define_strftime_now) {
      std::time_t now = options_.now ? *options_.now : std::time(nullptr);
      g.vars["strftime_now"] = Value::function(
          [now](const CallArgs& a) -> Value {
            check_args(a, "strftime_now", 1, {"format"});
            return Value::string(format_time(str_arg(arg(a, 0, "format"), "strftime_now() format"), now));
          },
          "strftime_now");
    }
  }

  // ---- the render budget (RenderOptions::max_*)
  void tick(int64_t n = 1) {
    steps_ += n;
    if (steps_ > options_.max_steps) {
      fail(fmt::format("render stopped after {} steps (limit: max_steps = {})", steps_, options_.max_steps));
    }
  }
  void check_string_size(int64_t bytes) {
    if (bytes > options_.max_output_bytes) {
      fail(fmt::format("render stopped: a string of {} bytes (limit: max_output_bytes = {})", bytes,
                       options_.max_output_bytes));
    }
  }
  void check_output(const std::string& out) {
    if (static_cast<int64_t>(out.size()) > options_.max_output_bytes) {
      fail(fmt::format("render stopped: output of {} bytes (limit: max_output_bytes = {})", out.size(),
                       options_.max_output_bytes));
    }
  }
  void count_loop_iteration() {
    if (++loop_iterations_ > options_.max_loop_iterations) {
      fail(fmt::format("render stopped after {} loop iterations (limit: max_loop_iterations = {})", loop_iterations_,
                       options_.max_loop_iterations));
    }
    tick();
  }
  // One level of statement/expression nesting for the lifetime of the object (max_depth), and
  // one step.
  struct Nest {
    Renderer& r;
    explicit Nest(Renderer& renderer) : r(renderer) {
      if (++r.node_depth_ > r.options_.max_depth) {
        int d = r.node_depth_--;
        fail(fmt::format("render stopped at nesting depth {} (limit: max_depth = {})", d, r.options_.max_depth));
      }
      const auto here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
      if (r.stack_top_ > here && static_cast<int64_t>(r.stack_top_ - here) > r.options_.max_stack_bytes) {
        int d = r.node_depth_--;
        fail(fmt::format("render stopped at nesting depth {}: more than {} bytes of stack (limit: max_stack_bytes = {})",
                         d, r.options_.max_stack_bytes, r.options_.max_stack_bytes));
      }
      r.tick();
    }
    ~Nest() { --r.node_depth_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;
  };
  // One macro or recursive loop() call for the lifetime of the object (max_call_depth).
  struct CallLevel {
    Renderer& r;
    explicit CallLevel(Renderer& renderer) : r(renderer) {
      if (++r.depth_ > r.options_.max_call_depth) {
        int d = r.depth_--;
        fail(fmt::format("render stopped at call depth {}: macros or recursive loops nested too deep (limit: "
                         "max_call_depth = {})",
                         d, r.options_.max_call_depth));
      }
    }
    ~CallLevel() { --r.depth_; }
    CallLevel(const CallLevel&) = delete;
    CallLevel& operator=(const CallLevel&) = delete;
  };
  // A list or dict is printed, serialized and compared item by item, shared items as often as
  // they occur (`[x, x]` with x = `[y, y]` ... grows exponentially while built cheaply): walk it
  // first, charging the walk, and refuse one whose flat size (items + string bytes) is beyond
  // max_output_bytes.
  void check_walk(const Value& v) {
    if (!v.is_list() && !v.is_dict()) return;
    int64_t count = 0;
    if (!walk(v, count)) {
      fail(fmt::format("render stopped: a {} too large to print or compare (more than {} items and string bytes; "
                       "limit: max_output_bytes = {})",
                       v.type_name(), options_.max_output_bytes, options_.max_output_bytes));
    }
    tick(count / 16);
  }
  // Adds v's items and string bytes to `count`; false once it passes max_output_bytes.
  bool walk(const Value& v, int64_t& count) {
    count += 1 + (v.is_string() ? static_cast<int64_t>(v.as_string().size()) : 0);
    if (count > options_.max_output_bytes) return false;
    if (v.is_list()) {
      for (const Value& e : v.as_list()) {
        if (!walk(e, count)) return false;
      }
    } else if (v.is_dict()) {
      for (const auto& [k, e] : v.as_dict().entries()) {
        count += static_cast<int64_t>(k.size());
        if (!walk(e, count)) return false;
      }
    }
    return true;
  }
  // str() of a value within the budget.
  std::string to_str(const Value& v) {
    check_walk(v);
    return v.str();
  }
  // iterate() within the budget: the items are charged before they are made.
  std::vector<Value> items_of(const Value& v, const std::string& what) {
    if (v.is_string()) tick(static_cast<int64_t>(v.as_string().size()));
    if (v.is_list()) tick(static_cast<int64_t>(v.as_list().size()));
    if (v.is_dict()) tick(static_cast<int64_t>(v.as_dict().size()));
    return iterate(v, what);
  }
  // The budget's view of a value a node produced: strings within max_output_bytes and charged
  // for their bytes (copying them is work), computed lists and dicts charged per item, nesting
  // bounded.
  void account(const Node& n, const Value& v) {
    if (v.is_string()) {
      check_string_size(static_cast<int64_t>(v.as_string().size()));
      tick(static_cast<int64_t>(v.as_string().size()) / 64);
    } else if (v.is_list() || v.is_dict()) {
      if (v.nesting() > kMaxValueNesting) {
        fail(fmt::format("render stopped: a {} nested {} levels deep (limit {})", v.type_name(), v.nesting(),
                         kMaxValueNesting));
      }
      if (n.kind != NK::kName && n.kind != NK::kGetAttr && n.kind != NK::kGetItem && n.kind != NK::kLiteral) {
        tick(static_cast<int64_t>(v.is_list() ? v.as_list().size() : v.as_dict().size()));
      }
    }
  }

  // ---- statements
  Flow exec_body(const std::vector<NodePtr>& body, std::string& out) {
    for (const auto& n : body) {
      Flow f = exec(*n, out);
      if (f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
  }

  Flow exec(const Node& n, std::string& out) {
    try {
      Nest nest(*this);
      Flow flow = exec_impl(n, out);
      check_output(out);
      return flow;
    } catch (Fail& f) {
      if (f.line < 0) f.line = n.line;
      throw;
    }
  }

  Flow exec_impl(const Node& n, std::string& out) {
    switch (n.kind) {
      case NK::kText: out += n.name; return Flow::kNormal;
      case NK::kPrint: out += to_str(eval(*n.a)); return Flow::kNormal;
      case NK::kBody: return exec_body(n.body, out);
      case NK::kIf:
        for (size_t i = 0; i < n.args.size(); ++i) {
          if (eval(*n.args[i]).truthy()) return exec(*n.body[i], out);
        }
        if (!n.else_body.empty()) return exec(*n.else_body[0], out);
        return Flow::kNormal;
      case NK::kFor: exec_for(n, eval(*n.a), out); return Flow::kNormal;
      case NK::kSet: {
        Value v = eval(*n.a);
        assign_targets(n.ops, v);
        return Flow::kNormal;
      }
      case NK::kSetAttr: {
        Value ns = lookup(n.ops[0]);
        if (!ns.is_namespace()) {
          fail(fmt::format("cannot assign attribute '{}' on '{}' ({}): only a namespace() object takes attribute "
                           "assignments",
                           n.name, n.ops[0], ns.type_name()));
        }
        Value v = eval(*n.a);
        if (v.holds_namespace()) {
          // Namespaces are the only mutable values: one inside another could form a reference
          // cycle (a leak, and endless printing).
          fail(fmt::format("cannot assign a namespace (or a list or dict holding one) to '{}.{}'", n.ops[0], n.name));
        }
        ns.mutable_dict().set(n.name, std::move(v));
        return Flow::kNormal;
      }
      case NK::kSetBlock: {
        std::string captured;
        push_scope();
        exec_body(n.body, captured);
        pop_scope();
        Value v = Value::string(captured);
        if (n.a) v = apply_filter_chain(*n.a, v);
        assign(n.ops[0], v);
        return Flow::kNormal;
      }
      case NK::kMacro: assign(n.name, make_macro(n, nullptr)); return Flow::kNormal;
      case NK::kCallBlock: {
        // `caller` is a macro made from the block body.
        auto caller_node = std::make_shared<Node>(n);
        caller_node->name = "caller";
        Value caller = make_macro(*caller_node, nullptr, caller_node);
        out += to_str(call(*n.a, &caller));
        return Flow::kNormal;
      }
      case NK::kFilterBlock: {
        std::string captured;
        exec_body(n.body, captured);
        out += to_str(apply_filter_chain(*n.a, Value::string(captured)));
        return Flow::kNormal;
      }
      case NK::kBreak: return Flow::kBreak;
      case NK::kContinue: return Flow::kContinue;
      default: out += to_str(eval(n)); return Flow::kNormal;
    }
  }

  void push_scope() { scopes_.push_back(std::make_shared<Scope>()); }
  void pop_scope() { scopes_.pop_back(); }

  void assign_targets(const std::vector<std::string>& targets, const Value& v) {
    if (targets.size() == 1) {
      assign(targets[0], v);
      return;
    }
    std::vector<Value> items = items_of(v, "unpacking");
    if (items.size() != targets.size()) {
      fail(fmt::format("cannot unpack {} value{} into {} names", items.size(), items.size() == 1 ? "" : "s", targets.size()));
    }
    for (size_t i = 0; i < targets.size(); ++i) assign(targets[i], items[i]);
  }

  void exec_for(const Node& n, const Value& iterable, std::string& out) {
    CallLevel level(*this);
    std::vector<Value> items = items_of(iterable, "for loop");
    if (n.b) {  // `for x in y if cond`: filter first, so loop.length counts the kept items
      std::vector<Value> kept;
      for (const Value& item : items) {
        count_loop_iteration();
        push_scope();
        assign_targets(n.ops, item);
        bool keep = eval(*n.b).truthy();
        pop_scope();
        if (keep) kept.push_back(item);
      }
      items = std::move(kept);
    }
    const int64_t len = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < len; ++i) {
      count_loop_iteration();
      push_scope();
      Dict loop;
      loop.set("index", Value::integer(i + 1));
      loop.set("index0", Value::integer(i));
      loop.set("revindex", Value::integer(len - i));
      loop.set("revindex0", Value::integer(len - i - 1));
      loop.set("first", Value::boolean(i == 0));
      loop.set("last", Value::boolean(i == len - 1));
      loop.set("length", Value::integer(len));
      loop.set("depth", Value::integer(depth_));
      loop.set("depth0", Value::integer(depth_ - 1));
      loop.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("loop.previtem"));
      loop.set("nextitem", i + 1 < len ? items[static_cast<size_t>(i + 1)] : Value::undefined("loop.nextitem"));
      loop.set("cycle", Value::function(
                            [i](const CallArgs& a) -> Value {
                              if (a.positional.empty()) fail("loop.cycle() needs at least one argument");
                              return a.positional[static_cast<size_t>(i) % a.positional.size()];
                            },
                            "loop.cycle"));
      if (n.recursive) {
        const Node* node = &n;
        loop.set("__call__", Value::function(
                                 [this, node](const CallArgs& a) -> Value {
                                   if (a.positional.size() != 1) fail("loop() takes exactly one argument");
                                   std::string inner;
                                   exec_for(*node, a.positional[0], inner);
                                   return Value::string(inner);
                                 },
                                 "loop"));
      }
      assign("loop", Value::dict(std::move(loop)));
      assign_targets(n.ops, items[static_cast<size_t>(i)]);
      Flow f = exec_body(n.body, out);
      pop_scope();
      if (f == Flow::kBreak) break;
    }
    if (len == 0 && !n.else_body.empty()) exec_body(n.else_body, out);
  }

  // A macro (or a call block's `caller`) as a function value.
  Value make_macro(const Node& n, const Value* caller, NodePtr keep_alive = nullptr) {
    const Node* node = &n;
    Value caller_copy = caller ? *caller : Value::undefined("caller");
    return Value::function(
        [this, node, keep_alive, caller_copy](const CallArgs& a) -> Value {
          CallLevel level(*this);
          auto saved = scopes_;
          scopes_ = root_scopes_;
          push_scope();
          const auto& params = node->kwargs;
          if (a.positional.size() > params.size()) {
            fail(fmt::format("macro '{}' takes {} argument{} ({} given)", node->name, params.size(),
                             params.size() == 1 ? "" : "s", a.positional.size()));
          }
          for (size_t i = 0; i < params.size(); ++i) {
            Value v;
            bool set = false;
            if (i < a.positional.size()) {
              v = a.positional[i];
              set = true;
            }
            if (const Value* kw = find_kwarg(a, params[i].first)) {
              v = *kw;
              set = true;
            }
            if (!set) v = params[i].second ? eval(*params[i].second) : Value::undefined(params[i].first);
            assign(params[i].first, v);
          }
          for (const auto& [k, _] : a.keyword) {
            bool known = false;
            for (const auto& p : params) known = known || p.first == k;
            if (!known && k != "caller") fail(fmt::format("macro '{}' got an unexpected keyword argument '{}'", node->name, k));
          }
          if (const Value* c = find_kwarg(a, "caller")) {
            assign("caller", *c);
          } else if (!caller_copy.is_undefined()) {
            assign("caller", caller_copy);
          }
          std::string out;
          exec_body(node->body, out);
          scopes_ = saved;
          return Value::string(out);
        },
        n.name);
  }

  // ---- expressions
  Value eval(const Node& n) {
    try {
      Nest nest(*this);
      Value v = eval_impl(n);
      account(n, v);
      return v;
    } catch (Fail& f) {
      if (f.line < 0) f.line = n.line;
      throw;
    }
  }

  static std::string node_label(const Node& n) {
    switch (n.kind) {
      case NK::kName: return n.name;
      case NK::kGetAttr: return node_label(*n.a) + "." + n.name;
      case NK::kGetItem:
        if (n.b && n.b->kind == NK::kLiteral) return node_label(*n.a) + "[" + n.b->literal.repr() + "]";
        return node_label(*n.a) + "[...]";
      case NK::kCall: return node_label(*n.a) + "(...)";
      default: return "";
    }
  }

  Value get_attr(const Value& obj, const std::string& name, const std::string& label) {
    if (obj.is_undefined()) undefined_error(obj);
    if (obj.is_dict()) {
      if (const Value* v = obj.as_dict().find(name)) return *v;
    }
    return Value::undefined(label);
  }

  Value get_item(const Value& obj, const Value& key, const std::string& label) {
    if (obj.is_undefined()) undefined_error(obj);
    if (obj.is_dict()) {
      if (key.is_string()) {
        if (const Value* v = obj.as_dict().find(key.as_string())) return *v;
      }
      return Value::undefined(label);
    }
    if (obj.is_list() || obj.is_string()) {
      if (key.kind() != Value::Kind::kInt) {
        if (key.is_string()) return Value::undefined(label);  // attribute-style lookup on a sequence
        fail(fmt::format("{} indices must be integers, not {}", obj.type_name(), key.type_name()));
      }
      int64_t i = key.as_int();
      if (obj.is_list()) {
        const auto& l = obj.as_list();
        int64_t n = static_cast<int64_t>(l.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return Value::undefined(label);
        return l[static_cast<size_t>(i)];
      }
      std::u32string u = decode(obj.as_string());
      int64_t n = static_cast<int64_t>(u.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undefined(label);
      std::string s;
      append_utf8(s, u[static_cast<size_t>(i)]);
      return Value::string(s);
    }
    return Value::undefined(label);
  }

  Value eval_impl(const Node& n) {
    switch (n.kind) {
      case NK::kLiteral: return n.literal;
      case NK::kName: return lookup(n.name);
      case NK::kGetAttr: return get_attr(eval(*n.a), n.name, node_label(n));
      case NK::kGetItem: return get_item(eval(*n.a), eval(*n.b), node_label(n));
      case NK::kSlice: {
        Value obj = eval(*n.a);
        Value start = n.args[0] ? eval(*n.args[0]) : Value::none();
        Value stop = n.args[1] ? eval(*n.args[1]) : Value::none();
        Value step = n.args[2] ? eval(*n.args[2]) : Value::none();
        if (obj.is_list()) return Value::list(slice_seq(obj.as_list(), start, stop, step));
        if (obj.is_string()) return Value::string(encode(slice_seq(decode(obj.as_string()), start, stop, step)));
        if (obj.is_undefined()) undefined_error(obj);
        fail(fmt::format("cannot slice a {}", obj.type_name()));
      }
      case NK::kCall: return call(n, nullptr);
      case NK::kFilter: return apply_filter(n, eval(*n.a));
      case NK::kTest: {
        bool r = apply_test(n);
        return Value::boolean(n.negated ? !r : r);
      }
      case NK::kNeg:
      case NK::kPos: {
        Value v = eval(*n.a);
        if (v.kind() == Value::Kind::kInt) {
          if (n.kind == NK::kNeg && v.as_int() == INT64_MIN) integer_overflow("unary -");
          return Value::integer(n.kind == NK::kNeg ? -v.as_int() : v.as_int());
        }
        if (v.kind() == Value::Kind::kFloat) return Value::number(n.kind == NK::kNeg ? -v.as_float() : v.as_float());
        if (v.is_undefined()) undefined_error(v);
        fail(fmt::format("bad operand type for unary {}: {}", n.kind == NK::kNeg ? '-' : '+', v.type_name()));
      }
      case NK::kNot: return Value::boolean(!eval(*n.a).truthy());
      case NK::kAnd: {
        Value l = eval(*n.a);
        return l.truthy() ? eval(*n.b) : l;
      }
      case NK::kOr: {
        Value l = eval(*n.a);
        return l.truthy() ? l : eval(*n.b);
      }
      case NK::kBinary: return binary(n.name, eval(*n.a), eval(*n.b));
      case NK::kCompare: {
        Value left = eval(*n.args[0]);
        check_walk(left);
        for (size_t i = 0; i < n.ops.size(); ++i) {
          Value right = eval(*n.args[i + 1]);
          check_walk(right);
          const std::string& op = n.ops[i];
          bool r;
          if (op == "==") {
            r = left.equals(right);
          } else if (op == "!=") {
            r = !left.equals(right);
          } else if (op == "in") {
            r = contains(right, left);
          } else if (op == "notin") {
            r = !contains(right, left);
          } else {
            int c = compare_values(left, right, op);
            r = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
          }
          if (!r) return Value::boolean(false);
          left = right;
        }
        return Value::boolean(true);
      }
      case NK::kCond:
        if (eval(*n.a).truthy()) return eval(*n.b);
        return n.c ? eval(*n.c) : Value::undefined("(if-expression without else)");
      case NK::kList:
      case NK::kTuple: {
        Value::List items;
        for (const auto& e : n.args) items.push_back(eval(*e));
        return Value::list(std::move(items));
      }
      case NK::kDict: {
        Dict d;
        for (size_t i = 0; i + 1 < n.args.size(); i += 2) {
          Value k = eval(*n.args[i]);
          if (!k.is_string()) fail(fmt::format("dict keys must be strings here, not {}", k.type_name()));
          d.set(k.as_string(), eval(*n.args[i + 1]));
        }
        return Value::dict(std::move(d));
      }
      default: fail("internal: a statement used as an expression");
    }
  }

  Value binary(const std::string& op, const Value& l, const Value& r) {
    if (op == "~") {
      std::string ls = to_str(l), rs = to_str(r);
      check_string_size(static_cast<int64_t>(ls.size() + rs.size()));
      return Value::string(ls + rs);
    }
    if (l.is_undefined()) undefined_error(l);
    if (r.is_undefined()) undefined_error(r);
    const bool ints = l.kind() == Value::Kind::kInt && r.kind() == Value::Kind::kInt;
    const bool nums = (l.is_number() || l.kind() == Value::Kind::kBool) && (r.is_number() || r.kind() == Value::Kind::kBool);
    auto num = [](const Value& v) { return v.kind() == Value::Kind::kBool ? (v.as_bool() ? 1.0 : 0.0) : v.as_float(); };
    auto inum = [](const Value& v) { return v.kind() == Value::Kind::kBool ? (v.as_bool() ? 1 : 0) : v.as_int(); };
    const bool int_like = nums && l.kind() != Value::Kind::kFloat && r.kind() != Value::Kind::kFloat;
    (void)ints;
    if (op == "+") {
      if (int_like) return Value::integer(checked_add(inum(l), inum(r)));
      if (nums) return Value::number(num(l) + num(r));
      if (l.is_string() && r.is_string()) {
        check_string_size(static_cast<int64_t>(l.as_string().size() + r.as_string().size()));
        return Value::string(l.as_string() + r.as_string());
      }
      if (l.is_list() && r.is_list()) {
        tick(static_cast<int64_t>(l.as_list().size() + r.as_list().size()));
        Value::List out = l.as_list();
        out.insert(out.end(), r.as_list().begin(), r.as_list().end());
        return Value::list(std::move(out));
      }
    } else if (op == "-") {
      if (int_like) return Value::integer(checked_sub(inum(l), inum(r)));
      if (nums) return Value::number(num(l) - num(r));
    } else if (op == "*") {
      if (int_like) return Value::integer(checked_mul(inum(l), inum(r), "*"));
      if (nums) return Value::number(num(l) * num(r));
      const Value* seq = l.is_string() || l.is_list() ? &l : (r.is_string() || r.is_list() ? &r : nullptr);
      const Value* count = seq == &l ? &r : &l;
      if (seq && (count->kind() == Value::Kind::kInt || count->kind() == Value::Kind::kBool)) {
        int64_t c = inum(*count);
        int64_t unit = seq->is_string() ? static_cast<int64_t>(seq->as_string().size()) : static_cast<int64_t>(seq->as_list().size());
        if (c > 0 && unit > 0 && c > 100000000 / unit) fail("repetition result is too large");
        const int64_t total = c > 0 ? c * unit : 0;  // <= 1e8
        if (seq->is_string()) check_string_size(total);
        tick(seq->is_string() ? total / 64 : total);
        if (seq->is_string()) {
          std::string out;
          for (int64_t i = 0; i < c; ++i) out += seq->as_string();
          return Value::string(out);
        }
        Value::List out;
        for (int64_t i = 0; i < c; ++i) out.insert(out.end(), seq->as_list().begin(), seq->as_list().end());
        return Value::list(std::move(out));
      }
    } else if (op == "/") {
      if (nums) {
        if (num(r) == 0) fail("division by zero");
        return Value::number(num(l) / num(r));
      }
    } else if (op == "//") {
      if (nums) {
        if (num(r) == 0) fail("integer division by zero");
        if (int_like) {
          if (inum(l) == INT64_MIN && inum(r) == -1) integer_overflow("//");
          return Value::integer(py_floordiv(inum(l), inum(r)));
        }
        return Value::number(std::floor(num(l) / num(r)));
      }
    } else if (op == "%") {
      if (nums) {
        if (num(r) == 0) fail("modulo by zero");
        if (int_like) return Value::integer(inum(r) == -1 ? 0 : py_mod(inum(l), inum(r)));
        double m = std::fmod(num(l), num(r));
        if (m != 0 && ((m < 0) != (num(r) < 0))) m += num(r);
        return Value::number(m);
      }
    } else if (op == "**") {
      if (int_like && inum(r) >= 0) {
        // Square and multiply: at most 64 rounds, overflow checked.
        int64_t base = inum(l), e = inum(r), acc = 1;
        while (e > 0) {
          if (e & 1) acc = checked_mul(acc, base, "**");
          e >>= 1;
          if (e > 0) base = checked_mul(base, base, "**");
        }
        return Value::integer(acc);
      }
      if (nums) return Value::number(std::pow(num(l), num(r)));
    }
    fail(fmt::format("unsupported operand types for {}: {} and {}", op, l.type_name(), r.type_name()));
  }

  CallArgs eval_args(const Node& n) {
    CallArgs a;
    for (const auto& e : n.args) a.positional.push_back(eval(*e));
    for (const auto& [k, e] : n.kwargs) a.keyword.emplace_back(k, eval(*e));
    return a;
  }

  // A call node; `caller` is passed as the caller= keyword for call blocks.
  Value call(const Node& n, const Value* caller) {
    CallArgs args = eval_args(n);
    if (caller) args.keyword.emplace_back("caller", *caller);
    const Node& callee = *n.a;
    if (callee.kind == NK::kGetAttr) {
      Value obj = eval(*callee.a);
      if (obj.is_string() || obj.is_list() || (obj.is_dict() && !obj.is_namespace())) {
        std::optional<Value> r = call_method(obj, callee.name, args);
        if (r) return *r;
      }
      Value f = get_attr(obj, callee.name, node_label(callee));
      return invoke(f, args, node_label(callee));
    }
    Value f = eval(callee);
    return invoke(f, args, node_label(callee));
  }

  Value invoke(const Value& f, const CallArgs& args, const std::string& label) {
    if (f.is_dict()) {
      if (const Value* c = f.as_dict().find("__call__")) return invoke(*c, args, label);
    }
    if (!f.is_function()) {
      if (f.is_undefined()) undefined_error(f);
      fail(fmt::format("'{}' ({}) is not callable", label.empty() ? f.repr() : label, f.type_name()));
    }
    try {
      return f.as_function()(args);
    } catch (const Error& e) {
      fail(e.what());
    }
  }

  // Python methods of str, dict and list. nullopt: no such method (falls back to attributes).
  std::optional<Value> call_method(const Value& obj, const std::string& m, const CallArgs& a) {
    if (obj.is_string()) {
      const std::string& s = obj.as_string();
      if (m == "startswith" || m == "endswith") {
        check_args(a, m, 1, {});
        const Value* p = arg(a, 0, "prefix");
        auto test = [&](const std::string& x) { return m == "startswith" ? starts_with(s, x) : ends_with(s, x); };
        if (p && p->is_list()) {
          for (const auto& e : p->as_list()) {
            if (test(str_arg(&e, m + "() argument"))) return Value::boolean(true);
          }
          return Value::boolean(false);
        }
        return Value::boolean(test(str_arg(p, m + "() argument")));
      }
      if (m == "strip" || m == "lstrip" || m == "rstrip") {
        check_args(a, m, 1, {});
        return Value::string(py_strip(s, arg(a, 0, "chars"), m != "rstrip", m != "lstrip"));
      }
      if (m == "upper") return Value::string(to_upper(s));
      if (m == "lower") return Value::string(to_lower(s));
      if (m == "title") {
        std::u32string u = decode(s);
        bool prev_cased = false;
        for (char32_t& c : u) {
          bool cased = ascii_alpha(c);
          if (cased) c = prev_cased ? ascii_lower(c) : ascii_upper(c);
          prev_cased = cased;
        }
        return Value::string(encode(u));
      }
      if (m == "capitalize") {
        std::u32string u = decode(s);
        for (size_t i = 0; i < u.size(); ++i) u[i] = i == 0 ? ascii_upper(u[i]) : ascii_lower(u[i]);
        return Value::string(encode(u));
      }
      if (m == "replace") {
        check_args(a, m, 3, {});
        return Value::string(replace_all(s, str_arg(arg(a, 0, "old"), "replace() old"), str_arg(arg(a, 1, "new"), "replace() new"),
                                         int_arg(arg(a, 2, "count"), "replace() count", -1), options_.max_output_bytes));
      }
      if (m == "split" || m == "rsplit") {
        check_args(a, m, 2, {"sep", "maxsplit"});
        const Value* sep = arg(a, 0, "sep");
        int64_t maxsplit = int_arg(arg(a, 1, "maxsplit"), m + "() maxsplit", -1);
        return Value::list(split(s, sep, maxsplit, m == "rsplit"));
      }
      if (m == "splitlines") {
        Value::List out;
        size_t start = 0;
        for (size_t i = 0; i < s.size(); ++i) {
          if (s[i] == '\n' || s[i] == '\r') {
            out.push_back(Value::string(s.substr(start, i - start)));
            if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
            start = i + 1;
          }
        }
        if (start < s.size()) out.push_back(Value::string(s.substr(start)));
        return Value::list(std::move(out));
      }
      if (m == "find" || m == "rfind" || m == "count" || m == "index") {
        check_args(a, m, 1, {});
        std::string sub = str_arg(arg(a, 0, "sub"), m + "() argument");
        if (m == "count") {
          if (sub.empty()) return Value::integer(static_cast<int64_t>(codepoint_count(s)) + 1);
          int64_t c = 0;
          for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++c;
          return Value::integer(c);
        }
        size_t p = m == "rfind" ? s.rfind(sub) : s.find(sub);
        if (p == std::string::npos) {
          if (m == "index") fail("substring not found");
          return Value::integer(-1);
        }
        return Value::integer(static_cast<int64_t>(codepoint_count(s.substr(0, p))));
      }
      if (m == "join") {
        check_args(a, m, 1, {});
        const Value* items = arg(a, 0, "iterable");
        if (!items) fail("join() takes exactly one argument");
        std::string out;
        bool first = true;
        for (const Value& v : items_of(*items, "join()")) {
          if (!v.is_string()) fail("join(): sequence item is " + v.type_name() + ", expected a string");
          if (!first) out += s;
          out += v.as_string();
          first = false;
          check_string_size(static_cast<int64_t>(out.size()));
        }
        return Value::string(out);
      }
      if (m == "isdigit" || m == "isalpha" || m == "isspace" || m == "isupper" || m == "islower" || m == "isalnum") {
        std::u32string u = decode(s);
        if (u.empty()) return Value::boolean(false);
        bool any_cased = false;
        for (char32_t c : u) {
          bool ok;
          if (m == "isdigit") {
            ok = c >= '0' && c <= '9';
          } else if (m == "isalpha") {
            ok = ascii_alpha(c);
          } else if (m == "isalnum") {
            ok = ascii_alpha(c) || (c >= '0' && c <= '9');
          } else if (m == "isspace") {
            ok = py_space(c);
          } else {
            if (ascii_alpha(c)) any_cased = true;
            ok = m == "isupper" ? !(c >= 'a' && c <= 'z') : !(c >= 'A' && c <= 'Z');
          }
          if (!ok) return Value::boolean(false);
        }
        return Value::boolean(m == "isupper" || m == "islower" ? any_cased : true);
      }
      if (m == "format") return Value::string(str_format(s, a, options_.max_output_bytes));
      return std::nullopt;
    }
    if (obj.is_dict()) {
      const Dict& d = obj.as_dict();
      if (m == "get") {
        check_args(a, m, 2, {});
        const Value* k = arg(a, 0, "key");
        if (!k) fail("get() expects a key");
        const Value* v = k->is_string() ? d.find(k->as_string()) : nullptr;
        if (v) return *v;
        const Value* def = arg(a, 1, "default");
        return def ? *def : Value::none();
      }
      if (m == "items" || m == "keys" || m == "values") {
        check_args(a, m, 0, {});
        Value::List out;
        for (const auto& [k, v] : d.entries()) {
          if (m == "items") {
            out.push_back(Value::list({Value::string(k), v}));
          } else {
            out.push_back(m == "keys" ? Value::string(k) : v);
          }
        }
        return Value::list(std::move(out));
      }
      return std::nullopt;
    }
    if (obj.is_list()) {
      if (m == "index" || m == "count") {
        check_args(a, m, 1, {});
        const Value* x = arg(a, 0, "value");
        if (!x) fail(m + "() takes exactly one argument");
        int64_t c = 0;
        const auto& l = obj.as_list();
        for (size_t i = 0; i < l.size(); ++i) {
          if (l[i].equals(*x)) {
            if (m == "index") return Value::integer(static_cast<int64_t>(i));
            ++c;
          }
        }
        if (m == "index") fail(x->repr() + " is not in list");
        return Value::integer(c);
      }
      if (m == "append" || m == "pop" || m == "extend" || m == "insert" || m == "remove" || m == "clear" ||
          m == "sort" || m == "reverse") {
        fail(fmt::format("list.{}() is not allowed: templates cannot modify a list (transformers' sandbox refuses it "
                         "too)",
                         m));
      }
    }
    return std::nullopt;
  }

  static Value::List split(const std::string& s, const Value* sep, int64_t maxsplit, bool from_right) {
    Value::List out;
    if (sep == nullptr || sep->is_none() || sep->is_undefined()) {
      std::u32string u = decode(s);
      std::vector<std::u32string> parts;
      if (!from_right) {
        size_t i = 0;
        while (i < u.size()) {
          while (i < u.size() && py_space(u[i])) ++i;
          if (i >= u.size()) break;
          if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
            size_t e = u.size();
            while (e > i && py_space(u[e - 1])) --e;
            parts.push_back(u.substr(i, e - i));
            break;
          }
          size_t j = i;
          while (j < u.size() && !py_space(u[j])) ++j;
          parts.push_back(u.substr(i, j - i));
          i = j;
        }
      } else {
        size_t e = u.size();
        while (e > 0) {
          while (e > 0 && py_space(u[e - 1])) --e;
          if (e == 0) break;
          if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
            size_t b = 0;
            while (b < e && py_space(u[b])) ++b;
            parts.push_back(u.substr(b, e - b));
            break;
          }
          size_t j = e;
          while (j > 0 && !py_space(u[j - 1])) --j;
          parts.push_back(u.substr(j, e - j));
          e = j;
        }
        std::reverse(parts.begin(), parts.end());
      }
      for (const auto& p : parts) out.push_back(Value::string(encode(p)));
      return out;
    }
    std::string sp = str_arg(sep, "split() separator");
    if (sp.empty()) fail("split(): empty separator");
    std::vector<std::string> parts;
    if (!from_right) {
      size_t pos = 0;
      while (true) {
        size_t at = (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) ? std::string::npos : s.find(sp, pos);
        if (at == std::string::npos) {
          parts.push_back(s.substr(pos));
          break;
        }
        parts.push_back(s.substr(pos, at - pos));
        pos = at + sp.size();
      }
    } else {
      size_t end = s.size();
      while (true) {
        size_t at = (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) || end < sp.size()
                        ? std::string::npos
                        : s.rfind(sp, end - sp.size());
        if (at == std::string::npos) {
          parts.push_back(s.substr(0, end));
          break;
        }
        parts.push_back(s.substr(at + sp.size(), end - at - sp.size()));
        end = at;
      }
      std::reverse(parts.begin(), parts.end());
    }
    for (auto& p : parts) out.push_back(Value::string(std::move(p)));
    return out;
  }

  // Python str.format with {} / {0} / {name} fields (no format specs beyond none).
  static std::string str_format(const std::string& s, const CallArgs& a, int64_t max_bytes) {
    std::string out;
    size_t auto_index = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (c == '{' && i + 1 < s.size() && s[i + 1] == '{') {
        out.push_back('{');
        ++i;
      } else if (c == '}' && i + 1 < s.size() && s[i + 1] == '}') {
        out.push_back('}');
        ++i;
      } else if (c == '{') {
        size_t e = s.find('}', i);
        if (e == std::string::npos) fail("format(): single '{' in the format string");
        std::string field = s.substr(i + 1, e - i - 1);
        if (field.find(':') != std::string::npos || field.find('!') != std::string::npos) {
          fail("format(): format specs and conversions are not supported ('{" + field + "}')");
        }
        const Value* v;
        if (field.empty()) {
          v = auto_index < a.positional.size() ? &a.positional[auto_index] : nullptr;
          ++auto_index;
        } else if (std::all_of(field.begin(), field.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
          v = field.size() < 9 && std::stoul(field) < a.positional.size() ? &a.positional[std::stoul(field)] : nullptr;
        } else {
          v = find_kwarg(a, field);
        }
        if (!v) fail("format(): no argument for '{" + field + "}'");
        if (v->is_list() || v->is_dict()) fail("format(): only strings and numbers can be formatted here, not " + v->type_name());
        out += v->str();
        if (static_cast<int64_t>(out.size()) > max_bytes) string_too_large(max_bytes);
        i = e;
      } else if (c == '}') {
        fail("format(): single '}' in the format string");
      } else {
        out.push_back(c);
      }
    }
    return out;
  }

  // ---- filters
  Value apply_filter_chain(const Node& chain, const Value& input) {
    // chain is a kFilter whose innermost `a` is nullptr.
    if (!chain.a) return apply_filter(chain, input);
    return apply_filter(chain, apply_filter_chain(*chain.a, input));
  }

  Value apply_filter(const Node& n, const Value& v) {
    CallArgs a = eval_args(n);
    return filter(n.name, v, a);
  }

  Value filter(const std::string& f, const Value& v, const CallArgs& a) {
    auto need_string = [&](const Value& x) -> std::string {
      if (x.is_undefined()) return "";
      return to_str(x);
    };
    if (f == "trim" || f == "strip") {
      check_args(a, f, 1, {"chars"});
      return Value::string(py_strip(need_string(v), arg(a, 0, "chars"), true, true));
    }
    if (f == "length" || f == "count") return length_of(v);
    if (f == "tojson") {
      check_args(a, f, 1, {"indent", "ensure_ascii", "separators", "sort_keys"});
      const Value* ind = arg(a, 0, "indent");
      int64_t indent = ind && !ind->is_none() ? int_arg(ind, "tojson indent", 0) : -1;
      check_string_size(indent);
      const Value* sk = find_kwarg(a, "sort_keys");
      if (const Value* ea = find_kwarg(a, "ensure_ascii"); ea && ea->truthy()) fail("tojson: ensure_ascii=true is not supported");
      if (const Value* sep = find_kwarg(a, "separators"); sep && !sep->is_none()) fail("tojson: separators= is not supported");
      std::string out;
      check_walk(v);
      json_dump(out, v, indent, 0, sk && sk->truthy(), options_.max_output_bytes);
      return Value::string(out);
    }
    if (f == "upper") return Value::string(to_upper(need_string(v)));
    if (f == "lower") return Value::string(to_lower(need_string(v)));
    if (f == "capitalize") return *call_method(Value::string(need_string(v)), "capitalize", {});
    if (f == "title") {
      // Jinja's title: each word (split at white space and -({[<) gets upper first, lower rest.
      std::u32string u = decode(need_string(v));
      bool start = true;
      for (char32_t& c : u) {
        bool sep = py_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
        if (sep) {
          start = true;
        } else {
          c = start ? ascii_upper(c) : ascii_lower(c);
          start = false;
        }
      }
      return Value::string(encode(u));
    }
    if (f == "replace") {
      check_args(a, f, 3, {"old", "new", "count"});
      return Value::string(replace_all(need_string(v), str_arg(arg(a, 0, "old"), "replace old"),
                                       str_arg(arg(a, 1, "new"), "replace new"), int_arg(arg(a, 2, "count"), "replace count", -1),
                                       options_.max_output_bytes));
    }
    if (f == "join") {
      check_args(a, f, 2, {"d", "attribute"});
      const Value* d = arg(a, 0, "d");
      const Value* attr = arg(a, 1, "attribute");
      std::string sep = d ? d->str() : "";
      std::string out;
      bool first = true;
      for (const Value& x : items_of(v, "join")) {
        if (!first) out += sep;
        out += to_str(attr ? attribute_of(x, *attr) : x);
        first = false;
        check_string_size(static_cast<int64_t>(out.size()));
      }
      return Value::string(out);
    }
    if (f == "default" || f == "d") {
      check_args(a, f, 2, {"default_value", "boolean"});
      const Value* def = arg(a, 0, "default_value");
      const Value* boolean = arg(a, 1, "boolean");
      bool use_default = v.is_undefined() || (boolean && boolean->truthy() && !v.truthy());
      if (use_default) return def ? *def : Value::string("");
      return v;
    }
    if (f == "first" || f == "last") {
      if (v.is_undefined()) undefined_error(v);
      std::vector<Value> items = items_of(v, f);
      if (items.empty()) return Value::undefined(f == "first" ? "(first of an empty sequence)" : "(last of an empty sequence)");
      return f == "first" ? items.front() : items.back();
    }
    if (f == "selectattr" || f == "rejectattr" || f == "select" || f == "reject") {
      const bool by_attr = f == "selectattr" || f == "rejectattr";
      const bool want = f == "selectattr" || f == "select";
      size_t first_test_arg = by_attr ? 1 : 0;
      if (by_attr && a.positional.empty()) fail(f + "() needs an attribute name");
      Value::List out;
      for (const Value& x : items_of(v, f)) {
        Value subject = by_attr ? attribute_of(x, a.positional[0]) : x;
        bool r;
        if (a.positional.size() > first_test_arg) {
          std::string test = str_arg(&a.positional[first_test_arg], f + "() test name");
          std::vector<Value> targs(a.positional.begin() + static_cast<std::ptrdiff_t>(first_test_arg) + 1, a.positional.end());
          r = run_test(test, subject, targs);
        } else {
          r = subject.truthy();
        }
        if (r == want) out.push_back(x);
      }
      return Value::list(std::move(out));
    }
    if (f == "map") {
      Value::List out;
      const Value* attr = find_kwarg(a, "attribute");
      const Value* def = find_kwarg(a, "default");
      for (const Value& x : items_of(v, "map")) {
        if (attr) {
          Value r = attribute_of(x, *attr);
          out.push_back(r.is_undefined() && def ? *def : r);
        } else {
          if (a.positional.empty()) fail("map() needs a filter name or attribute=");
          std::string fname = str_arg(&a.positional[0], "map() filter name");
          CallArgs rest;
          rest.positional.assign(a.positional.begin() + 1, a.positional.end());
          rest.keyword = a.keyword;
          out.push_back(filter(fname, x, rest));
        }
      }
      return Value::list(std::move(out));
    }
    if (f == "items") {
      if (v.is_undefined()) return Value::list();
      if (!v.is_dict()) fail("items filter needs a dict, not " + v.type_name());
      return *call_method(v, "items", {});
    }
    if (f == "dictsort") {
      if (!v.is_dict()) fail("dictsort needs a dict, not " + v.type_name());
      Value items = *call_method(v, "items", {});
      Value::List l = items.as_list();
      const Value* by = arg(a, 1, "by");
      bool by_value = by && by->is_string() && by->as_string() == "value";
      const Value* rev = arg(a, 2, "reverse");
      std::stable_sort(l.begin(), l.end(), [&](const Value& x, const Value& y) {
        const Value& kx = x.as_list()[by_value ? 1 : 0];
        const Value& ky = y.as_list()[by_value ? 1 : 0];
        return compare_values(kx, ky, "<") < 0;
      });
      if (rev && rev->truthy()) std::reverse(l.begin(), l.end());
      return Value::list(std::move(l));
    }
    if (f == "string") return Value::string(to_str(v));
    if (f == "int") {
      const Value* def = arg(a, 0, "default");
      int64_t d = def ? int_arg(def, "int default", 0) : 0;
      if (v.kind() == Value::Kind::kInt) return v;
      if (v.kind() == Value::Kind::kFloat) return Value::integer(float_to_int(v.as_float()));
      if (v.kind() == Value::Kind::kBool) return Value::integer(v.as_bool() ? 1 : 0);
      if (v.is_string()) {
        std::string t = py_strip(v.as_string(), nullptr, true, true);
        char* end = nullptr;
        errno = 0;
        long long x = std::strtoll(t.c_str(), &end, 10);
        if (!t.empty() && end && *end == '\0' && errno == 0) return Value::integer(x);
        double dd = std::strtod(t.c_str(), &end);
        if (!t.empty() && end && *end == '\0') return Value::integer(float_to_int(dd));
      }
      return Value::integer(d);
    }
    if (f == "float") {
      if (v.is_number()) return Value::number(v.as_float());
      if (v.is_string()) {
        std::string t = py_strip(v.as_string(), nullptr, true, true);
        char* end = nullptr;
        double dd = std::strtod(t.c_str(), &end);
        if (!t.empty() && end && *end == '\0') return Value::number(dd);
      }
      const Value* def = arg(a, 0, "default");
      return def ? *def : Value::number(0.0);
    }
    if (f == "list") return Value::list(items_of(v, "list"));
    if (f == "safe" || f == "e" || f == "escape" || f == "forceescape") {
      if (f == "safe") return v;
      std::string s = to_str(v), out;
      for (char c : s) {
        switch (c) {
          case '&': out += "&amp;"; break;
          case '<': out += "&lt;"; break;
          case '>': out += "&gt;"; break;
          case '"': out += "&#34;"; break;
          case '\'': out += "&#39;"; break;
          default: out.push_back(c);
        }
      }
      return Value::string(out);
    }
    if (f == "abs") {
      if (v.kind() == Value::Kind::kInt) {
        if (v.as_int() == INT64_MIN) integer_overflow("abs");
        return Value::integer(std::llabs(v.as_int()));
      }
      if (v.kind() == Value::Kind::kFloat) return Value::number(std::fabs(v.as_float()));
      fail("abs needs a number, not " + v.type_name());
    }
    if (f == "round") {
      if (!v.is_number()) fail("round needs a number, not " + v.type_name());
      int64_t prec = int_arg(arg(a, 0, "precision"), "round precision", 0);
      const Value* method = arg(a, 1, "method");
      std::string m = method ? str_arg(method, "round method") : "common";
      double scale = std::pow(10.0, static_cast<double>(prec));
      double x = v.as_float() * scale;
      double r = m == "ceil" ? std::ceil(x) : m == "floor" ? std::floor(x) : std::round(x);
      return Value::number(r / scale);
    }
    if (f == "unique") {
      Value::List out;
      check_walk(v);
      for (const Value& x : items_of(v, "unique")) {
        bool seen = false;
        tick(static_cast<int64_t>(out.size()));  // quadratic: charge the comparisons
        for (const Value& y : out) seen = seen || y.equals(x);
        if (!seen) out.push_back(x);
      }
      return Value::list(std::move(out));
    }
    if (f == "reverse") {
      if (v.is_string()) {
        std::u32string u = decode(v.as_string());
        std::reverse(u.begin(), u.end());
        return Value::string(encode(u));
      }
      std::vector<Value> items = items_of(v, "reverse");
      std::reverse(items.begin(), items.end());
      return Value::list(std::move(items));
    }
    if (f == "sort") {
      check_args(a, f, 3, {"reverse", "case_sensitive", "attribute"});
      check_walk(v);
      std::vector<Value> items = items_of(v, "sort");
      const Value* rev = arg(a, 0, "reverse");
      const Value* attr = arg(a, 2, "attribute");
      std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        Value kx = attr ? attribute_of(x, *attr) : x;
        Value ky = attr ? attribute_of(y, *attr) : y;
        return compare_values(kx, ky, "<") < 0;
      });
      if (rev && rev->truthy()) std::reverse(items.begin(), items.end());
      return Value::list(std::move(items));
    }
    if (f == "sum" || f == "min" || f == "max") {
      check_walk(v);
      std::vector<Value> items = items_of(v, f);
      const Value* attr = find_kwarg(a, "attribute");
      if (f == "sum") {
        Value total = f == "sum" && arg(a, 1, "start") ? *arg(a, 1, "start") : Value::integer(0);
        for (const Value& x : items) total = binary("+", total, attr ? attribute_of(x, *attr) : x);
        return total;
      }
      if (items.empty()) return Value::undefined("(" + f + " of an empty sequence)");
      Value best = items[0];
      for (const Value& x : items) {
        int c = compare_values(attr ? attribute_of(x, *attr) : x, attr ? attribute_of(best, *attr) : best, "<");
        if (f == "min" ? c < 0 : c > 0) best = x;
      }
      return best;
    }
    if (f == "indent") {
      check_args(a, f, 3, {"width", "first", "blank"});
      const Value* w = arg(a, 0, "width");
      std::string pad;
      if (w && w->is_string()) {
        pad = w->as_string();
      } else {
        int64_t width = std::max<int64_t>(0, int_arg(w, "indent width", 4));  // Python: ' ' * -1 == ''
        check_string_size(width);
        pad.assign(static_cast<size_t>(width), ' ');
      }
      const Value* first = arg(a, 1, "first");
      const Value* blank = arg(a, 2, "blank");
      std::string s = need_string(v), out;
      std::vector<std::string> lines;
      size_t start = 0;
      for (size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == '\n') {
          lines.push_back(s.substr(start, i - start));
          start = i + 1;
        }
      }
      for (size_t i = 0; i < lines.size(); ++i) {
        if (i > 0) out += "\n";
        bool do_pad = i == 0 ? (first && first->truthy()) : (blank && blank->truthy()) || !lines[i].empty();
        if (i == 0 && !(first && first->truthy())) do_pad = false;
        if (do_pad && (!lines[i].empty() || (blank && blank->truthy()))) out += pad;
        out += lines[i];
        check_string_size(static_cast<int64_t>(out.size()));
      }
      return Value::string(out);
    }
    if (f == "attr") {
      const Value* name = arg(a, 0, "name");
      return get_attr(v, str_arg(name, "attr name"), str_arg(name, "attr name"));
    }
    if (f == "wordcount") {
      return Value::integer(static_cast<int64_t>(split(need_string(v), nullptr, -1, false).size()));
    }
    if (f == "center") {
      int64_t width = int_arg(arg(a, 0, "width"), "center width", 80);
      std::string s = need_string(v);
      int64_t len = static_cast<int64_t>(codepoint_count(s));
      if (len >= width) return Value::string(s);
      int64_t total = width - len;
      check_string_size(static_cast<int64_t>(s.size()) + total);
      int64_t left = total / 2 + (total & width & 1);
      return Value::string(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(total - left), ' '));
    }
    if (f == "batch" || f == "slice") fail("filter '" + f + "' is not supported");
    fail(fmt::format("unknown filter '{}'", f));
  }

  // Attribute (dotted path allowed, as Jinja's make_attrgetter) of x, or an integer index.
  Value attribute_of(const Value& x, const Value& attr) {
    if (attr.kind() == Value::Kind::kInt) return get_item(x, attr, "");
    std::string path = str_arg(&attr, "attribute");
    Value cur = x;
    size_t start = 0;
    while (true) {
      size_t dot = path.find('.', start);
      std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (cur.is_undefined()) return cur;
      bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
      numeric = numeric && part.size() <= 18;  // fits int64
      cur = numeric && cur.is_list() ? get_item(cur, Value::integer(std::stoll(part)), part) : get_item(cur, Value::string(part), part);
      if (dot == std::string::npos) return cur;
      start = dot + 1;
    }
  }

  // ---- tests
  bool apply_test(const Node& n) {
    Value v;
    // `x is defined` must not fail on an undefined attribute chain.
    v = eval(*n.a);
    CallArgs a = eval_args(n);
    return run_test(n.name, v, a.positional);
  }

  bool run_test(const std::string& t, const Value& v, const std::vector<Value>& args) {
    auto need = [&](size_t k) -> const Value& {
      if (args.size() < k + 1) fail(fmt::format("test '{}' needs {} argument{}", t, k + 1, k == 0 ? "" : "s"));
      return args[k];
    };
    if (t == "defined") return !v.is_undefined();
    if (t == "undefined") return v.is_undefined();
    if (t == "none") return v.is_none();
    if (t == "string") return v.is_string();
    if (t == "mapping") return v.is_dict();
    if (t == "iterable") return v.is_list() || v.is_dict() || v.is_string();
    if (t == "sequence") return v.is_list() || v.is_dict() || v.is_string();
    if (t == "number") return v.is_number();
    if (t == "integer") return v.kind() == Value::Kind::kInt;
    if (t == "float") return v.kind() == Value::Kind::kFloat;
    if (t == "boolean") return v.kind() == Value::Kind::kBool;
    if (t == "true") return v.kind() == Value::Kind::kBool && v.as_bool();
    if (t == "false") return v.kind() == Value::Kind::kBool && !v.as_bool();
    if (t == "callable") return v.is_function();
    check_walk(v);
    for (const Value& x : args) check_walk(x);
    if (t == "equalto" || t == "eq" || t == "==" || t == "sameas") return v.equals(need(0));
    if (t == "ne" || t == "!=") return !v.equals(need(0));
    if (t == "lt" || t == "lessthan" || t == "<") return compare_values(v, need(0), "<") < 0;
    if (t == "le" || t == "<=") return compare_values(v, need(0), "<=") <= 0;
    if (t == "gt" || t == "greaterthan" || t == ">") return compare_values(v, need(0), ">") > 0;
    if (t == "ge" || t == ">=") return compare_values(v, need(0), ">=") >= 0;
    if (t == "in") return contains(need(0), v);
    if (t == "odd" || t == "even" || t == "divisibleby") {
      if (v.kind() != Value::Kind::kInt) fail(fmt::format("test '{}' needs an integer, not {}", t, v.type_name()));
      if (t == "divisibleby") {
        int64_t d = int_arg(&need(0), "divisibleby argument", 1);
        if (d == 0) fail("divisibleby 0");
        return d == -1 || v.as_int() % d == 0;
      }
      return (py_mod(v.as_int(), 2) == 1) == (t == "odd");
    }
    if (t == "lower") return v.is_string() && to_lower(v.as_string()) == v.as_string();
    if (t == "upper") return v.is_string() && to_upper(v.as_string()) == v.as_string();
    fail(fmt::format("unknown test '{}'", t));
  }

  RenderOptions options_;
  std::vector<std::shared_ptr<Scope>> scopes_;
  std::vector<std::shared_ptr<Scope>> root_scopes_;
  int depth_ = 0;       // macro calls and loops (recursive loop() calls) nested (max_call_depth)
  int node_depth_ = 0;  // statements and expressions nested (max_depth)
  int64_t steps_ = 0;
  int64_t loop_iterations_ = 0;
  uintptr_t stack_top_ = 0;  // frame address of run(): the stack grows down from here
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Template

Template::Template(const std::string& source, std::string source_name, const TemplateOptions& options)
    : source_name_(std::move(source_name)) {
  detail::Lexer lexer(source, source_name_, options);
  Parser parser(lexer.run(), source_name_);
  root_ = parser.parse_template();
}

std::string Template::render(const Value& context, const RenderOptions& options) const {
  if (!context.is_dict()) {
    throw Error(fmt::format("{}: render context must be a dict of variables, not {}", source_name_, context.type_name()));
  }
  Renderer r(options);
  try {
    return r.run(*root_, context);
  } catch (const Fail& f) {
    throw Error(fmt::format("{}:{}: {}", source_name_, f.line, f.message));
  }
}

}  // namespace rlvr::core::jinja
