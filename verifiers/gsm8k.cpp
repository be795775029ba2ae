// The `gsm8k` verifier: a single forward scan for answer markers and numbers. See gsm8k.h.
#include "verifiers/gsm8k.h"

#include <vector>

#include "verifiers/math_normalize.h"
#include "verifiers/text.h"

namespace rlvr::verifiers {
namespace gsm8k {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals_at(std::string_view s, size_t pos, std::string_view word) {
  if (pos + word.size() > s.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (lower(s[pos + i]) != word[i]) return false;
  }
  return true;
}

constexpr std::string_view kUnicodeMinus = "\xE2\x88\x92";  // U+2212

// A number token found in text.
struct Token {
  size_t begin = 0, end = 0;  // [begin, end) in the text, sign included
  std::string canonical;
};

// Canonical decimal from sign, integer digits and fraction digits.
std::string canonical(bool negative, std::string_view int_digits, std::string_view frac_digits) {
  size_t i = 0;
  while (i + 1 < int_digits.size() && int_digits[i] == '0') ++i;
  std::string out;
  std::string_view ip = int_digits.substr(i);
  while (!frac_digits.empty() && frac_digits.back() == '0') frac_digits.remove_suffix(1);
  bool zero = (ip.empty() || ip == "0") && frac_digits.empty();
  if (negative && !zero) out += '-';
  out += ip.empty() ? std::string_view("0") : ip;
  if (!frac_digits.empty()) {
    out += '.';
    out += frac_digits;
  }
  return out;
}

// Reads the number whose first digit (or leading '.') is at `pos`; `pos` must satisfy
// starts_number. Thousands groups are ",ddd" not followed by another digit.
Token read_number(std::string_view s, size_t pos) {
  Token t;
  size_t i = pos;
  std::string int_digits;
  std::string_view frac;
  while (i < s.size() && is_digit(s[i])) int_digits += s[i++];
  if (!int_digits.empty() && int_digits.size() <= 3) {
    while (i + 3 < s.size() + 0 && s[i] == ',' && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
           is_digit(s[i + 3]) && (i + 4 >= s.size() || !is_digit(s[i + 4]))) {
      int_digits.append(s.substr(i + 1, 3));
      i += 4;
    }
  }
  if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
    size_t f = ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
    frac = s.substr(f, i - f);
  }
  // A sign right before the number (or before a '$' right before it), when the sign is not
  // a binary minus: the character before it is not a digit, letter or closing bracket.
  size_t begin = pos;
  size_t j = pos;
  if (j > 0 && s[j - 1] == '$') --j;
  bool negative = false;
  auto binary_context = [&](size_t at) {
    if (at == 0) return false;
    char p = s[at - 1];
    return is_alnum(p) || p == ')' || p == ']' || p == '}';
  };
  if (j > 0 && (s[j - 1] == '-' || s[j - 1] == '+') && !binary_context(j - 1)) {
    negative = s[j - 1] == '-';
    begin = j - 1;
  } else if (j >= 3 && s.substr(j - 3, 3) == kUnicodeMinus && !binary_context(j - 3)) {
    negative = true;
    begin = j - 3;
  }
  t.begin = begin;
  t.end = i;
  t.canonical = canonical(negative, int_digits, frac);
  return t;
}

// True when a number starts at `pos`: a digit not preceded by a digit or '.'-digit, or a '.'
// followed by a digit and not preceded by a digit.
bool starts_number(std::string_view s, size_t pos) {
  char c = s[pos];
  bool prev_digit = pos > 0 && is_digit(s[pos - 1]);
  if (is_digit(c)) return !prev_digit;
  return c == '.' && !prev_digit && pos + 1 < s.size() && is_digit(s[pos + 1]);
}

// First number in s[from, to).
std::optional<Token> first_number(std::string_view s, size_t from, size_t to) {
  for (size_t i = from; i < to && i < s.size(); ++i) {
    if (starts_number(s, i)) return read_number(s, i);
  }
  return std::nullopt;
}

// End of the number starting at `pos` (same grammar as read_number, no allocation).
size_t number_end(std::string_view s, size_t pos) {
  size_t i = pos;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i - pos >= 1 && i - pos <= 3) {
    while (i + 3 < s.size() && s[i] == ',' && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
           is_digit(s[i + 3]) && (i + 4 >= s.size() || !is_digit(s[i + 4]))) {
      i += 4;
    }
  }
  if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  return i;
}

// The last number of `s`: one pass that only records where numbers start.
std::optional<Token> last_number(std::string_view s) {
  std::optional<size_t> last_start;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (!is_digit(c) && c != '.') continue;
    if (starts_number(s, i)) {
      last_start = i;
      i = number_end(s, i) - 1;
    }
  }
  if (!last_start) return std::nullopt;
  return read_number(s, *last_start);
}

struct Marker {
  size_t end;  // where the answer text starts
  bool boxed;
  size_t boxed_close;  // for \boxed{...}: position of the closing brace
};

constexpr size_t kMarkerWindow = 300;  // bytes after a marker searched for its number

// The answer after marker `m`, if its line holds a number.
std::optional<Token> answer_after(std::string_view s, const Marker& m) {
  if (m.boxed) {
    std::string_view inner = s.substr(m.end, m.boxed_close - m.end);
    size_t eq = inner.rfind('=');
    size_t from = eq == std::string_view::npos ? 0 : eq + 1;
    auto t = first_number(inner, from, inner.size());
    if (t) {
      t->begin += m.end;
      t->end += m.end;
    }
    return t;
  }
  // Every search stays inside the window [m.end, stop), so many markers on one long line cost
  // O(window) each, never O(line).
  size_t stop = std::min(s.size(), m.end + kMarkerWindow);
  std::string_view window = s.substr(0, stop);
  size_t nl = window.find('\n', m.end);
  size_t line_end = nl == std::string_view::npos ? stop : nl;
  // Skip blank lines right after the marker ("Answer:\n\n42").
  if (line_end < stop && window.find_first_not_of(" \t\r*:", m.end) >= line_end) {
    size_t next = window.find_first_not_of(" \t\r\n", line_end);
    if (next == std::string_view::npos) return std::nullopt;  // only blanks left in the window
    size_t nl2 = window.find('\n', next);
    line_end = nl2 == std::string_view::npos ? stop : nl2;
  }
  return first_number(s, m.end, line_end);
}

}  // namespace

std::optional<std::string> extract_answer(std::string_view s) {
  std::vector<Marker> markers;
  size_t last_boxed = std::string_view::npos;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '#') {
      if (s.compare(i, 4, "####") == 0) {
        size_t e = i + 4;
        while (e < s.size() && s[e] == '#') ++e;
        markers.push_back({e, false, 0});
        i = e - 1;
      }
    } else if (c == 'a' || c == 'A') {
      if (iequals_at(s, i, "answer is")) {
        markers.push_back({i + 9, false, 0});
      } else if (iequals_at(s, i, "answer:")) {
        markers.push_back({i + 7, false, 0});
      }
    } else if (c == '\\' && s.compare(i, 7, "\\boxed{") == 0) {
      last_boxed = i;
    }
  }
  if (last_boxed != std::string_view::npos) {
    // Balanced braces, as last_boxed_only_string.
    if (auto boxed = math::last_boxed_only_string(s.substr(last_boxed))) {
      if (boxed->compare(0, 7, "\\boxed{") == 0) {
        Marker m{last_boxed + 7, true, last_boxed + boxed->size() - 1};
        // Keep markers ordered by position.
        auto it = markers.begin();
        while (it != markers.end() && it->end < m.end) ++it;
        markers.insert(it, m);
      }
    }
  }
  for (auto it = markers.rbegin(); it != markers.rend(); ++it) {
    if (auto t = answer_after(s, *it)) return t->canonical;
  }
  if (auto t = last_number(s)) return t->canonical;
  return std::nullopt;
}

std::optional<std::string> parse_ground_truth(std::string_view gt) {
  size_t hashes = gt.rfind("####");
  if (hashes != std::string_view::npos) gt = gt.substr(hashes + 4);
  // Drop $, commas, %, spaces; what is left must be exactly one number.
  std::string clean;
  for (char c : gt) {
    if (c != '$' && c != ',' && c != '%' && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      clean += c;
    }
  }
  if (clean.compare(0, 3, kUnicodeMinus) == 0) clean.replace(0, 3, "-");
  if (clean.empty()) return std::nullopt;
  size_t i = 0;
  bool negative = false;
  if (clean[0] == '-' || clean[0] == '+') {
    negative = clean[0] == '-';
    ++i;
  }
  size_t int_start = i;
  while (i < clean.size() && is_digit(clean[i])) ++i;
  std::string_view int_digits = std::string_view(clean).substr(int_start, i - int_start);
  std::string_view frac;
  if (i < clean.size() && clean[i] == '.') {
    size_t f = ++i;
    while (i < clean.size() && is_digit(clean[i])) ++i;
    frac = std::string_view(clean).substr(f, i - f);
  }
  if (i != clean.size() || (int_digits.empty() && frac.empty())) return std::nullopt;
  return canonical(negative, int_digits, frac);
}

}  // namespace gsm8k

VerifyResult Gsm8kVerifier::verify(const VerifyInput& input) const {
  VerifyResult r;
  // The final answer is at the end: <think> sections are decided over the whole response, then
  // the last max_input_bytes are read (so does a ground truth ending "#### 72").
  auto truth = gsm8k::parse_ground_truth(tail_input(input.ground_truth, options_.max_input_bytes));
  std::string text = strip_think_tail(input.response, options_.max_input_bytes);
  auto answer = gsm8k::extract_answer(text);
  if (!answer) {
    r.reason = "no number in the response";
    return r;
  }
  r.answer_found = true;
  if (!truth) {
    r.reason = "ground truth is not a number";
    return r;
  }
  if (*answer == *truth) {
    r.score = 1.0;
    r.reason = "correct";
  } else {
    r.reason = "wrong answer: " + answer->substr(0, 64) + " (expected " + truth->substr(0, 64) + ")";
  }
  return r;
}

}  // namespace rlvr::verifiers
