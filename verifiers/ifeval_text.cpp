// Text primitives for the IFEval checkers: Unicode classes, str methods, word counting, the
// Punkt sentence splitter, nltk.word_tokenize, json.loads acceptance and language id (CLD2).
#include "verifiers/ifeval_text.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <unordered_set>

#include <cld2/public/compact_lang_det.h>

#include "verifiers/ifeval_regex.h"
#include "core/tokenizer/unicode.h"

namespace rlvr::verifiers::ifeval {

// --- UTF-8 -----------------------------------------------------------------------------------

namespace {

// Length of the valid UTF-8 sequence at `i`, or 0 when it is invalid.
size_t valid_seq_len(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = s.size() - i;
  if (c >= 0xC2 && c <= 0xDF) return (n >= 2 && (b(i + 1) & 0xC0) == 0x80) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3 || (b(i + 1) & 0xC0) != 0x80 || (b(i + 2) & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4 || (b(i + 1) & 0xC0) != 0x80 || (b(i + 2) & 0xC0) != 0x80 || (b(i + 3) & 0xC0) != 0x80)
      return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(i + 1) >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}


// Start of the code point that ends just before byte `end` (valid UTF-8).
size_t prev_start(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

}  // namespace

std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && static_cast<unsigned char>(text[j]) < 0x80) ++j;
    if (j > i) {
      out.append(text.substr(i, j - i));
      i = j;
      continue;
    }
    size_t n = valid_seq_len(text, i);
    if (n == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

char32_t decode_at(std::string_view s, size_t i, size_t* len) {
  const auto b = [&](size_t k) -> char32_t { return static_cast<unsigned char>(s[k]); };
  char32_t c = b(i);
  if (c < 0x80 || i + 1 >= s.size()) {
    *len = 1;
    return c;
  }
  if (c < 0xE0) {
    *len = 2;
    return ((c & 0x1F) << 6) | (b(i + 1) & 0x3F);
  }
  if (c < 0xF0 && i + 2 < s.size()) {
    *len = 3;
    return ((c & 0x0F) << 12) | ((b(i + 1) & 0x3F) << 6) | (b(i + 2) & 0x3F);
  }
  if (i + 3 < s.size()) {
    *len = 4;
    return ((c & 0x07) << 18) | ((b(i + 1) & 0x3F) << 12) | ((b(i + 2) & 0x3F) << 6) | (b(i + 3) & 0x3F);
  }
  *len = 1;
  return c;
}

size_t count_code_points(std::string_view text) {
  size_t n = 0;
  for (char ch : text) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

// --- Character classes -------------------------------------------------------------------------

bool is_space(char32_t c) {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_digit(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  if ((c >= 0x660 && c <= 0x669) || (c >= 0x6F0 && c <= 0x6F9) || (c >= 0xFF10 && c <= 0xFF19)) return true;
  if (c >= 0x900 && c <= 0xDFF) return (c & 0x7F) >= 0x66 && (c & 0x7F) <= 0x6F;
  if ((c >= 0xE50 && c <= 0xE59) || (c >= 0xED0 && c <= 0xED9)) return true;
  return false;
}

bool is_word(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  if (c < 0xC0) {
    return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA ||
           (c >= 0xBC && c <= 0xBE);
  }
  if (c < 0x300) {
    if (c == 0xD7 || c == 0xF7) return false;
    if ((c >= 0x2C2 && c <= 0x2C5) || (c >= 0x2D2 && c <= 0x2DF) || (c >= 0x2E5 && c <= 0x2EB) ||
        c == 0x2ED || c >= 0x2EF)
      return false;
    return true;
  }
  if (c < 0x370) return false;  // combining diacritics
  if (c < 0x400) return !(c == 0x375 || c == 0x37E || c == 0x384 || c == 0x385 || c == 0x387 || c == 0x3F6);
  if (c < 0x530) return !(c >= 0x482 && c <= 0x489);
  if (c >= 0x591 && c <= 0x5C7) return false;  // Hebrew points and punctuation
  if (c == 0x5F3 || c == 0x5F4) return false;
  if (c >= 0x600 && c <= 0x6FF) {
    if (c <= 0x61F) return false;  // Arabic signs, punctuation, marks
    if ((c >= 0x64B && c <= 0x65F) || c == 0x670 || (c >= 0x66A && c <= 0x66D) || c == 0x6D4 ||
        (c >= 0x6D6 && c <= 0x6ED && c != 0x6E5 && c != 0x6E6))
      return false;
    return true;
  }
  if (c >= 0x900 && c <= 0xDFF) {  // Indic blocks share a layout
    unsigned o = c & 0x7F;
    if (o <= 0x03 || (o >= 0x3A && o <= 0x4F && o != 0x3D) || (o >= 0x51 && o <= 0x57) ||
        (o >= 0x62 && o <= 0x65) || c == 0x970)
      return false;
    return true;
  }
  if (c >= 0xE00 && c <= 0xE7F) {
    return !(c == 0xE31 || (c >= 0xE34 && c <= 0xE3A) || c == 0xE3F || (c >= 0xE47 && c <= 0xE4F) ||
             c == 0xE5A || c == 0xE5B);
  }
  if (c >= 0x1AB0 && c <= 0x1AFF) return false;  // combining extended
  if (c >= 0x1DC0 && c <= 0x1DFF) return false;  // combining supplement
  if (c >= 0x2000 && c <= 0x2BFF) {
    if (c == 0x2071 || c == 0x207F || (c >= 0x2070 && c <= 0x2079 && c != 0x2072 && c != 0x2073) ||
        (c >= 0x2080 && c <= 0x2089) || (c >= 0x2090 && c <= 0x209C))
      return true;
    if (c >= 0x2100 && c <= 0x214F) {
      return c == 0x2102 || c == 0x2107 || (c >= 0x210A && c <= 0x2113) || c == 0x2115 ||
             (c >= 0x2119 && c <= 0x211D) || c == 0x2124 || c == 0x2126 || c == 0x2128 ||
             (c >= 0x212A && c <= 0x212D) || (c >= 0x212F && c <= 0x2139) || (c >= 0x213C && c <= 0x213F) ||
             (c >= 0x2145 && c <= 0x2149) || c == 0x214E;
    }
    if (c >= 0x2150 && c <= 0x2189) return true;   // number forms
    if (c >= 0x2460 && c <= 0x249B) return true;   // circled / parenthesized numbers
    if (c >= 0x24EA && c <= 0x24FF) return true;
    if (c >= 0x2776 && c <= 0x2793) return true;   // dingbat digits
    return false;
  }
  if (c >= 0x2DE0 && c <= 0x2E7F) return false;  // Cyrillic ext marks, supplemental punctuation
  if (c >= 0x3000 && c <= 0x303F) {
    return (c >= 0x3005 && c <= 0x3007) || (c >= 0x3021 && c <= 0x3029) || (c >= 0x3031 && c <= 0x3035) ||
           (c >= 0x3038 && c <= 0x303C);
  }
  if (c >= 0x3099 && c <= 0x309C) return false;
  if (c == 0x30A0 || c == 0x30FB) return false;
  if (c >= 0xD800 && c <= 0xF8FF) return false;  // surrogates, private use
  if (c >= 0xFE00 && c <= 0xFE6F) return false;  // variation selectors, presentation punctuation
  if (c >= 0xFF00 && c <= 0xFFEF) {
    return (c >= 0xFF10 && c <= 0xFF19) || (c >= 0xFF21 && c <= 0xFF3A) || (c >= 0xFF41 && c <= 0xFF5A) ||
           (c >= 0xFF66 && c <= 0xFFDC);
  }
  if (c >= 0xFFF0 && c <= 0xFFFF) return false;   // specials (U+FFFD included)
  if (c >= 0x1F000 && c <= 0x1FBFF) return c >= 0x1F100 && c <= 0x1F10C;  // emoji, symbols
  if (c >= 0xE0000) return false;
  return true;
}

namespace {

// Simple case mapping over the covered blocks: returns the lowercase of an uppercase letter,
// the code point itself for lowercase letters, and 0 for uncased code points. `*upper` says
// whether `c` is uppercase.
char32_t case_info(char32_t c, bool* upper, bool* cased) {
  *upper = false;
  *cased = false;
  auto up = [&](char32_t lower) { *upper = true; *cased = true; return lower; };
  auto low = [&]() { *cased = true; return c; };
  if (c < 0x80) {
    if (c >= 'A' && c <= 'Z') return up(c + 32);
    if (c >= 'a' && c <= 'z') return low();
    return c;
  }
  if (c == 0xB5 || c == 0xAA || c == 0xBA) return low();
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return up(c + 32);
  if (c >= 0xDF && c <= 0xFF && c != 0xF7) return low();
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x130) return up('i');  // İ lowers to "i̇"; handled in py_lower
    if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return low();
    if (c == 0x178) return up(0xFF);
    bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    bool is_up = odd_upper ? (c & 1) : !(c & 1);
    return is_up ? up(c + 1) : low();
  }
  if (c >= 0x386 && c <= 0x3CE) {
    if (c == 0x386) return up(0x3AC);
    if (c >= 0x388 && c <= 0x38A) return up(c + 0x25);
    if (c == 0x38C) return up(0x3CC);
    if (c == 0x38E || c == 0x38F) return up(c + 0x3F);
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return up(c + 0x20);
    if (c >= 0x3AC) return low();
    if (c == 0x390) return low();
    return c;
  }
  if (c >= 0x400 && c <= 0x52F) {
    if (c <= 0x40F) return up(c + 0x50);
    if (c <= 0x42F) return up(c + 0x20);
    if (c <= 0x45F) return low();
    if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F))
      return (c & 1) ? low() : up(c + 1);
    if (c == 0x4C0) return up(0x4CF);
    if (c >= 0x4C1 && c <= 0x4CE) return (c & 1) ? up(c + 1) : low();
    if (c == 0x4CF) return low();
    return c;
  }
  if (c >= 0x531 && c <= 0x556) return up(c + 0x30);
  if (c >= 0x561 && c <= 0x587) return low();
  if (c >= 0x1E00 && c <= 0x1EFF) {
    if (c >= 0x1E96 && c <= 0x1E9D) return low();
    if (c == 0x1E9E) return up(0xDF);
    if (c == 0x1E9F) return low();
    return (c & 1) ? low() : up(c + 1);
  }
  if (c == 0x212A) return up('k');
  if (c == 0x212B) return up(0xE5);
  if (c >= 0xFF21 && c <= 0xFF3A) return up(c + 0x20);
  if (c >= 0xFF41 && c <= 0xFF5A) return low();
  return c;
}

}  // namespace

bool is_upper(char32_t c) {
  bool upper, cased;
  case_info(c, &upper, &cased);
  return cased && upper;
}

bool is_lower(char32_t c) {
  bool upper, cased;
  case_info(c, &upper, &cased);
  return cased && !upper;
}

// --- str methods -------------------------------------------------------------------------------

std::string_view py_strip(std::string_view s) {
  size_t i = 0, len = 0;
  while (i < s.size() && is_space(decode_at(s, i, &len))) i += len;
  return py_rstrip(s.substr(i));
}

std::string_view py_rstrip(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = prev_start(s, end);
    size_t len = 0;
    if (!is_space(decode_at(s, start, &len))) break;
    end = start;
  }
  return s.substr(0, end);
}

std::string_view py_strip_chars(std::string_view s, std::string_view chars) {
  size_t b = 0, e = s.size();
  while (b < e && chars.find(s[b]) != std::string_view::npos) ++b;
  while (e > b && chars.find(s[e - 1]) != std::string_view::npos) --e;
  return s.substr(b, e - b);
}

std::string py_lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out.push_back((b >= 'A' && b <= 'Z') ? static_cast<char>(b + 32) : static_cast<char>(b));
      ++i;
      continue;
    }
    size_t len = 0;
    char32_t c = decode_at(s, i, &len);
    bool upper, cased;
    char32_t l = case_info(c, &upper, &cased);
    if (c == 0x130) {
      out.append("i\xCC\x87");
    } else if (upper) {
      core::unicode::append_utf8(&out, static_cast<uint32_t>(l));
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  return out;
}

namespace {
bool py_case_check(std::string_view s, bool want_upper) {
  bool any_cased = false;
  size_t i = 0, len = 0;
  while (i < s.size()) {
    char32_t c = decode_at(s, i, &len);
    i += len;
    bool upper, cased;
    case_info(c, &upper, &cased);
    if (!cased) continue;
    if (upper != want_upper) return false;
    any_cased = true;
  }
  return any_cased;
}
}  // namespace

bool py_isupper(std::string_view s) { return py_case_check(s, true); }
bool py_islower(std::string_view s) { return py_case_check(s, false); }

std::vector<std::string_view> py_split_whitespace(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0, len = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(decode_at(s, i, &len))) i += len;
    if (i >= s.size()) break;
    size_t start = i;
    while (i < s.size() && !is_space(decode_at(s, i, &len))) i += len;
    out.push_back(s.substr(start, i - start));
  }
  return out;
}

// --- Word count --------------------------------------------------------------------------------

size_t count_words(std::string_view text) {
  size_t n = 0, i = 0, len = 0;
  bool in_word = false;
  while (i < text.size()) {
    unsigned char b = static_cast<unsigned char>(text[i]);
    bool w;
    if (b < 0x80) {
      w = (b >= '0' && b <= '9') || ((b | 0x20) >= 'a' && (b | 0x20) <= 'z') || b == '_';
      len = 1;
    } else {
      w = is_word(decode_at(text, i, &len));
    }
    if (w && !in_word) ++n;
    in_word = w;
    i += len;
  }
  return n;
}

// --- Punkt -------------------------------------------------------------------------------------
//
// A port of nltk.tokenize.punkt.PunktSentenceTokenizer.tokenize (nltk 3.8): candidate contexts
// from the period-context regex, Punkt's word tokenizer, the first-pass (type-based) and
// second-pass (token-based) annotation, slice building and boundary realignment. The model
// parameters are built in: an abbreviation list (below); no collocations, sentence starters or
// orthographic statistics (nltk's english.pickle is not available as a Debian package).

namespace {

// Abbreviation types (lowercase, without the final period), as Punkt's abbrev_types.
const std::unordered_set<std::string_view>& abbrev_types() {
  static const std::unordered_set<std::string_view> kAbbrevs = {
      "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "inc", "co", "corp", "ltd", "llc", "vs",
      "e.g", "i.e", "u.s", "u.k", "u.n", "a.m", "p.m", "no", "nos", "gen", "gov", "sen", "rep",
      "rev", "lt", "col", "capt", "sgt", "cmdr", "adm", "maj", "mt", "ft", "fig", "figs", "dept",
      "univ", "assn", "bros", "approx", "est", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
      "sep", "sept", "oct", "nov", "dec", "mon", "tue", "tues", "wed", "thu", "thurs", "fri",
      "sat", "sun", "ave", "blvd", "rd", "calif", "mass", "conn", "ill", "mich", "penn", "wash",
      "n.y", "d.c", "l.a", "u.s.a", "ph.d", "m.d", "b.a", "m.a", "vol", "vols", "ed", "eds",
      "pp", "cf", "al", "viz", "ca", "op", "cit", "ibid"};
  return kAbbrevs;
}

bool in_set(char32_t c, std::u32string_view set) { return set.find(c) != std::u32string_view::npos; }

constexpr std::u32string_view kNonWord = U")\";}]*:@'({[?!";       // _re_non_word_chars
constexpr std::u32string_view kNotWordStart = U"(\"`{[:;&#*@)}]-,";  // excluded by _re_word_start

// Length of a MultiChar match (-{2,} | \.{2,} | (?:\.\s){2,}\.) at `i`, or 0.
size_t multichar_at(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  if (s[i] == '-') {
    size_t j = i;
    while (j < s.size() && s[j] == '-') ++j;
    return j - i >= 2 ? j - i : 0;
  }
  if (s[i] != '.') return 0;
  size_t j = i;
  while (j < s.size() && s[j] == '.') ++j;
  if (j - i >= 2) return j - i;
  // (?:\.\s){2,}\.
  std::vector<size_t> pair_ends;
  j = i;
  while (j < s.size() && s[j] == '.' && j + 1 < s.size()) {
    size_t len = 0;
    if (!is_space(decode_at(s, j + 1, &len))) break;
    j += 1 + len;
    pair_ends.push_back(j);
  }
  for (size_t k = pair_ends.size(); k >= 2; --k) {
    size_t e = pair_ends[k - 1];
    if (e < s.size() && s[e] == '.') return e + 1 - i;
  }
  return 0;
}

// Punkt's word tokenizer (PunktLanguageVars.word_tokenize) on one line (no '\n').
void punkt_word_tokenize(std::string_view line, std::vector<std::string_view>* out) {
  size_t p = 0, len = 0;
  while (p < line.size()) {
    if (size_t m = multichar_at(line, p)) {
      out->push_back(line.substr(p, m));
      p += m;
      continue;
    }
    char32_t c = decode_at(line, p, &len);
    if (is_space(c)) {
      p += len;
      continue;
    }
    if (!in_set(c, kNotWordStart)) {
      // \S+? up to the first word end.
      size_t e = p + len;
      while (true) {
        if (e >= line.size()) break;
        size_t l2 = 0;
        char32_t d = decode_at(line, e, &l2);
        if (is_space(d) || in_set(d, kNonWord) || multichar_at(line, e)) break;
        if (d == ',') {
          size_t f = e + 1;
          if (f >= line.size()) break;
          size_t l3 = 0;
          char32_t g = decode_at(line, f, &l3);
          if (is_space(g) || in_set(g, kNonWord) || multichar_at(line, f)) break;
        }
        e += l2;
      }
      out->push_back(line.substr(p, e - p));
      p = e;
      continue;
    }
    out->push_back(line.substr(p, len));
    p += len;
  }
}

struct PunktToken {
  std::string_view tok;
  std::string type;
  bool period_final = false;
  bool sentbreak = false;
  bool abbr = false;
  bool ellipsis = false;
};

// _RE_NUMERIC: ^-?[\.,]?\d[\d,\.-]*\.?$
bool is_numeric_token(std::string_view t) {
  size_t i = 0, len = 0;
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && (t[i] == '.' || t[i] == ',')) ++i;
  if (i >= t.size() || !is_digit(decode_at(t, i, &len))) return false;
  i += len;
  while (i < t.size()) {
    char32_t c = decode_at(t, i, &len);
    if (!(is_digit(c) || c == ',' || c == '.' || c == '-')) return false;
    i += len;
  }
  return true;  // the trailing \.? is covered by [\d,\.-]*
}

PunktToken make_token(std::string_view tok) {
  PunktToken t;
  t.tok = tok;
  t.type = is_numeric_token(tok) ? std::string("##number##") : py_lower(tok);
  t.period_final = !tok.empty() && tok.back() == '.';
  return t;
}

std::string_view type_no_period(const PunktToken& t) {
  std::string_view ty = t.type;
  if (ty.size() > 1 && ty.back() == '.') ty.remove_suffix(1);
  return ty;
}

bool is_initial(std::string_view tok) {  // [^\W\d]\.$
  if (tok.empty()) return false;
  size_t len = 0;
  char32_t c = decode_at(tok, 0, &len);
  return tok.size() == len + 1 && tok[len] == '.' && is_word(c) && !is_digit(c);
}

bool is_ellipsis_token(std::string_view tok) {  // \.\.+$
  return tok.size() >= 2 && tok.find_first_not_of('.') == std::string_view::npos;
}

void first_pass(PunktToken& t) {
  std::string_view tok = t.tok;
  if (tok == "." || tok == "?" || tok == "!") {
    t.sentbreak = true;
  } else if (is_ellipsis_token(tok)) {
    t.ellipsis = true;
  } else if (t.period_final && !(tok.size() >= 2 && tok.substr(tok.size() - 2) == "..")) {
    std::string low = py_lower(tok.substr(0, tok.size() - 1));
    std::string_view last = low;
    if (size_t dash = last.rfind('-'); dash != std::string_view::npos) last = last.substr(dash + 1);
    if (abbrev_types().count(low) || abbrev_types().count(last)) {
      t.abbr = true;
    } else {
      t.sentbreak = true;
    }
  }
}

enum class Ortho { kFalse, kUnknown };

// _ortho_heuristic with empty orthographic statistics.
Ortho ortho_heuristic(const PunktToken& t) {
  std::string_view tok = t.tok;
  if (tok == ";" || tok == ":" || tok == "," || tok == "." || tok == "!" || tok == "?") return Ortho::kFalse;
  size_t len = 0;
  char32_t c = decode_at(tok, 0, &len);
  if (is_lower(c)) return Ortho::kFalse;
  return Ortho::kUnknown;
}

void second_pass(PunktToken& t1, const PunktToken& t2) {
  if (!t1.period_final) return;
  std::string_view typ = type_no_period(t1);
  bool initial = is_initial(t1.tok);
  // Collocations, sentence starters and the orthographic "is a starter" case need trained
  // statistics; with none, abbreviations and ellipses stay non-breaks.
  if (initial || typ == "##number##") {
    Ortho o = ortho_heuristic(t2);
    if (o == Ortho::kFalse) {
      t1.sentbreak = false;
      t1.abbr = true;
      return;
    }
    size_t len = 0;
    if (initial && is_upper(decode_at(t2.tok, 0, &len))) {
      t1.sentbreak = false;
      t1.abbr = true;
    }
  }
}

// PunktSentenceTokenizer.text_contains_sentbreak.
bool text_contains_sentbreak(std::string_view text) {
  std::vector<std::string_view> words;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (!py_strip(line).empty()) punkt_word_tokenize(line, &words);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  std::vector<PunktToken> toks;
  toks.reserve(words.size());
  for (auto w : words) {
    toks.push_back(make_token(w));
    first_pass(toks.back());
  }
  for (size_t i = 0; i + 1 < toks.size(); ++i) {
    second_pass(toks[i], toks[i + 1]);
    if (toks[i].sentbreak) return true;  // a break followed by another token
  }
  return false;
}

struct EndMatch {
  size_t start;         // the . ? or !
  size_t after_end;     // end of the after_tok group
  size_t next_tok = 0;  // start of next_tok, when present
  bool has_next_tok = false;
};

// period_context_re().finditer(text).
std::vector<EndMatch> period_contexts(std::string_view text) {
  std::vector<EndMatch> out;
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (ch != '.' && ch != '?' && ch != '!') continue;
    size_t a = i + 1;
    if (a >= text.size()) continue;
    size_t len = 0;
    char32_t c = decode_at(text, a, &len);
    if (in_set(c, kNonWord)) {
      out.push_back({i, a + len});
      continue;
    }
    if (!is_space(c)) continue;
    size_t j = a;
    while (j < text.size() && is_space(decode_at(text, j, &len))) j += len;
    if (j >= text.size()) continue;
    size_t k = j;
    while (k < text.size() && !is_space(decode_at(text, k, &len))) k += len;
    EndMatch m{i, k, j, true};
    out.push_back(m);
  }
  return out;
}

// _get_last_whitespace_index over text[begin, end): byte offset relative to begin of the last
// whitespace character and its length; {0, 0} when none (as Python, index 0 also reads as none).
std::pair<size_t, size_t> last_whitespace(std::string_view text, size_t begin, size_t end) {
  size_t e = end;
  while (e > begin) {
    size_t s = prev_start(text, e);
    if (s < begin) break;
    size_t len = 0;
    if (is_space(decode_at(text, s, &len))) return {s - begin, len};
    e = s;
  }
  return {0, 0};
}

// _realign_boundaries' regex ["\')\]}]+?(?:\s+|(?=--)|$) (MULTILINE) anchored at the start of
// text[b, e). Returns {matched, match length, length without trailing whitespace}.
struct Realign {
  bool matched = false;
  size_t length = 0;
  size_t stripped = 0;
};
Realign realign_match(std::string_view text, size_t b, size_t e) {
  auto closing = [](char c) { return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}'; };
  Realign r;
  size_t j = b;
  while (j < e && closing(text[j])) {
    ++j;
    size_t len = 0;
    if (j < e && is_space(decode_at(text, j, &len))) {
      size_t k = j;
      while (k < e && is_space(decode_at(text, k, &len))) k += len;
      if (k > e) k = e;
      return {true, k - b, j - b};
    }
    if (j + 1 < e && text[j] == '-' && text[j + 1] == '-') return {true, j - b, j - b};
    if (j == e || text[j] == '\n') return {true, j - b, j - b};
  }
  return r;
}

}  // namespace

std::vector<std::pair<size_t, size_t>> punkt_sentence_spans(std::string_view text) {
  // _slices_from_text over _match_potential_end_contexts.
  std::vector<std::pair<size_t, size_t>> slices;
  std::vector<EndMatch> matches = period_contexts(text);
  size_t last_break = 0;
  auto consider = [&](const EndMatch& m, size_t ctx_begin, size_t ctx_end) {
    // context = text[previous_slice] + match.group() + after_tok: contiguous in `text`.
    (void)ctx_end;
    std::string_view context = text.substr(ctx_begin, m.after_end - ctx_begin);
    if (text_contains_sentbreak(context)) {
      slices.push_back({last_break, m.start + 1});
      last_break = m.has_next_tok ? m.next_tok : m.start + 1;
    }
  };
  size_t prev_start_ = 0, prev_stop = 0;
  const EndMatch* prev_match = nullptr;
  for (const EndMatch& m : matches) {
    auto [ws, ws_len] = last_whitespace(text, prev_stop, m.start);
    size_t word_start = ws ? prev_stop + ws + ws_len : prev_start_;
    if (prev_match && prev_stop <= word_start) consider(*prev_match, prev_start_, prev_stop);
    prev_match = &m;
    prev_start_ = word_start;
    prev_stop = m.start;
  }
  if (prev_match) consider(*prev_match, prev_start_, prev_stop);
  slices.push_back({last_break, py_rstrip(text).size()});

  // _realign_boundaries.
  std::vector<std::pair<size_t, size_t>> out;
  size_t realign = 0;
  for (size_t k = 0; k < slices.size(); ++k) {
    size_t s1b = slices[k].first + realign, s1e = slices[k].second;
    if (k + 1 == slices.size()) {
      if (s1b < s1e) out.push_back({s1b, s1e});
      continue;
    }
    auto [s2b, s2e] = slices[k + 1];
    Realign m = s2b < s2e ? realign_match(text, s2b, s2e) : Realign{};
    if (m.matched) {
      out.push_back({s1b, s2b + m.stripped});
      realign = m.length;
    } else {
      realign = 0;
      if (s1b < s1e) out.push_back({s1b, s1e});
    }
  }
  return out;
}

size_t count_sentences(std::string_view text) { return punkt_sentence_spans(text).size(); }

// --- nltk.word_tokenize --------------------------------------------------------------------------

namespace {

struct Rule {
  const char* pattern;
  const char* replacement;
  const char* trigger;  // the rule can only match text containing one of these (UTF-8) strings,
                        // separated by '|'; a cheap prefilter, never changes the result
};

// NLTKWordTokenizer's substitutions (nltk 3.8 destructive.py), in order, in PCRE2 syntax.
constexpr Rule kStartingQuotes[] = {
    {"([«“‘„]|[`]+)", " $1 ", "«|“|‘|„|`"},
    {"^\"", "``", "\""},
    {"(``)", " $1 ", "``"},
    {"([ \\(\\[{<])(\"|'{2})", "$1 `` ", "\"|''"},
    {"(?i)(')(?!re|ve|ll|m|t|s|d|n)(\\w)\\b", "$1 $2", "'"},
};
constexpr Rule kPunctuation[] = {
    {"([^\\.])(\\.)([\\]\\)}>\"'»”’ ]*)\\s*$", "$1 $2 $3 ", "."},
    {"([:,])([^\\d])", " $1 $2", ":|,"},
    {"([:,])$", " $1 ", ":|,"},
    {"\\.{2,}", " $0 ", ".."},
    {"[;@#$%&]", " $0 ", ";|@|#|$|%|&"},
    {"([^\\.])(\\.)([\\]\\)}>\"']*)\\s*$", "$1 $2$3 ", "."},
    {"[?!]", " $0 ", "?|!"},
    {"([^'])' ", "$1 ' ", "' "},
    {"[*]", " $0 ", "*"},
};
constexpr Rule kParensBrackets = {"[\\]\\[\\(\\)\\{\\}\\<\\>]", " $0 ", "]|[|(|)|{|}|<|>"};
constexpr Rule kDoubleDashes = {"--", " -- ", "--"};
constexpr Rule kEndingQuotes[] = {
    {"([»”’])", " $1 ", "»|”|’"},
    {"''", " '' ", "''"},
    {"\"", " '' ", "\""},
    {"([^' ])('[sS]|'[mM]|'[dD]|') ", "$1 $2 ", "'"},
    {"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", "$1 $2 ", "'"},
};
// MacIntyre contractions; triggers are matched against the ASCII-lowercased sentence.
constexpr Rule kContractions[] = {
    {"(?i)\\b(can)(?#X)(not)\\b", " $1 $2 ", "cannot"},
    {"(?i)\\b(d)(?#X)('ye)\\b", " $1 $2 ", "d'ye"},
    {"(?i)\\b(gim)(?#X)(me)\\b", " $1 $2 ", "gimme"},
    {"(?i)\\b(gon)(?#X)(na)\\b", " $1 $2 ", "gonna"},
    {"(?i)\\b(got)(?#X)(ta)\\b", " $1 $2 ", "gotta"},
    {"(?i)\\b(lem)(?#X)(me)\\b", " $1 $2 ", "lemme"},
    {"(?i)\\b(more)(?#X)('n)\\b", " $1 $2 ", "more'n"},
    {"(?i)\\b(wan)(?#X)(na)(?=\\s)", " $1 $2 ", "wanna"},
    {"(?i) ('t)(?#X)(is)\\b", " $1 $2 ", "'tis"},
    {"(?i) ('t)(?#X)(was)\\b", " $1 $2 ", "'twas"},
};

bool triggered(std::string_view text, std::string_view triggers) {
  size_t pos = 0;
  while (pos <= triggers.size()) {
    size_t bar = triggers.find('|', pos);
    std::string_view t = triggers.substr(pos, bar == std::string_view::npos ? std::string_view::npos : bar - pos);
    if (!t.empty() && text.find(t) != std::string_view::npos) return true;
    if (bar == std::string_view::npos) break;
    pos = bar + 1;
  }
  return false;
}

void apply_rule(std::string& text, const Rule& r) {
  if (!triggered(text, r.trigger)) return;
  if (auto s = regex_replace_all(r.pattern, r.replacement, text, kRegexNone)) text = std::move(*s);
}

}  // namespace

std::vector<std::string> word_tokenize(std::string_view text) {
  std::vector<std::string> tokens;
  for (auto [b, e] : punkt_sentence_spans(text)) {
    std::string s(text.substr(b, e - b));
    for (const Rule& r : kStartingQuotes) apply_rule(s, r);
    for (const Rule& r : kPunctuation) apply_rule(s, r);
    apply_rule(s, kParensBrackets);
    apply_rule(s, kDoubleDashes);
    s = " " + s + " ";
    for (const Rule& r : kEndingQuotes) apply_rule(s, r);
    std::string lower = s;
    for (char& c : lower) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    for (const Rule& r : kContractions) {
      if (!triggered(lower, r.trigger)) continue;
      if (auto out = regex_replace_all(r.pattern, r.replacement, s, kRegexNone)) {
        s = std::move(*out);
        lower = s;
        for (char& c : lower) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
      }
    }
    for (std::string_view t : py_split_whitespace(s)) tokens.emplace_back(t);
  }
  return tokens;
}

// --- json.loads --------------------------------------------------------------------------------

namespace {

class JsonChecker {
 public:
  JsonChecker(std::string_view s, int max_depth) : s_(s), max_depth_(max_depth) {}

  bool run() {
    skip_ws();
    if (!value(0)) return false;
    skip_ws();
    return i_ == s_.size();
  }

 private:
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool lit(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  static bool digit(char c) { return c >= '0' && c <= '9'; }
  bool number() {
    if (i_ < s_.size() && s_[i_] == '-') {
      ++i_;
      if (lit("Infinity")) return true;
    }
    if (i_ >= s_.size() || !digit(s_[i_])) return false;
    if (s_[i_] == '0') {
      ++i_;
    } else {
      while (i_ < s_.size() && digit(s_[i_])) ++i_;
    }
    if (i_ + 1 < s_.size() && s_[i_] == '.' && digit(s_[i_ + 1])) {
      ++i_;
      while (i_ < s_.size() && digit(s_[i_])) ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      size_t save = i_++;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (i_ < s_.size() && digit(s_[i_])) {
        while (i_ < s_.size() && digit(s_[i_])) ++i_;
      } else {
        i_ = save;  // Python's number regex leaves "1e" as "1" followed by garbage
      }
    }
    return true;
  }
  bool string() {
    ++i_;  // opening quote
    while (i_ < s_.size()) {
      unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        char e = s_[i_];
        if (e == 'u') {
          for (int k = 1; k <= 4; ++k) {
            if (i_ + k >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_ + k]))) return false;
          }
          i_ += 5;
          continue;
        }
        if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) return false;
      }
      ++i_;
    }
    return false;
  }
  bool value(int depth) {
    if (depth > max_depth_ || i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '{') {
      ++i_;
      skip_ws();
      if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
      while (true) {
        skip_ws();
        if (i_ >= s_.size() || s_[i_] != '"' || !string()) return false;
        skip_ws();
        if (i_ >= s_.size() || s_[i_] != ':') return false;
        ++i_;
        skip_ws();
        if (!value(depth + 1)) return false;
        skip_ws();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
        return false;
      }
    }
    if (c == '[') {
      ++i_;
      skip_ws();
      if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
      while (true) {
        skip_ws();
        if (!value(depth + 1)) return false;
        skip_ws();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
        return false;
      }
    }
    if (c == '"') return string();
    if (c == 'n') return lit("null");
    if (c == 't') return lit("true");
    if (c == 'f') return lit("false");
    if (c == 'N') return lit("NaN");
    if (c == 'I') return lit("Infinity");
    return number();
  }

  std::string_view s_;
  int max_depth_;
  size_t i_ = 0;
};

}  // namespace

bool python_json_loads_ok(std::string_view text, int max_depth) {
  return JsonChecker(text, max_depth).run();
}

// --- Language ----------------------------------------------------------------------------------

LanguageGuess detect_language(std::string_view text) {
  LanguageGuess g;
  std::string buf;
  buf.reserve(text.size());
  size_t i = 0, len = 0;
  while (i < text.size()) {
    char32_t c = decode_at(text, i, &len);
    if (!g.has_features && is_word(c) && !is_digit(c) && c != '_') g.has_features = true;
    if (c == 0) {
      buf.push_back(' ');
    } else {
      buf.append(text.substr(i, len));
    }
    i += len;
  }
  if (!g.has_features) return g;
  bool reliable = false;
  int valid_prefix = 0;
  CLD2::Language lang = CLD2::DetectLanguageCheckUTF8(buf.data(), static_cast<int>(buf.size()),
                                                       /*is_plain_text=*/true, &reliable, &valid_prefix);
  std::string code = CLD2::LanguageCode(lang);
  if (code == "iw") code = "he";
  else if (code == "zh") code = "zh-cn";
  else if (code == "zh-Hant") code = "zh-tw";
  else if (code == "jw") code = "jv";
  g.code = code;
  return g;
}

}  // namespace rlvr::verifiers::ifeval
