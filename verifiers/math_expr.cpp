// A bounded recursive-descent parser for LaTeX numeric expressions, an evaluator over exact
// rationals (with a double fallback) and the equivalence test built on them. See math_expr.h.
#include "verifiers/math_expr.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace rlvr::verifiers::math {
namespace {

// --- values ---

struct Value {
  bool exact = false;  // p/q is the exact value (q > 0, reduced)
  int64_t p = 0, q = 1;
  double d = 0.0;  // always set; NaN for undefined results
};


Value inexact(double d) {
  Value v;
  v.d = d;
  return v;
}

// p/q reduced; falls back to a double when q == 0 or the numbers overflow.
Value rational(__int128 p, __int128 q) {
  if (q == 0) return inexact(std::numeric_limits<double>::quiet_NaN());
  if (q < 0) {
    p = -p;
    q = -q;
  }
  __int128 a = p < 0 ? -p : p, b = q;
  while (b != 0) {
    __int128 t = a % b;
    a = b;
    b = t;
  }
  if (a > 1) {
    p /= a;
    q /= a;
  }
  constexpr __int128 kMax = std::numeric_limits<int64_t>::max();
  if (p > kMax || p < -kMax || q > kMax) {
    return inexact(static_cast<double>(p) / static_cast<double>(q));
  }
  Value v;
  v.exact = true;
  v.p = static_cast<int64_t>(p);
  v.q = static_cast<int64_t>(q);
  v.d = static_cast<double>(v.p) / static_cast<double>(v.q);
  return v;
}

Value add(const Value& a, const Value& b, bool negate_b) {
  if (a.exact && b.exact) {
    __int128 bp = negate_b ? -static_cast<__int128>(b.p) : b.p;
    return rational(static_cast<__int128>(a.p) * b.q + bp * a.q, static_cast<__int128>(a.q) * b.q);
  }
  return inexact(negate_b ? a.d - b.d : a.d + b.d);
}

Value mul(const Value& a, const Value& b) {
  if (a.exact && b.exact) {
    return rational(static_cast<__int128>(a.p) * b.p, static_cast<__int128>(a.q) * b.q);
  }
  return inexact(a.d * b.d);
}

Value div(const Value& a, const Value& b) {
  if (a.exact && b.exact) {
    if (b.p == 0) return inexact(std::numeric_limits<double>::quiet_NaN());
    return rational(static_cast<__int128>(a.p) * b.q, static_cast<__int128>(a.q) * b.p);
  }
  if (b.d == 0.0) return inexact(std::numeric_limits<double>::quiet_NaN());
  return inexact(a.d / b.d);
}

Value negate(const Value& a) {
  if (a.exact) return rational(-static_cast<__int128>(a.p), a.q);
  return inexact(-a.d);
}

// Integer k-th root of a non-negative n when exact.
std::optional<int64_t> exact_root(int64_t n, int64_t k) {
  if (n < 0 || k < 1) return std::nullopt;
  double r = std::round(std::pow(static_cast<double>(n), 1.0 / static_cast<double>(k)));
  for (int64_t c = static_cast<int64_t>(r) - 1; c <= static_cast<int64_t>(r) + 1; ++c) {
    if (c < 0) continue;
    __int128 acc = 1;
    bool over = false;
    for (int64_t i = 0; i < k && !over; ++i) {
      acc *= c;
      if (acc > n) over = true;
    }
    if (!over && acc == n) return c;
  }
  return std::nullopt;
}

Value root(const Value& x, const Value& n) {
  if (x.exact && n.exact && n.q == 1 && n.p >= 1 && n.p <= 64) {
    if (x.p >= 0) {
      auto a = exact_root(x.p, n.p), b = exact_root(x.q, n.p);
      if (a && b) return rational(*a, *b);
    } else if (n.p % 2 == 1) {
      auto a = exact_root(-x.p, n.p), b = exact_root(x.q, n.p);
      if (a && b) return rational(-static_cast<__int128>(*a), *b);
    }
  }
  if (n.d == 2.0) return inexact(std::sqrt(x.d));
  if (x.d < 0 && std::fmod(n.d, 2.0) == 1.0) return inexact(-std::pow(-x.d, 1.0 / n.d));
  return inexact(std::pow(x.d, 1.0 / n.d));
}

Value power(const Value& b, const Value& e) {
  if (b.exact && e.exact && e.q == 1 && e.p >= -64 && e.p <= 64) {
    Value acc = rational(1, 1);
    Value base = b;
    int64_t n = e.p < 0 ? -e.p : e.p;
    for (int64_t i = 0; i < n && acc.exact; ++i) acc = mul(acc, base);
    if (acc.exact) return e.p < 0 ? div(rational(1, 1), acc) : acc;
  }
  if (b.exact && e.exact && e.q > 1 && e.q <= 64) {
    // b^(p/q) = root_q(b)^p when the root is exact (e.g. 4^{1/2} = 2).
    Value r = root(b, rational(e.q, 1));
    if (r.exact) return power(r, rational(e.p, 1));
  }
  return inexact(std::pow(b.d, e.d));
}

// --- expression tree ---

enum class Op {
  kNum, kVar, kAdd, kSub, kMul, kDiv, kPow, kNeg, kRoot, kFact, kAbs,
  kSin, kCos, kTan, kAsin, kAcos, kAtan, kLn, kExp, kLogBase,
};

struct Node {
  Op op;
  int a = -1, b = -1;
  Value value;   // kNum
  uint64_t var;  // kVar: hash of the name
};

struct Tree {
  std::vector<Node> nodes;
  int root = -1;
  bool has_vars = false;
};

// --- parser ---

class Parser {
 public:
  Parser(std::string_view s, Tree& tree) : s_(s), t_(tree) {}

  // Parses the whole input; false when anything is unsupported.
  bool parse() {
    skip();
    int r = sum();
    skip();
    if (r < 0 || pos_ != s_.size()) return false;
    t_.root = r;
    return true;
  }

 private:
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

  bool at(std::string_view tok) const { return s_.substr(pos_, tok.size()) == tok; }

  // A command name at pos_ ("\\frac" -> "frac"); empty when pos_ is not at a backslash+letters.
  std::string_view command() const {
    if (pos_ >= s_.size() || s_[pos_] != '\\') return {};
    size_t e = pos_ + 1;
    while (e < s_.size() && is_alpha(s_[e])) ++e;
    return s_.substr(pos_ + 1, e - pos_ - 1);
  }

  // Skips spaces, thin spaces and \left / \right (they only size the brackets).
  void skip() {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '~') {
        ++pos_;
      } else if (c == '\\' && pos_ + 1 < s_.size() &&
                 (s_[pos_ + 1] == ',' || s_[pos_ + 1] == ';' || s_[pos_ + 1] == '!' ||
                  s_[pos_ + 1] == ' ' || s_[pos_ + 1] == ':')) {
        pos_ += 2;
      } else {
        std::string_view cmd = command();
        if (cmd == "left" || cmd == "right" || cmd == "displaystyle" || cmd == "quad") {
          pos_ += 1 + cmd.size();
        } else {
          return;
        }
      }
    }
  }

  int node(Op op, int a = -1, int b = -1) {
    if (a < 0 && op != Op::kNum && op != Op::kVar) return -1;
    if (b < 0 && (op == Op::kAdd || op == Op::kSub || op == Op::kMul || op == Op::kDiv ||
                  op == Op::kPow || op == Op::kRoot || op == Op::kLogBase)) {
      return -1;
    }
    Node n{op, a, b, {}, 0};
    t_.nodes.push_back(n);
    return static_cast<int>(t_.nodes.size()) - 1;
  }

  int number_node(Value v) {
    int i = node(Op::kNum);
    t_.nodes[i].value = v;
    return i;
  }

  int var_node(std::string_view name) {
    uint64_t h = 1469598103934665603ULL;  // FNV-1a
    for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    int i = node(Op::kVar);
    t_.nodes[i].var = h;
    t_.has_vars = true;
    return i;
  }

  struct DepthGuard {
    explicit DepthGuard(int& d) : d_(d) { ++d_; }
    ~DepthGuard() { --d_; }
    int& d_;
  };

  int sum() {
    DepthGuard g(depth_);
    if (depth_ > kMaxExprDepth) return -1;
    int left = term();
    while (left >= 0) {
      skip();
      if (at("+")) {
        ++pos_;
        left = node(Op::kAdd, left, term());
      } else if (at("-")) {
        ++pos_;
        left = node(Op::kSub, left, term());
      } else {
        break;
      }
    }
    return left;
  }

  // True when the next token can start a factor of an implicit product.
  bool starts_factor() {
    skip();
    if (pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (is_digit(c) || c == '.' || is_alpha(c) || c == '(' || c == '{' || c == '[') return true;
    if (c == '\\') {
      std::string_view cmd = command();
      return !cmd.empty() && cmd != "cdot" && cmd != "times" && cmd != "div" && cmd != "right";
    }
    return false;
  }

  int term() {
    DepthGuard g(depth_);
    if (depth_ > kMaxExprDepth) return -1;
    int left = unary();
    while (left >= 0) {
      skip();
      std::string_view cmd = command();
      if (at("*") || cmd == "cdot" || cmd == "times") {
        pos_ += at("*") ? 1 : 1 + cmd.size();
        left = node(Op::kMul, left, unary());
      } else if (at("/") || cmd == "div") {
        pos_ += at("/") ? 1 : 1 + cmd.size();
        left = node(Op::kDiv, left, unary());
      } else if (starts_factor()) {
        left = node(Op::kMul, left, power_expr());
      } else {
        break;
      }
    }
    return left;
  }

  int unary() {
    DepthGuard g(depth_);
    if (depth_ > kMaxExprDepth) return -1;
    skip();
    if (at("-")) {
      ++pos_;
      return node(Op::kNeg, unary());
    }
    if (at("+")) {
      ++pos_;
      return unary();
    }
    return power_expr();
  }

  int power_expr() {
    DepthGuard g(depth_);
    if (depth_ > kMaxExprDepth) return -1;
    int base = postfix();
    skip();
    if (base >= 0 && at("^")) {
      ++pos_;
      return node(Op::kPow, base, exponent());
    }
    return base;
  }

  // The exponent of ^: a braced group, a number, a single symbol, or -(one of those).
  int exponent() {
    DepthGuard g(depth_);
    if (depth_ > kMaxExprDepth) return -1;
    skip();
    if (at("-")) {
      ++pos_;
      return node(Op::kNeg, exponent());
    }
    return primary(/*single_letter_only=*/true);
  }

  int postfix() {
    int p = primary(/*single_letter_only=*/false);
    while (p >= 0) {
      skip();
      if (!at("!")) break;
      ++pos_;
      p = node(Op::kFact, p);
    }
    return p;
  }

  // A required argument of \frac or \sqrt: {expr} or one character.
  int argument() {
    DepthGuard g(depth_);
    if (depth_ > kMaxExprDepth) return -1;
    skip();
    if (pos_ >= s_.size()) return -1;
    if (s_[pos_] == '{') return group('{', '}');
    char c = s_[pos_];
    if (is_digit(c)) {
      ++pos_;
      return number_node(rational(c - '0', 1));
    }
    if (is_alpha(c)) {
      ++pos_;
      return var_node(s_.substr(pos_ - 1, 1));
    }
    if (c == '\\') return primary(true);
    return -1;
  }

  int group(char open, char close) {
    if (!at(std::string_view(&open, 1))) return -1;
    ++pos_;
    int e = sum();
    skip();
    if (e < 0 || pos_ >= s_.size() || s_[pos_] != close) return -1;
    ++pos_;
    return e;
  }

  // True when a thin space and a group of exactly three digits start at `p` ("\\,000" in
  // 1\,000\,000, the digit-group separator of LaTeX typesetting).
  bool thin_space_group_at(size_t p) const {
    if (s_.compare(p, 2, "\\,") != 0 || p + 5 > s_.size()) return false;
    for (size_t k = p + 2; k < p + 5; ++k) {
      if (!is_digit(s_[k])) return false;
    }
    return p + 5 == s_.size() || !is_digit(s_[p + 5]);
  }

  // A decimal number; its digits (and '.') are appended to `*text` when given. The integer
  // part may be 1-3 digits followed by thin-space groups of three (1\,000\,000 = 1000000).
  int number(std::string* text = nullptr) {
    std::string digits_text;
    size_t run = 0;
    while (pos_ < s_.size() && is_digit(s_[pos_])) {
      digits_text += s_[pos_++];
      ++run;
    }
    if (run >= 1 && run <= 3) {
      while (thin_space_group_at(pos_)) {
        digits_text.append(s_.substr(pos_ + 2, 3));
        pos_ += 5;
      }
    }
    if (pos_ + 1 < s_.size() && s_[pos_] == '.' && is_digit(s_[pos_ + 1])) {
      digits_text += '.';
      ++pos_;
      while (pos_ < s_.size() && is_digit(s_[pos_])) digits_text += s_[pos_++];
    }
    if (text != nullptr) *text += digits_text;
    int64_t digits = 0;
    __int128 mant = 0;
    int64_t frac_digits = 0;
    bool overflow = false, seen_dot = false;
    for (char c : digits_text) {
      if (c == '.') {
        seen_dot = true;
        continue;
      }
      if (digits < 36) {
        mant = mant * 10 + (c - '0');
      } else {
        overflow = true;
      }
      ++digits;
      if (seen_dot) ++frac_digits;
    }
    if (digits == 0) return -1;
    if (overflow || frac_digits > 18) return number_node(inexact(std::strtod(digits_text.c_str(), nullptr)));
    __int128 den = 1;
    for (int64_t i = 0; i < frac_digits; ++i) den *= 10;
    return number_node(rational(mant, den));
  }

  // An optional subscript after an atom whose text is `base`: `x_1`, `x_{1}`, `1011_2`,
  // `1011_{2}` (braced and bare are the same). A subscripted atom is an opaque variable named
  // by its normalised text, so 1011_2 equals 1011_{2} but neither 1011 nor 1011_{10}. Returns
  // `atom` unchanged when no `_` follows; -1 for a subscript that is not letters and digits.
  int subscripted(std::string base, int atom) {
    if (atom < 0 || !at("_")) return atom;
    ++pos_;
    skip();
    std::string sub;
    if (at("{")) {
      size_t close = s_.find('}', pos_);
      if (close == std::string_view::npos) return -1;
      for (size_t k = pos_ + 1; k < close; ++k) {
        char c = s_[k];
        if (c == ' ') continue;
        if (!is_digit(c) && !is_alpha(c)) return -1;
        sub += c;
      }
      pos_ = close + 1;
    } else if (pos_ < s_.size() && (is_digit(s_[pos_]) || is_alpha(s_[pos_]))) {
      sub = s_.substr(pos_++, 1);
    }
    if (sub.empty()) return -1;
    return var_node(base + "_" + sub);
  }

  // The named functions. Besides being applied, they end the argument of a function written
  // without parentheses (\sin x \cos x = sin(x)*cos(x)) and nest when they start it
  // (\sin \cos x = sin(cos(x))), as sympy's parse_latex reads them.
  static bool is_function_name(std::string_view cmd) {
    static constexpr std::string_view kNames[] = {"sin",    "cos",    "tan",    "sec", "csc",
                                                  "cot",    "arcsin", "arccos", "arctan", "ln",
                                                  "log",    "exp",    "sqrt"};
    for (std::string_view n : kNames) {
      if (cmd == n) return true;
    }
    return false;
  }

  // True when the token at pos_ (after spaces) is a named function.
  bool at_function() {
    skip();
    return is_function_name(command());
  }

  // The argument of a function written without parentheses, as sympy's grammar reads it: a
  // product of factors that are not named functions (\sin 2x = sin(2x), \sin x^2 y =
  // sin(x^2 y), \sin x \cdot y = sin(xy)), or, when a named function comes first, that
  // function's application (\sin \cos x = sin(cos x)). An explicit operator followed by a
  // named function ends the argument (\sin x \cdot \cos x = sin(x)cos(x); sympy reads
  // sin(x cos x) here, see docs/VERIFIERS.md).
  int bare_argument() {
    DepthGuard g(depth_);
    if (depth_ > kMaxExprDepth) return -1;
    if (at_function()) return power_expr();
    int left = bare_factor();
    while (left >= 0) {
      skip();
      size_t save = pos_;
      std::string_view cmd = command();
      bool mul = at("*") || cmd == "cdot" || cmd == "times";
      bool div = at("/") || cmd == "div";
      if (mul || div) {
        pos_ += (at("*") || at("/")) ? 1 : 1 + cmd.size();
        if (at_function()) {
          pos_ = save;
          break;
        }
        left = node(mul ? Op::kMul : Op::kDiv, left, bare_factor());
      } else if (!at_function() && starts_factor()) {
        left = node(Op::kMul, left, power_expr());
      } else {
        break;
      }
    }
    return left;
  }

  // A signed factor of bare_argument that is not a named function.
  int bare_factor() {
    DepthGuard g(depth_);
    if (depth_ > kMaxExprDepth) return -1;
    skip();
    if (at("-")) {
      ++pos_;
      return node(Op::kNeg, bare_factor());
    }
    if (at("+")) {
      ++pos_;
      return bare_factor();
    }
    if (at_function()) return -1;
    return power_expr();
  }

  // True when node `i` is the literal -1 (the exponent of \sin^{-1}).
  bool is_minus_one(int i) const {
    if (i < 0) return false;
    const Node& n = t_.nodes[i];
    if (n.op == Op::kNum) return n.value.exact && n.value.p == -1 && n.value.q == 1;
    if (n.op != Op::kNeg || n.a < 0) return false;
    const Node& m = t_.nodes[n.a];
    return m.op == Op::kNum && m.value.exact && m.value.p == 1 && m.value.q == 1;
  }

  // A named function after its command: an optional power (\sin^2 x = (sin x)^2; \sin^{-1} x
  // is arcsin x for the six trigonometric functions, as sympy reads it), then its argument in
  // parentheses (a power after them applies to the result: \sin(x)^2) or bare (see
  // bare_argument). `base` is the base of \log_b, or -1.
  int function_application(std::string_view name, int base = -1) {
    DepthGuard g(depth_);
    if (depth_ > kMaxExprDepth) return -1;
    skip();
    int pow = -1;
    if (at("^")) {
      ++pos_;
      pow = exponent();
      if (pow < 0) return -1;
    }
    bool inverse = false;
    static constexpr std::string_view kTrig[] = {"sin", "cos", "tan", "sec", "csc", "cot"};
    for (std::string_view t : kTrig) {
      if (name == t && is_minus_one(pow)) inverse = true;
    }
    if (inverse) pow = -1;
    skip();
    int arg = at("(") ? group('(', ')') : bare_argument();
    if (arg < 0) return -1;
    int r = -1;
    auto one = [&] { return number_node(rational(1, 1)); };
    auto recip = [&](int x) { return node(Op::kDiv, one(), x); };
    if (name == "sin") r = inverse ? node(Op::kAsin, arg) : node(Op::kSin, arg);
    if (name == "cos") r = inverse ? node(Op::kAcos, arg) : node(Op::kCos, arg);
    if (name == "tan") r = inverse ? node(Op::kAtan, arg) : node(Op::kTan, arg);
    if (name == "sec") r = inverse ? node(Op::kAcos, recip(arg)) : recip(node(Op::kCos, arg));
    if (name == "csc") r = inverse ? node(Op::kAsin, recip(arg)) : recip(node(Op::kSin, arg));
    if (name == "cot") r = inverse ? node(Op::kAtan, recip(arg)) : recip(node(Op::kTan, arg));
    if (name == "arcsin") r = node(Op::kAsin, arg);
    if (name == "arccos") r = node(Op::kAcos, arg);
    if (name == "arctan") r = node(Op::kAtan, arg);
    if (name == "ln") r = node(Op::kLn, arg);
    if (name == "exp") r = node(Op::kExp, arg);
    if (name == "log") r = base >= 0 ? node(Op::kLogBase, arg, base) : node(Op::kLn, arg);
    if (r >= 0 && pow >= 0) r = node(Op::kPow, r, pow);
    return r;
  }

  // `exponent_position`: the operand of ^ (no subscripts there: x^2_1 is not supported).
  int primary(bool exponent_position) {
    DepthGuard g(depth_);
    if (depth_ > kMaxExprDepth) return -1;
    skip();
    if (pos_ >= s_.size()) return -1;
    char c = s_[pos_];
    if (is_digit(c) || c == '.') {  // 2^{10} and 2^10 alike, as sympy reads them
      std::string text;
      int n = number(&text);
      return exponent_position ? n : subscripted(text, n);
    }
    if (is_alpha(c)) {
      ++pos_;
      int v = var_node(s_.substr(pos_ - 1, 1));
      return exponent_position ? v : subscripted(std::string(s_.substr(pos_ - 1, 1)), v);
    }
    if (c == '(') return group('(', ')');
    if (c == '[') return group('[', ']');
    if (c == '{') return group('{', '}');
    if (c == '|') {
      ++pos_;
      int e = sum();
      skip();
      if (e < 0 || !at("|")) return -1;
      ++pos_;
      return node(Op::kAbs, e);
    }
    if (c != '\\') return -1;
    std::string_view cmd = command();
    if (cmd.empty()) {
      if (at("\\{")) {  // \{ expr \} used as grouping
        pos_ += 2;
        int e = sum();
        skip();
        if (e < 0 || !at("\\}")) return -1;
        pos_ += 2;
        return e;
      }
      return -1;
    }
    pos_ += 1 + cmd.size();
    if (cmd == "frac" || cmd == "dfrac" || cmd == "tfrac" || cmd == "cfrac") {
      int num = argument();
      int den = argument();
      return node(Op::kDiv, num, den);
    }
    if (cmd == "sqrt") {
      skip();
      int n = -1;
      if (at("[")) {
        n = group('[', ']');
        if (n < 0) return -1;
      } else {
        n = number_node(rational(2, 1));
      }
      return node(Op::kRoot, argument(), n);
    }
    if (cmd == "pi") return number_node(inexact(M_PI));
    if (cmd == "infty" || cmd == "infinity") {
      return number_node(inexact(std::numeric_limits<double>::infinity()));
    }
    if (cmd == "log") {
      skip();
      int base = -1;
      if (at("_")) {
        ++pos_;
        base = argument();
        if (base < 0) return -1;
      }
      return function_application(cmd, base);  // sympy's parse_latex reads \log as ln
    }
    if (is_function_name(cmd)) return function_application(cmd);
    static constexpr std::string_view kGreek[] = {
        "alpha", "beta",  "gamma", "delta", "epsilon", "varepsilon", "zeta",  "eta",
        "theta", "vartheta", "iota", "kappa", "lambda", "mu",        "nu",    "xi",
        "rho",   "sigma", "tau",   "upsilon", "phi",   "varphi",     "chi",   "psi",
        "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi",         "Sigma", "Phi",
        "Psi",   "Omega",
    };
    for (std::string_view gname : kGreek) {
      if (cmd == gname) {
        std::string name(s_.substr(pos_ - cmd.size() - 1, cmd.size() + 1));
        int v = var_node(name);
        return exponent_position ? v : subscripted(name, v);
      }
    }
    return -1;
  }

  std::string_view s_;
  Tree& t_;
  size_t pos_ = 0;
  int depth_ = 0;
};

std::optional<Tree> parse_expr(std::string_view s) {
  if (s.empty() || s.size() > kMaxExprBytes) return std::nullopt;
  Tree t;
  t.nodes.reserve(32);
  Parser p(s, t);
  if (!p.parse()) return std::nullopt;
  return t;
}

// --- evaluation ---

constexpr int kTrials = 4;

// A value for variable `var` in trial `trial` (deterministic): in [0.6, 2.6) for the first
// kTrials trials, in [0.05, 0.95) for the next kTrials (used when no first trial was defined:
// \arcsin x, \sqrt{1-x^2} need |x| < 1).
double var_value(uint64_t var, int trial) {
  uint64_t x = var ^ (0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(trial + 1));
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  double u = static_cast<double>(x >> 11) / static_cast<double>(1ULL << 53);
  return trial < kTrials ? 0.6 + 2.0 * u : 0.05 + 0.9 * u;
}

Value eval(const Tree& t, int i, int trial) {
  const Node& n = t.nodes[i];
  switch (n.op) {
    case Op::kNum:
      return n.value;
    case Op::kVar:
      return inexact(var_value(n.var, trial));
    case Op::kAdd:
      return add(eval(t, n.a, trial), eval(t, n.b, trial), false);
    case Op::kSub:
      return add(eval(t, n.a, trial), eval(t, n.b, trial), true);
    case Op::kMul:
      return mul(eval(t, n.a, trial), eval(t, n.b, trial));
    case Op::kDiv:
      return div(eval(t, n.a, trial), eval(t, n.b, trial));
    case Op::kPow:
      return power(eval(t, n.a, trial), eval(t, n.b, trial));
    case Op::kNeg:
      return negate(eval(t, n.a, trial));
    case Op::kRoot:
      return root(eval(t, n.a, trial), eval(t, n.b, trial));
    case Op::kAbs: {
      Value v = eval(t, n.a, trial);
      return (v.exact ? v.p < 0 : v.d < 0) ? negate(v) : v;
    }
    case Op::kFact: {
      Value v = eval(t, n.a, trial);
      if (!v.exact || v.q != 1 || v.p < 0 || v.p > 170) {
        return inexact(std::numeric_limits<double>::quiet_NaN());
      }
      Value acc = rational(1, 1);
      for (int64_t k = 2; k <= v.p; ++k) acc = mul(acc, rational(k, 1));
      return acc;
    }
    case Op::kSin:
      return inexact(std::sin(eval(t, n.a, trial).d));
    case Op::kCos:
      return inexact(std::cos(eval(t, n.a, trial).d));
    case Op::kTan:
      return inexact(std::tan(eval(t, n.a, trial).d));
    case Op::kAsin: {
      Value v = eval(t, n.a, trial);
      if (v.exact && v.p == 0) return rational(0, 1);
      return inexact(std::asin(v.d));  // NaN outside [-1, 1]
    }
    case Op::kAcos:
      return inexact(std::acos(eval(t, n.a, trial).d));
    case Op::kAtan: {
      Value v = eval(t, n.a, trial);
      if (v.exact && v.p == 0) return rational(0, 1);
      return inexact(std::atan(v.d));
    }
    case Op::kLn: {
      Value v = eval(t, n.a, trial);
      if (v.exact && v.p == 1 && v.q == 1) return rational(0, 1);
      return inexact(std::log(v.d));
    }
    case Op::kExp: {
      Value v = eval(t, n.a, trial);
      if (v.exact && v.p == 0) return rational(1, 1);
      return inexact(std::exp(v.d));
    }
    case Op::kLogBase: {
      Value x = eval(t, n.a, trial), b = eval(t, n.b, trial);
      double r = std::log(x.d) / std::log(b.d);
      double rr = std::round(r);
      // log_2 8 = 3 exactly when b^round(r) == x exactly.
      if (x.exact && b.exact && std::fabs(r - rr) < 1e-9 && std::fabs(rr) <= 64) {
        Value back = power(b, rational(static_cast<int64_t>(rr), 1));
        if (back.exact && back.p == x.p && back.q == x.q) return rational(static_cast<int64_t>(rr), 1);
      }
      return inexact(r);
    }
  }
  return inexact(std::numeric_limits<double>::quiet_NaN());
}

enum class Cmp { kEqual, kDifferent, kUndefined };

Cmp compare(const Value& a, const Value& b) {
  if (a.exact && b.exact) return a.p == b.p && a.q == b.q ? Cmp::kEqual : Cmp::kDifferent;
  if (std::isnan(a.d) || std::isnan(b.d)) return Cmp::kUndefined;
  if (std::isinf(a.d) || std::isinf(b.d)) return a.d == b.d ? Cmp::kEqual : Cmp::kDifferent;
  double diff = std::fabs(a.d - b.d);
  double scale = std::max(std::fabs(a.d), std::fabs(b.d));
  if (diff <= 1e-9 * scale) return Cmp::kEqual;
  // Exact zero against rounding noise (sin(\pi), \sqrt{2}^2 - 2).
  if ((a.exact && a.p == 0) || (b.exact && b.p == 0)) {
    return diff <= 1e-12 ? Cmp::kEqual : Cmp::kDifferent;
  }
  if (!a.exact && !b.exact && diff <= 1e-12) return Cmp::kEqual;
  return Cmp::kDifferent;
}

bool trees_equivalent(const Tree& x, const Tree& y) {
  if (!x.has_vars && !y.has_vars) {
    return compare(eval(x, x.root, 0), eval(y, y.root, 0)) == Cmp::kEqual;
  }
  int defined = 0;
  for (int trial = 0; trial < 2 * kTrials; ++trial) {
    if (trial == kTrials && defined > 0) break;  // small values only when nothing was defined
    Value a = eval(x, x.root, trial), b = eval(y, y.root, trial);
    // Identity testing with doubles only: exactness of one side says nothing about the other.
    a.exact = b.exact = false;
    bool an = std::isnan(a.d), bn = std::isnan(b.d);
    if (an && bn) continue;
    if (an != bn) return false;
    if (compare(a, b) != Cmp::kEqual) return false;
    ++defined;
  }
  return defined > 0;
}

// --- tuples and intervals ---

struct Sequence {
  char open = 0, close = 0;  // 0 when there are no brackets
  std::vector<std::string_view> items;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// Removes \left / \right so "\left( 1, 2 \right]" splits like "(1,2]".
std::string drop_sizing(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 5, "\\left") == 0 && (i + 5 >= s.size() || !std::isalpha(static_cast<unsigned char>(s[i + 5])))) {
      i += 5;
    } else if (s.compare(i, 6, "\\right") == 0 &&
               (i + 6 >= s.size() || !std::isalpha(static_cast<unsigned char>(s[i + 6])))) {
      i += 6;
    } else {
      out += s[i++];
    }
  }
  return out;
}

// Splits "a,b,c" at top-level commas (not at the thin space "\\,"); nullopt when brackets do not
// balance.
std::optional<std::vector<std::string_view>> split_top_level(std::string_view s) {
  std::vector<std::string_view> items;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      if (--depth < 0) return std::nullopt;
    } else if (c == ',' && depth == 0 && (i == 0 || s[i - 1] != '\\')) {  // "\\," is a thin space
      items.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (depth != 0) return std::nullopt;
  items.push_back(trim(s.substr(start)));
  return items;
}

// Recognises "(a,b)", "[a,b)", "\{a,b\}" and bare "a,b"; nullopt for a single expression.
std::optional<Sequence> as_sequence(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  Sequence seq;
  std::string_view inner = s;
  bool set_braces = s.size() >= 4 && s.substr(0, 2) == "\\{" && s.substr(s.size() - 2) == "\\}";
  if (set_braces) {
    seq.open = '{';
    seq.close = '}';
    inner = s.substr(2, s.size() - 4);
  } else if ((s.front() == '(' || s.front() == '[') && (s.back() == ')' || s.back() == ']')) {
    // The first bracket must close at the very end: "(1,2)+(3,4)" is not one tuple.
    int depth = 0;
    bool closes_at_end = true;
    for (size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (c == '(' || c == '[' || c == '{') ++depth;
      if (c == ')' || c == ']' || c == '}') --depth;
      if (depth == 0 && i + 1 < s.size()) {
        closes_at_end = false;
        break;
      }
    }
    if (closes_at_end) {
      seq.open = s.front();
      seq.close = s.back();
      inner = s.substr(1, s.size() - 2);
    }
  }
  auto items = split_top_level(inner);
  if (!items || items->size() < 2) return std::nullopt;
  for (auto item : *items) {
    if (item.empty()) return std::nullopt;
  }
  if (items->size() > 256) return std::nullopt;
  seq.items = std::move(*items);
  return seq;
}

// "1,234,567" (digit groups of three, optional sign and decimals) -> "1234567"; anything else
// is returned unchanged, so "1,2" stays a pair.
std::string drop_thousands(std::string s) {
  std::string_view v = trim(s);
  size_t i = 0;
  if (i < v.size() && v[i] == '-') ++i;
  size_t lead = 0;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i, ++lead;
  if (lead == 0 || lead > 3 || i >= v.size() || v[i] != ',') return s;
  while (i < v.size() && v[i] == ',') {
    for (int k = 1; k <= 3; ++k) {
      if (i + k >= v.size() || !std::isdigit(static_cast<unsigned char>(v[i + k]))) return s;
    }
    i += 4;
  }
  if (i < v.size() && v[i] == '.') {
    ++i;
    if (i >= v.size()) return s;
    while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
  }
  if (i != v.size()) return s;
  std::string out;
  for (char c : v) {
    if (c != ',') out += c;
  }
  return out;
}

bool scalar_equivalent(std::string_view a, std::string_view b) {
  if (trim(a) == trim(b)) return true;
  auto x = parse_expr(a);
  if (!x) return false;
  auto y = parse_expr(b);
  if (!y) return false;
  return trees_equivalent(*x, *y);
}

}  // namespace

bool expressions_equivalent(std::string_view a_in, std::string_view b_in) {
  if (a_in.size() > kMaxExprBytes || b_in.size() > kMaxExprBytes) return false;
  std::string a = drop_thousands(drop_sizing(a_in)), b = drop_thousands(drop_sizing(b_in));
  auto sa = as_sequence(a);
  auto sb = as_sequence(b);
  if (sa || sb) {
    if (!sa || !sb) return false;
    if (sa->open != sb->open || sa->close != sb->close) return false;
    if (sa->items.size() != sb->items.size()) return false;
    for (size_t i = 0; i < sa->items.size(); ++i) {
      if (!scalar_equivalent(sa->items[i], sb->items[i])) return false;
    }
    return true;
  }
  return scalar_equivalent(a, b);
}

bool parses_as_expression(std::string_view s) { return parse_expr(drop_sizing(s)).has_value(); }

}  // namespace rlvr::verifiers::math
