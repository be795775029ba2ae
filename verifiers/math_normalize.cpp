// MATH answer extraction and normalization: hand-written equivalents of the reference Python
// (string replaces and a handful of regexes), linear in the input. See math_normalize.h.
#include "verifiers/math_normalize.h"

#include <vector>

namespace rlvr::verifiers::math {
namespace {

// Replaces every non-overlapping occurrence of `from` (left to right), like str.replace.
void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty() || s.size() < from.size()) return;
  size_t pos = s.find(from);
  if (pos == std::string::npos) return;
  std::string out;
  out.reserve(s.size());
  size_t last = 0;
  while (pos != std::string::npos) {
    out.append(s, last, pos - last);
    out.append(to);
    last = pos + from.size();
    pos = s.find(from, last);
  }
  out.append(s, last, std::string::npos);
  s.swap(out);
}

// Python's str.split(sep) (sep non-empty).
std::vector<std::string_view> split(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, pos - start));
    start = pos + sep.size();
  }
}

// Bytes in the UTF-8 sequence starting with `lead` (1 for ASCII and for invalid bytes), so the
// regex ports below consume one code point where Python's `.` does.
size_t utf8_len(unsigned char lead) {
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  if (lead >= 0xE0) return lead <= 0xEF ? 3 : 1;
  if (lead >= 0xC2) return 2;
  return 1;
}

size_t char_len(std::string_view s, size_t pos) {
  size_t n = utf8_len(static_cast<unsigned char>(s[pos]));
  if (pos + n > s.size()) return 1;
  for (size_t i = 1; i < n; ++i) {
    if ((static_cast<unsigned char>(s[pos + i]) & 0xC0) != 0x80) return 1;
  }
  return n;
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i += char_len(s, i)) ++n;
  return n;
}

std::string_view trim(std::string_view s) {
  static constexpr std::string_view kSpace = " \t\n\r\f\v";
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

// Python: a = int(a); assert str(a) == original, i.e. an optional '-' then digits without a
// leading zero (and not "-0").
bool is_canonical_int(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_ascii_digit(c)) return false;
  }
  return s.size() == 1 || s[0] != '0';
}

// --- normalize_final_answer regex ports (each applied per line: `.` never matches '\n') ---

// re.sub(r"(.*?)(\$)(.*?)(\$)(.*)", "$\\3$", s)
std::string keep_first_dollar_pair(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t line_start = 0;
  while (line_start <= s.size()) {
    size_t nl = s.find('\n', line_start);
    size_t line_end = nl == std::string_view::npos ? s.size() : nl;
    std::string_view line = s.substr(line_start, line_end - line_start);
    size_t d1 = line.find('$');
    size_t d2 = d1 == std::string_view::npos ? d1 : line.find('$', d1 + 1);
    if (d2 != std::string_view::npos) {
      out += '$';
      out.append(line.substr(d1 + 1, d2 - d1 - 1));
      out += '$';
    } else {
      out.append(line);
    }
    if (nl == std::string_view::npos) break;
    out += '\n';
    line_start = nl + 1;
  }
  return out;
}

// re.sub(r"(<open>)(.*?)(\})", "\\2", s) for open = "\\text{", "\\textbf{", "\\overline{".
std::string unwrap_lazy(std::string_view s, std::string_view open) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    size_t o = s.find(open, pos);
    if (o == std::string_view::npos) break;
    size_t content = o + open.size();
    size_t close = content;
    while (close < s.size() && s[close] != '}' && s[close] != '\n') ++close;
    if (close < s.size() && s[close] == '}') {
      out.append(s.substr(pos, o - pos));
      out.append(s.substr(content, close - content));
      pos = close + 1;
    } else {
      out.append(s.substr(pos, o + 1 - pos));
      pos = o + 1;
    }
  }
  out.append(s.substr(std::min(pos, s.size())));
  return out;
}

// re.sub(r"(\\boxed\{)(.*)(\})", "\\2", s): greedy, so per line the first "\boxed{" up to the
// last '}' of that line.
std::string unwrap_boxed_greedy(std::string_view s) {
  static constexpr std::string_view kOpen = "\\boxed{";
  std::string out;
  out.reserve(s.size());
  size_t line_start = 0;
  while (line_start <= s.size()) {
    size_t nl = s.find('\n', line_start);
    size_t line_end = nl == std::string_view::npos ? s.size() : nl;
    std::string_view line = s.substr(line_start, line_end - line_start);
    size_t o = line.find(kOpen);
    size_t c = line.rfind('}');
    if (o != std::string_view::npos && c != std::string_view::npos && c >= o + kOpen.size()) {
      out.append(line.substr(0, o));
      out.append(line.substr(o + kOpen.size(), c - o - kOpen.size()));
      out.append(line.substr(c + 1));
    } else {
      out.append(line);
    }
    if (nl == std::string_view::npos) break;
    out += '\n';
    line_start = nl + 1;
  }
  return out;
}

// re.sub(r"(frac)([^{])(.)", "frac{\\2}{\\3}", s) when `two` is true, else
// re.sub(r"(sqrt)([^{])", "sqrt{\\2}", s).
std::string brace_shorthand(std::string_view s, std::string_view word, bool two) {
  std::string out;
  out.reserve(s.size() + 8);
  size_t pos = 0;
  while (pos < s.size()) {
    size_t w = s.find(word, pos);
    if (w == std::string_view::npos) break;
    size_t a = w + word.size();
    bool ok = a < s.size() && s[a] != '{';
    size_t alen = ok ? char_len(s, a) : 0;
    size_t b = a + alen;
    size_t blen = 0;
    if (ok && two) {
      ok = b < s.size() && s[b] != '\n';
      blen = ok ? char_len(s, b) : 0;
    }
    if (!ok) {
      out.append(s.substr(pos, w + 1 - pos));
      pos = w + 1;
      continue;
    }
    out.append(s.substr(pos, a - pos));
    out += '{';
    out.append(s.substr(a, alen));
    out += '}';
    if (two) {
      out += '{';
      out.append(s.substr(b, blen));
      out += '}';
    }
    pos = b + blen;
  }
  out.append(s.substr(std::min(pos, s.size())));
  return out;
}

// --- strip_string helpers (hendrycks/math) ---

std::optional<std::string> fix_fracs(const std::string& s) {
  auto parts = split(s, "\\frac");
  if (parts.size() == 1) return s;
  std::string out(parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string_view sub = parts[i];
    out += "\\frac";
    if (sub.empty()) return std::nullopt;  // substr[0] raises IndexError
    if (sub[0] == '{') {
      out.append(sub);
      continue;
    }
    // One code point each, as Python indexes a str.
    size_t alen = char_len(sub, 0);
    if (alen >= sub.size()) return s;  // fewer than 2 characters: input returned unchanged
    size_t blen = char_len(sub, alen);
    std::string_view a = sub.substr(0, alen), b = sub.substr(alen, blen);
    if (b != "{") {
      out += '{';
      out.append(a);
      out += "}{";
      out.append(b);
      out += '}';
    } else {
      out += '{';
      out.append(a);
      out += '}';
      out.append(b);
    }
    out.append(sub.substr(alen + blen));
  }
  return out;
}

std::optional<std::string> fix_sqrt(const std::string& s) {
  if (s.find("\\sqrt") == std::string::npos) return s;
  auto parts = split(s, "\\sqrt");
  std::string out(parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string_view sub = parts[i];
    if (sub.empty()) return std::nullopt;  // split[0] raises IndexError
    if (sub[0] != '{') {
      size_t alen = char_len(sub, 0);
      out += "\\sqrt{";
      out.append(sub.substr(0, alen));
      out += '}';
      out.append(sub.substr(alen));
    } else {
      out += "\\sqrt";
      out.append(sub);
    }
  }
  return out;
}

std::string fix_a_slash_b(const std::string& s) {
  auto parts = split(s, "/");
  if (parts.size() != 2) return s;
  if (!is_canonical_int(parts[0]) || !is_canonical_int(parts[1])) return s;
  std::string out = "\\frac{";
  out.append(parts[0]);
  out += "}{";
  out.append(parts[1]);
  out += '}';
  return out;
}

}  // namespace

std::optional<std::string> last_boxed_only_string(std::string_view text) {
  static constexpr std::string_view kBoxedSpace = "\\boxed ";
  size_t idx = text.rfind("\\boxed");
  size_t sp = text.rfind(kBoxedSpace);
  if (sp != std::string_view::npos) {
    std::string_view rest = text.substr(sp + kBoxedSpace.size());
    size_t dollar = rest.find('$');
    std::string out(kBoxedSpace);
    out.append(rest.substr(0, dollar));
    return out;
  }
  if (idx == std::string_view::npos) {
    idx = text.rfind("\\fbox");
    if (idx == std::string_view::npos) return std::nullopt;
  }
  long open = 0;
  for (size_t i = idx; i < text.size(); ++i) {
    if (text[i] == '{') ++open;
    if (text[i] == '}') {
      --open;
      if (open == 0) return std::string(text.substr(idx, i + 1 - idx));
    }
  }
  return std::nullopt;
}

std::optional<std::string> remove_boxed(std::string_view boxed) {
  static constexpr std::string_view kSpace = "\\boxed ", kBoxed = "\\boxed{", kFbox = "\\fbox{";
  if (boxed.find(kSpace) != std::string_view::npos) {
    if (boxed.substr(0, kSpace.size()) != kSpace) return std::nullopt;
    return std::string(boxed.substr(kSpace.size()));
  }
  for (std::string_view open : {kBoxed, kFbox}) {
    if (boxed.size() >= open.size() + 1 && boxed.substr(0, open.size()) == open &&
        boxed.back() == '}') {
      return std::string(boxed.substr(open.size(), boxed.size() - open.size() - 1));
    }
  }
  return std::nullopt;
}

std::optional<std::string> minerva_answer(std::string_view text_in) {
  // re.search(r"Final Answer: The final answer is(.*?). I hope it is correct.",
  //           text + "I hope it is correct.")
  static constexpr std::string_view kPrefix = "Final Answer: The final answer is";
  static constexpr std::string_view kSuffix = " I hope it is correct";
  if (text_in.find(kPrefix) == std::string_view::npos) return std::nullopt;
  std::string text(text_in);
  text += "I hope it is correct.";
  std::string_view t = text;
  size_t suffix_at = 0;  // cached: first kSuffix at or after some position (monotonic search)
  bool suffix_cached = false;
  for (size_t p = t.find(kPrefix); p != std::string_view::npos; p = t.find(kPrefix, p + 1)) {
    size_t start = p + kPrefix.size();
    size_t nl = t.find('\n', start);
    size_t line_end = nl == std::string_view::npos ? t.size() : nl;
    // (.*?) then one any-char, so the suffix begins at start + 1 or later.
    if (!suffix_cached || (suffix_at != std::string_view::npos && suffix_at < start + 1)) {
      suffix_at = t.find(kSuffix, start + 1);
      suffix_cached = true;
    }
    if (suffix_at == std::string_view::npos) return std::nullopt;
    // The suffix, then one more char (the final `.`), all before the end of the line.
    if (suffix_at + kSuffix.size() < line_end) {
      // The `.` before the suffix is one code point: back up to its first byte.
      size_t dot = suffix_at - 1;
      while (dot > start && (static_cast<unsigned char>(t[dot]) & 0xC0) == 0x80) --dot;
      return std::string(trim(t.substr(start, dot - start)));
    }
  }
  return std::nullopt;
}

std::string normalize_final_answer(std::string_view answer) {
  size_t eq = answer.rfind('=');
  std::string s(eq == std::string_view::npos ? answer : answer.substr(eq + 1));
  static const std::pair<std::string_view, std::string_view> kSubstitutions[] = {
      {"an ", ""},          {"a ", ""},          {".$", "$"},      {"\\$", ""},
      {"\\ ", ""},          {" ", ""},           {"mbox", "text"}, {",\\text{and}", ","},
      {"\\text{and}", ","}, {"\\text{m}", "\\text{}"},
  };
  for (const auto& [from, to] : kSubstitutions) replace_all(s, from, to);
  static const std::string_view kRemoved[] = {
      "square",    "ways",       "integers",   "dollars",   "mph",        "inches",
      "ft",        "hours",      "km",         "units",     "\\ldots",    "sue",
      "points",    "feet",       "minutes",    "digits",    "cents",      "degrees",
      "cm",        "gm",         "pounds",     "meters",    "meals",      "edges",
      "students",  "childrentickets", "multiples", "\\text{s}", "\\text{.}", "\\text{\ns}",
      "\\text{}^2", "\\text{}^3", "\\text{\n}", "\\text{}",  "\\mathrm{th}", "^\\circ",
      "^{\\circ}", "\\;",        ",\\!",       "{,}",       "\"",         "\\dots",
  };
  for (std::string_view r : kRemoved) replace_all(s, r, "");
  s = keep_first_dollar_pair(s);
  s = unwrap_lazy(s, "\\text{");
  s = unwrap_lazy(s, "\\textbf{");
  s = unwrap_lazy(s, "\\overline{");
  s = unwrap_boxed_greedy(s);
  s = brace_shorthand(s, "frac", /*two=*/true);
  s = brace_shorthand(s, "sqrt", /*two=*/false);
  replace_all(s, "$", "");
  bool digits = false, only = true;
  for (char c : s) {
    if (is_ascii_digit(c)) {
      digits = true;
    } else if (c != ',') {
      only = false;
      break;
    }
  }
  if (digits && only) replace_all(s, ",", "");
  return s;
}

std::optional<std::string> strip_string(std::string_view in) {
  std::string s(in);
  replace_all(s, "\n", "");
  replace_all(s, "\\!", "");
  replace_all(s, "\\\\", "\\");
  replace_all(s, "tfrac", "frac");
  replace_all(s, "dfrac", "frac");
  replace_all(s, "\\left", "");
  replace_all(s, "\\right", "");
  replace_all(s, "^{\\circ}", "");
  replace_all(s, "^\\circ", "");
  replace_all(s, "\\$", "");
  // remove_right_units: "\text{ " only ever describes units; the reference asserts one split.
  if (size_t u = s.find("\\text{ "); u != std::string::npos) {
    if (s.find("\\text{ ", u + 1) != std::string::npos) return std::nullopt;
    s.resize(u);
  }
  replace_all(s, "\\%", "");
  replace_all(s, "%", "");
  replace_all(s, " .", " 0.");
  replace_all(s, "{.", "{0.");
  if (s.empty()) return s;
  if (s[0] == '.') s.insert(s.begin(), '0');
  if (size_t e = s.find('='); e != std::string::npos && s.find('=', e + 1) == std::string::npos &&
                              code_points(std::string_view(s).substr(0, e)) <= 2) {
    s.erase(0, e + 1);
  }
  auto sq = fix_sqrt(s);
  if (!sq) return std::nullopt;
  s = std::move(*sq);
  replace_all(s, " ", "");
  auto fr = fix_fracs(s);
  if (!fr) return std::nullopt;
  s = std::move(*fr);
  if (s == "0.5") s = "\\frac{1}{2}";
  return fix_a_slash_b(s);
}

bool hendrycks_is_equiv(std::string_view a, std::string_view b) {
  auto sa = strip_string(a);
  auto sb = strip_string(b);
  if (!sa || !sb) return a == b;
  return *sa == *sb;
}

}  // namespace rlvr::verifiers::math
