// The IFEval instruction checkers. Each follows the `check_following` of the matching class in
// google-research/instruction_following_eval/instructions.py; comments quote the rule.
#include "verifiers/ifeval_checks.h"

#include <cmath>
#include <functional>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "verifiers/ifeval_regex.h"
#include "verifiers/ifeval_text.h"

namespace rlvr::verifiers::ifeval {
namespace {

using nlohmann::json;

// --- kwargs --------------------------------------------------------------------------------------

// Reads kwargs; the first problem is kept in `error` and every later read is a no-op.
class Kwargs {
 public:
  explicit Kwargs(const json& kw) : kw_(kw) {}

  std::optional<long long> integer(const char* name, bool allow_negative = false) {
    const json* v = find(name);
    if (!v) return std::nullopt;
    long long out = 0;
    if (v->is_number_integer()) {
      out = v->get<long long>();
    } else if (v->is_number_float() && std::isfinite(v->get<double>()) &&
               v->get<double>() == std::floor(v->get<double>()) && std::fabs(v->get<double>()) < 9e15) {
      out = static_cast<long long>(v->get<double>());
    } else {
      return fail(fmt::format("kwarg '{}' must be an integer", name));
    }
    if (!allow_negative && out < 0) return fail(fmt::format("kwarg '{}' must be >= 0", name));
    return out;
  }

  std::optional<std::string> string(const char* name) {
    const json* v = find(name);
    if (!v) return std::nullopt;
    if (!v->is_string()) return fail(fmt::format("kwarg '{}' must be a string", name));
    return sanitize_utf8(v->get_ref<const std::string&>());
  }

  std::optional<std::vector<std::string>> strings(const char* name) {
    const json* v = find(name);
    if (!v) return std::nullopt;
    if (!v->is_array() || v->empty()) return fail(fmt::format("kwarg '{}' must be a non-empty list of strings", name));
    std::vector<std::string> out;
    for (const auto& e : *v) {
      if (!e.is_string()) return fail(fmt::format("kwarg '{}' must be a list of strings", name));
      out.push_back(sanitize_utf8(e.get_ref<const std::string&>()));
    }
    return out;
  }

  // "less than" -> true, "at least" -> false.
  std::optional<bool> relation(const char* name) {
    auto s = string(name);
    if (!s) return std::nullopt;
    if (*s == "less than") return true;
    if (*s == "at least") return false;
    return fail(fmt::format("kwarg '{}' must be \"less than\" or \"at least\", got \"{}\"", name, *s));
  }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  const json* find(const char* name) {
    if (!error_.empty()) return nullptr;
    if (!kw_.is_object()) {
      error_ = "kwargs must be an object";
      return nullptr;
    }
    auto it = kw_.find(name);
    if (it == kw_.end() || it->is_null()) {
      error_ = fmt::format("missing kwarg '{}'", name);
      return nullptr;
    }
    return &*it;
  }
  std::nullopt_t fail(std::string msg) {
    if (error_.empty()) error_ = std::move(msg);
    return std::nullopt;
  }

  const json& kw_;
  std::string error_;
};

CheckResult kwargs_error(std::string reason) { return {false, true, std::move(reason)}; }
CheckResult verdict(bool followed, std::string reason) { return {followed, false, std::move(reason)}; }

// Compares `actual` with `threshold` under IFEval's relation ("less than": actual < threshold,
// "at least": actual >= threshold) and describes the outcome.
CheckResult compare(const char* what, long long actual, bool less_than, long long threshold) {
  bool ok = less_than ? actual < threshold : actual >= threshold;
  return verdict(ok, fmt::format("found {} {}, need {} {}", actual, what, less_than ? "less than" : "at least",
                                 threshold));
}

// Declared kwarg names must cover every non-null kwarg: build_description(**args) raises on an
// unexpected keyword.
std::optional<std::string> unexpected_kwarg(const json& kw, const std::vector<const char*>& allowed) {
  if (!kw.is_object()) return std::string("kwargs must be an object");
  for (auto it = kw.begin(); it != kw.end(); ++it) {
    if (it->is_null()) continue;
    bool known = false;
    for (const char* a : allowed) known = known || it.key() == a;
    if (!known) return fmt::format("unexpected kwarg '{}'", it.key());
  }
  return std::nullopt;
}

// --- checkers --------------------------------------------------------------------------------------

using Checker = std::function<CheckResult(const json&, std::string_view)>;

// KeywordChecker: every keyword matches re.search(keyword, value, re.IGNORECASE).
CheckResult keywords_existence(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto words = k.strings("keywords");
  if (!k.ok()) return kwargs_error(k.error());
  for (const auto& w : *words) {
    RegexResult r = regex_search(w, value, kRegexCaseless);
    if (!r.error.empty()) return kwargs_error(fmt::format("kwarg 'keywords': \"{}\": {}", w, r.error));
    if (!r.matched) return verdict(false, fmt::format("keyword \"{}\" not found", w));
  }
  return verdict(true, "all keywords found");
}

// KeywordFrequencyChecker: len(re.findall(keyword.strip(), value, re.IGNORECASE)) vs frequency.
CheckResult keywords_frequency(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto word = k.string("keyword");
  auto freq = k.integer("frequency");
  auto less = k.relation("relation");
  if (!k.ok()) return kwargs_error(k.error());
  std::string_view w = py_strip(*word);
  if (w.empty()) return kwargs_error("kwarg 'keyword' is empty");
  RegexResult r = regex_count(w, value, kRegexCaseless);
  if (!r.error.empty()) return kwargs_error(fmt::format("kwarg 'keyword': {}", r.error));
  return compare(fmt::format("occurrences of \"{}\"", w).c_str(), static_cast<long long>(r.count), *less, *freq);
}

// ForbiddenWords: no re.search(r"\b" + word + r"\b", value, re.IGNORECASE).
CheckResult keywords_forbidden(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto words = k.strings("forbidden_words");
  if (!k.ok()) return kwargs_error(k.error());
  for (const auto& w : *words) {
    RegexResult r = regex_search("\\b" + w + "\\b", value, kRegexCaseless);
    if (!r.error.empty()) return kwargs_error(fmt::format("kwarg 'forbidden_words': \"{}\": {}", w, r.error));
    if (r.matched) return verdict(false, fmt::format("forbidden word \"{}\" found", w));
  }
  return verdict(true, "no forbidden word found");
}

// LetterFrequencyChecker: collections.Counter(value.lower())[letter.strip().lower()].
CheckResult keywords_letter_frequency(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto letter = k.string("letter");
  auto freq = k.integer("let_frequency");
  auto less = k.relation("let_relation");
  if (!k.ok()) return kwargs_error(k.error());
  if (count_code_points(*letter) != 1) return kwargs_error("kwarg 'letter' must be a single character");
  std::string target = py_lower(py_strip(*letter));
  long long n = 0;
  if (count_code_points(target) == 1) {
    std::string low = py_lower(value);
    for (size_t pos = low.find(target); pos != std::string::npos; pos = low.find(target, pos + target.size())) ++n;
  }
  return compare(fmt::format("letter '{}'", target).c_str(), n, *less, *freq);
}

// ResponseLanguageChecker: langdetect.detect(value) == language; detection failure counts as
// followed.
CheckResult language_response(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto lang = k.string("language");
  if (!k.ok()) return kwargs_error(k.error());
  LanguageGuess g = detect_language(value);
  if (!g.has_features) return verdict(true, "no letters to identify (IFEval counts this as followed)");
  return verdict(g.code == *lang, fmt::format("detected language '{}', need '{}'", g.code, *lang));
}

// NumberOfSentences: instructions_util.count_sentences (Punkt) vs num_sentences.
CheckResult length_sentences(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto n = k.integer("num_sentences");
  auto less = k.relation("relation");
  if (!k.ok()) return kwargs_error(k.error());
  return compare("sentences", static_cast<long long>(count_sentences(value)), *less, *n);
}

// ParagraphChecker: re.split(r"\s?\*\*\*\s?", value); empty first/last pieces are dropped, an
// empty inner piece fails; the count must equal num_paragraphs.
CheckResult length_paragraphs(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto want = k.integer("num_paragraphs");
  if (!k.ok()) return kwargs_error(k.error());
  std::vector<std::string_view> pieces;
  size_t seg = 0, p = 0, len = 0;
  while (p < value.size()) {
    size_t m_end = 0;
    char32_t c = decode_at(value, p, &len);
    if (is_space(c) && value.compare(p + len, 3, "***") == 0) {
      m_end = p + len + 3;
    } else if (value.compare(p, 3, "***") == 0) {
      m_end = p + 3;
    }
    if (m_end) {
      size_t l2 = 0;
      if (m_end < value.size() && is_space(decode_at(value, m_end, &l2))) m_end += l2;
      pieces.push_back(value.substr(seg, p - seg));
      seg = p = m_end;
      continue;
    }
    p += len;
  }
  pieces.push_back(value.substr(seg));
  long long n = static_cast<long long>(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (py_strip(pieces[i]).empty()) {
      if (i == 0 || i + 1 == pieces.size()) {
        --n;
      } else {
        return verdict(false, "empty paragraph between *** dividers");
      }
    }
  }
  return verdict(n == *want, fmt::format("found {} paragraphs, need exactly {}", n, *want));
}

// NumberOfWords: nltk RegexpTokenizer(r"\w+") token count vs num_words.
CheckResult length_words(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto n = k.integer("num_words");
  auto less = k.relation("relation");
  if (!k.ok()) return kwargs_error(k.error());
  return compare("words", static_cast<long long>(count_words(value)), *less, *n);
}

// ParagraphFirstWordCheck: paragraphs = value.split("\n\n"); the count of non-blank ones must
// equal num_paragraphs and paragraph nth (1-based, indexing the raw split) must start with
// first_word (lowercased, leading quotes removed, cut at the first . , ? ! ' ").
CheckResult length_nth_paragraph_first_word(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto want = k.integer("num_paragraphs");
  auto nth = k.integer("nth_paragraph");
  auto first = k.string("first_word");
  if (!k.ok()) return kwargs_error(k.error());
  if (*nth <= 0 || *nth > *want) {
    return kwargs_error("kwarg 'nth_paragraph' must be in [1, num_paragraphs] (IFEval would pick one at random)");
  }
  std::vector<std::string_view> paragraphs;
  size_t pos = 0;
  while (true) {
    size_t f = value.find("\n\n", pos);
    if (f == std::string_view::npos) {
      paragraphs.push_back(value.substr(pos));
      break;
    }
    paragraphs.push_back(value.substr(pos, f - pos));
    pos = f + 2;
  }
  long long n = static_cast<long long>(paragraphs.size());
  for (auto p : paragraphs) n -= py_strip(p).empty();
  if (*nth > n) return verdict(false, fmt::format("found {} paragraphs, paragraph {} missing", n, *nth));
  std::string_view para = py_strip(paragraphs[static_cast<size_t>(*nth - 1)]);
  if (para.empty()) return verdict(false, fmt::format("paragraph {} is empty", *nth));
  std::string_view word = py_split_whitespace(para).front();
  while (!word.empty() && word.front() == '\'') word.remove_prefix(1);
  while (!word.empty() && word.front() == '"') word.remove_prefix(1);
  size_t cut = word.find_first_of(".,?!'\"");
  std::string got = py_lower(word.substr(0, cut));
  std::string expected = py_lower(*first);
  bool ok = n == *want && got == expected;
  return verdict(ok, fmt::format("found {} paragraphs (need {}); paragraph {} starts with \"{}\" (need \"{}\")", n,
                                 *want, *nth, got, expected));
}

// PlaceholderChecker: len(re.findall(r"\[.*?\]", value)) >= num_placeholders.
CheckResult content_placeholders(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto want = k.integer("num_placeholders");
  if (!k.ok()) return kwargs_error(k.error());
  long long n = 0;
  size_t p = 0;
  while ((p = value.find('[', p)) != std::string_view::npos) {
    size_t q = p + 1;
    while (q < value.size() && value[q] != ']' && value[q] != '\n') ++q;
    if (q < value.size() && value[q] == ']') {
      ++n;
      p = q + 1;
    } else {
      p = q;  // every '[' before the line end fails the same way
    }
  }
  return verdict(n >= *want, fmt::format("found {} placeholders, need at least {}", n, *want));
}

// PostscriptChecker: re.findall over value.lower() (MULTILINE) of r"\s*p\.\s?p\.\s?s.*$" for
// "P.P.S", r"\s*p\.\s?s\..*$" for "P.S.", else r"\s*" + marker.lower() + r".*$".
CheckResult content_postscript(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto marker_raw = k.string("postscript_marker");
  if (!k.ok()) return kwargs_error(k.error());
  std::string marker(py_strip(*marker_raw));
  std::string low = py_lower(value);
  std::string pattern;
  if (marker == "P.P.S") {
    pattern = "\\s*p\\.\\s?p\\.\\s?s.*$";
  } else if (marker == "P.S.") {
    pattern = "\\s*p\\.\\s?s\\..*$";
  } else {
    pattern = "\\s*" + py_lower(marker) + ".*$";
  }
  RegexResult r = regex_search(pattern, low, kRegexMultiline);
  if (!r.error.empty()) return kwargs_error(fmt::format("kwarg 'postscript_marker': {}", r.error));
  return verdict(r.matched, r.matched ? fmt::format("postscript \"{}\" found", marker)
                                      : fmt::format("no postscript starting with \"{}\"", marker));
}

// Skips Python \s* at `p`.
size_t skip_ws(std::string_view s, size_t p) {
  size_t len = 0;
  while (p < s.size() && is_space(decode_at(s, p, &len))) p += len;
  return p;
}

// BulletListChecker: re.findall(r"^\s*\*[^\*].*$", value, re.M) plus
// re.findall(r"^\s*-.*$", value, re.M), their total must equal num_bullets. `^\s*` may cross
// blank lines and `[^\*]` may be a newline, exactly as in the regexes.
long long count_bullets(std::string_view v, bool star) {
  long long n = 0;
  size_t p = 0;
  size_t ws_from = std::string_view::npos, ws_to = 0;  // memo: skip_ws(ws_from..) == ws_to
  while (p <= v.size()) {
    // p is a line start.
    size_t q;
    if (ws_from != std::string_view::npos && p >= ws_from && p <= ws_to) {
      q = ws_to;
    } else {
      q = skip_ws(v, p);
      ws_from = p;
      ws_to = q;
    }
    bool matched = false;
    size_t end = 0;
    if (star) {
      if (q < v.size() && v[q] == '*' && q + 1 < v.size() && v[q + 1] != '*') {
        size_t len = 0;
        decode_at(v, q + 1, &len);
        end = q + 1 + len;
        matched = true;
      }
    } else if (q < v.size() && v[q] == '-') {
      end = q + 1;
      matched = true;
    }
    size_t next;
    if (matched) {
      ++n;
      size_t nl = v.find('\n', end);
      if (v[end - 1] == '\n') nl = v.find('\n', end);  // [^\*] consumed a newline: .* runs on
      if (nl == std::string_view::npos) break;
      next = nl + 1;
    } else {
      size_t nl = v.find('\n', p);
      if (nl == std::string_view::npos) break;
      next = nl + 1;
    }
    p = next;
  }
  return n;
}

CheckResult format_bullets(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto want = k.integer("num_bullets");
  if (!k.ok()) return kwargs_error(k.error());
  long long n = count_bullets(value, true) + count_bullets(value, false);
  return verdict(n == *want, fmt::format("found {} bullet points, need exactly {}", n, *want));
}

// ConstrainedResponseChecker: one of the three options is a substring of value.strip().
CheckResult format_constrained_response(const json&, std::string_view value) {
  std::string_view v = py_strip(value);
  for (std::string_view opt : {"My answer is yes.", "My answer is no.", "My answer is maybe."}) {
    if (v.find(opt) != std::string_view::npos) return verdict(true, fmt::format("contains \"{}\"", opt));
  }
  return verdict(false, "none of the allowed answer options found");
}

// HighlightSectionChecker: matches of r"\*[^\n\*]*\*" whose text stripped of '*' and whitespace
// is non-empty, plus matches of r"\*\*[^\n\*]*\*\*" likewise; total >= num_highlights.
CheckResult format_highlights(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto want = k.integer("num_highlights");
  if (!k.ok()) return kwargs_error(k.error());
  long long n = 0;
  // Single: '*', run of [^\n*], '*'.
  size_t p = 0;
  while ((p = value.find('*', p)) != std::string_view::npos) {
    size_t q = p + 1;
    while (q < value.size() && value[q] != '*' && value[q] != '\n') ++q;
    if (q < value.size() && value[q] == '*') {
      if (!py_strip(value.substr(p + 1, q - p - 1)).empty()) ++n;
      p = q + 1;
    } else {
      p = q;
    }
  }
  // Double: "**", run of [^\n*], "**".
  p = 0;
  while ((p = value.find("**", p)) != std::string_view::npos) {
    size_t q = p + 2;
    while (q < value.size() && value[q] != '*' && value[q] != '\n') ++q;
    if (q + 1 < value.size() && value[q] == '*' && value[q + 1] == '*') {
      if (!py_strip(value.substr(p + 2, q - p - 2)).empty()) ++n;
      p = q + 2;
    } else {
      p = p + 1;
    }
  }
  return verdict(n >= *want, fmt::format("found {} highlighted sections, need at least {}", n, *want));
}

// SectionChecker: len(re.split(r"\s?" + section_spliter + r"\s?\d+\s?", value)) - 1 >= num_sections.
CheckResult format_sections(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto splitter = k.string("section_spliter");
  auto want = k.integer("num_sections");
  if (!k.ok()) return kwargs_error(k.error());
  std::string pattern = "\\s?" + std::string(py_strip(*splitter)) + "\\s?\\d+\\s?";
  RegexResult r = regex_count(pattern, value, kRegexNone);
  if (!r.error.empty()) return kwargs_error(fmt::format("kwarg 'section_spliter': {}", r.error));
  return verdict(static_cast<long long>(r.count) >= *want,
                 fmt::format("found {} sections, need at least {}", r.count, *want));
}

// JsonFormat: json.loads succeeds after strip() and removing ```json/```Json/```JSON/``` and a
// trailing ```.
CheckResult format_json(const json&, std::string_view value) {
  std::string_view v = py_strip(value);
  for (std::string_view prefix : {"```json", "```Json", "```JSON", "```"}) {
    if (v.substr(0, prefix.size()) == prefix) v.remove_prefix(prefix.size());
  }
  if (v.size() >= 3 && v.substr(v.size() - 3) == "```") v.remove_suffix(3);
  v = py_strip(v);
  bool ok = python_json_loads_ok(v);
  return verdict(ok, ok ? "valid JSON" : "not valid JSON");
}

// TitleChecker: some match of r"<<[^\n]+>>" has non-blank text once '<' and '>' are stripped.
CheckResult format_title(const json&, std::string_view value) {
  size_t line_start = 0;
  while (line_start <= value.size()) {
    size_t nl = value.find('\n', line_start);
    size_t line_end = nl == std::string_view::npos ? value.size() : nl;
    std::string_view line = value.substr(line_start, line_end - line_start);
    // The greedy match runs from the first usable "<<" to the last ">>" of the line.
    size_t last = line.rfind(">>");
    if (last != std::string_view::npos) {
      size_t open = line.find("<<");
      if (open != std::string_view::npos && open + 3 <= last) {
        std::string_view t = line.substr(open, last + 2 - open);
        while (!t.empty() && t.front() == '<') t.remove_prefix(1);
        while (!t.empty() && t.back() == '>') t.remove_suffix(1);
        if (!py_strip(t).empty()) return verdict(true, "title found");
      }
    }
    if (nl == std::string_view::npos) break;
    line_start = nl + 1;
  }
  return verdict(false, "no <<title>> found");
}

// TwoResponsesChecker: value.split("******") gives exactly two non-blank pieces (blank ones
// allowed only first or last) that differ after strip().
CheckResult combination_two_responses(const json&, std::string_view value) {
  std::vector<std::string_view> valid;
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (true) {
    size_t f = value.find("******", pos);
    if (f == std::string_view::npos) {
      parts.push_back(value.substr(pos));
      break;
    }
    parts.push_back(value.substr(pos, f - pos));
    pos = f + 6;
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (py_strip(parts[i]).empty()) {
      if (i != 0 && i + 1 != parts.size()) return verdict(false, "empty response between ****** separators");
    } else {
      valid.push_back(parts[i]);
    }
  }
  bool ok = valid.size() == 2 && py_strip(valid[0]) != py_strip(valid[1]);
  return verdict(ok, ok ? "two different responses" : fmt::format("found {} responses (need 2 different)", valid.size()));
}

// RepeatPromptThenAnswer: value.strip().lower().startswith(prompt_to_repeat.strip().lower()).
CheckResult combination_repeat_prompt(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto prompt = k.string("prompt_to_repeat");
  if (!k.ok()) return kwargs_error(k.error());
  if (prompt->empty()) return kwargs_error("kwarg 'prompt_to_repeat' is empty");
  std::string v = py_lower(py_strip(value));
  std::string want = py_lower(py_strip(*prompt));
  bool ok = v.compare(0, want.size(), want) == 0 && v.size() >= want.size();
  return verdict(ok, ok ? "response starts with the prompt" : "response does not start with the prompt");
}

// EndChecker: value.strip().strip('"').lower().endswith(end_phrase.strip().lower()).
CheckResult startend_end_checker(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto phrase = k.string("end_phrase");
  if (!k.ok()) return kwargs_error(k.error());
  std::string v = py_lower(py_strip_chars(py_strip(value), "\""));
  std::string want = py_lower(py_strip(*phrase));
  bool ok = v.size() >= want.size() && v.compare(v.size() - want.size(), want.size(), want) == 0;
  return verdict(ok, ok ? "ends with the phrase" : fmt::format("does not end with \"{}\"", want));
}

// CapitalWordFrequencyChecker: words of nltk.word_tokenize(value) with word.isupper().
CheckResult case_capital_word_frequency(const json& kw, std::string_view value) {
  Kwargs k(kw);
  auto freq = k.integer("capital_frequency", /*allow_negative=*/true);
  auto less = k.relation("capital_relation");
  if (!k.ok()) return kwargs_error(k.error());
  long long n = 0;
  for (const auto& w : word_tokenize(value)) n += py_isupper(w);
  return compare("all-capital words", n, *less, *freq);
}

// CapitalLettersEnglishChecker: value.isupper() and langdetect.detect(value) == "en".
CheckResult case_english_capital(const json&, std::string_view value) {
  if (!py_isupper(value)) return verdict(false, "not all letters are capitals");
  LanguageGuess g = detect_language(value);
  if (!g.has_features) return verdict(true, "all capitals; no letters to identify");
  return verdict(g.code == "en", fmt::format("all capitals; detected language '{}'", g.code));
}

// LowercaseLettersEnglishChecker: value.islower() and langdetect.detect(value) == "en".
CheckResult case_english_lowercase(const json&, std::string_view value) {
  if (!py_islower(value)) return verdict(false, "not all letters are lowercase");
  LanguageGuess g = detect_language(value);
  if (!g.has_features) return verdict(true, "all lowercase; no letters to identify");
  return verdict(g.code == "en", fmt::format("all lowercase; detected language '{}'", g.code));
}

// CommaChecker: not re.search(r"\,", value).
CheckResult punctuation_no_comma(const json&, std::string_view value) {
  bool ok = value.find(',') == std::string_view::npos;
  return verdict(ok, ok ? "no commas" : "contains a comma");
}

// QuotationChecker: value.strip() has length > 1 and starts and ends with '"'.
CheckResult startend_quotation(const json&, std::string_view value) {
  std::string_view v = py_strip(value);
  bool ok = v.size() > 1 && v.front() == '"' && v.back() == '"';
  return verdict(ok, ok ? "wrapped in double quotes" : "not wrapped in double quotes");
}

struct Entry {
  const char* id;
  Checker check;
  std::vector<const char*> kwargs;
};

const std::vector<Entry>& registry() {
  static const std::vector<Entry> kEntries = {
      {"keywords:existence", keywords_existence, {"keywords"}},
      {"keywords:frequency", keywords_frequency, {"keyword", "frequency", "relation"}},
      {"keywords:forbidden_words", keywords_forbidden, {"forbidden_words"}},
      {"keywords:letter_frequency", keywords_letter_frequency, {"letter", "let_frequency", "let_relation"}},
      {"language:response_language", language_response, {"language"}},
      {"length_constraints:number_sentences", length_sentences, {"num_sentences", "relation"}},
      {"length_constraints:number_paragraphs", length_paragraphs, {"num_paragraphs"}},
      {"length_constraints:number_words", length_words, {"num_words", "relation"}},
      {"length_constraints:nth_paragraph_first_word", length_nth_paragraph_first_word,
       {"num_paragraphs", "nth_paragraph", "first_word"}},
      {"detectable_content:number_placeholders", content_placeholders, {"num_placeholders"}},
      {"detectable_content:postscript", content_postscript, {"postscript_marker"}},
      {"detectable_format:number_bullet_lists", format_bullets, {"num_bullets"}},
      {"detectable_format:constrained_response", format_constrained_response, {}},
      {"detectable_format:number_highlighted_sections", format_highlights, {"num_highlights"}},
      {"detectable_format:multiple_sections", format_sections, {"section_spliter", "num_sections"}},
      {"detectable_format:json_format", format_json, {}},
      {"detectable_format:title", format_title, {}},
      {"combination:two_responses", combination_two_responses, {}},
      {"combination:repeat_prompt", combination_repeat_prompt, {"prompt_to_repeat"}},
      {"startend:end_checker", startend_end_checker, {"end_phrase"}},
      {"change_case:capital_word_frequency", case_capital_word_frequency, {"capital_frequency", "capital_relation"}},
      {"change_case:english_capital", case_english_capital, {}},
      {"change_case:english_lowercase", case_english_lowercase, {}},
      {"punctuation:no_comma", punctuation_no_comma, {}},
      {"startend:quotation", startend_quotation, {}},
  };
  return kEntries;
}

}  // namespace

const std::vector<std::string>& instruction_ids() {
  static const std::vector<std::string> kIds = [] {
    std::vector<std::string> ids;
    for (const auto& e : registry()) ids.emplace_back(e.id);
    return ids;
  }();
  return kIds;
}

CheckResult check_instruction(std::string_view id, const json& kwargs, std::string_view response) {
  static const std::unordered_map<std::string_view, const Entry*> kById = [] {
    std::unordered_map<std::string_view, const Entry*> m;
    for (const auto& e : registry()) m[e.id] = &e;
    return m;
  }();
  auto it = kById.find(id);
  if (it == kById.end()) return kwargs_error(fmt::format("unsupported instruction id '{}'", id));
  static const json kEmpty = json::object();
  const json& kw = kwargs.is_null() ? kEmpty : kwargs;
  if (auto bad = unexpected_kwarg(kw, it->second->kwargs)) return kwargs_error(*bad);
  try {
    return it->second->check(kw, response);
  } catch (const std::exception& e) {  // boundary: nlohmann/fmt on malformed kwargs
    return kwargs_error(fmt::format("bad kwargs: {}", e.what()));
  }
}

}  // namespace rlvr::verifiers::ifeval
