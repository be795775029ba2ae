// The `ifeval_old` verifier: open-instruct's if_functions.py, one function per func_name.
#include "verifiers/ifeval_old.h"

#include <cmath>
#include <functional>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "verifiers/ifeval.h"
#include "verifiers/ifeval_regex.h"
#include "verifiers/ifeval_text.h"
#include "verifiers/text.h"

namespace rlvr::verifiers {
namespace {

using nlohmann::json;
using namespace ifeval;  // NOLINT: .cpp only

struct Outcome {
  bool ok = false;
  std::string reason;
};

// Argument access; the first problem wins.
class Args {
 public:
  explicit Args(const json& a) : a_(a) {}
  const json* get(const char* name) {
    if (!error.empty()) return nullptr;
    auto it = a_.find(name);
    if (it == a_.end()) {
      error = fmt::format("missing argument '{}'", name);
      return nullptr;
    }
    return &*it;
  }
  std::optional<std::string> str(const char* name) {
    const json* v = get(name);
    if (!v) return std::nullopt;
    if (!v->is_string()) return fail(fmt::format("argument '{}' must be a string", name));
    return sanitize_utf8(v->get_ref<const std::string&>());
  }
  std::optional<long long> integer(const char* name) {
    const json* v = get(name);
    if (!v) return std::nullopt;
    if (v->is_number_integer()) return v->get<long long>();
    if (v->is_number_float() && std::isfinite(v->get<double>()) && v->get<double>() == std::floor(v->get<double>()) &&
        std::fabs(v->get<double>()) < 9e15)
      return static_cast<long long>(v->get<double>());
    return fail(fmt::format("argument '{}' must be an integer", name));
  }
  std::optional<std::vector<std::string>> strs(const char* name) {
    const json* v = get(name);
    if (!v) return std::nullopt;
    if (!v->is_array()) return fail(fmt::format("argument '{}' must be a list of strings", name));
    std::vector<std::string> out;
    for (const auto& e : *v) {
      if (!e.is_string()) return fail(fmt::format("argument '{}' must be a list of strings", name));
      out.push_back(sanitize_utf8(e.get_ref<const std::string&>()));
    }
    return out;
  }
  std::string error;

 private:
  std::nullopt_t fail(std::string m) {
    if (error.empty()) error = std::move(m);
    return std::nullopt;
  }
  const json& a_;
};

bool contains(std::string_view h, std::string_view n) { return h.find(n) != std::string_view::npos; }
bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// The "at least" / "at most" / "around" quantifiers; around allows max(round(N*0.1), 1).
bool quantified(long long actual, long long n, const std::string& q) {
  if (q == "at least") return actual >= n;
  if (q == "at most") return actual <= n;
  if (q == "around") {
    double tol = std::max(std::nearbyint(static_cast<double>(n) * 0.1), 1.0);  // banker's rounding
    return std::fabs(static_cast<double>(actual - n)) <= tol;
  }
  return false;
}

// str.splitlines() separators.
bool is_line_break(char32_t c) {
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x85 ||
         c == 0x2028 || c == 0x2029;
}

std::vector<std::string_view> splitlines(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0, i = 0, len = 0;
  while (i < s.size()) {
    char32_t c = decode_at(s, i, &len);
    if (is_line_break(c)) {
      out.push_back(s.substr(start, i - start));
      i += len;
      if (c == '\r' && i < s.size() && s[i] == '\n') ++i;
      start = i;
    } else {
      i += len;
    }
  }
  if (start < s.size()) out.push_back(s.substr(start));
  return out;
}

std::string re_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u) && c != '_') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// Non-overlapping matches of a lazy "<open>.*?<close>" pattern (no newline inside). Linear: the
// end of the current line is found once per line, and `close` is only searched up to it.
long long count_lazy_pairs(std::string_view t, std::string_view open, std::string_view close) {
  long long n = 0;
  size_t p = 0;
  size_t line_end = 0;  // end of the line holding p, once p has been placed on a line
  bool have_line = false;
  while ((p = t.find(open, p)) != std::string_view::npos) {
    if (!have_line || p > line_end) {
      line_end = t.find('\n', p);
      if (line_end == std::string_view::npos) line_end = t.size();
      have_line = true;
    }
    size_t q = t.substr(0, line_end).find(close, p + open.size());
    if (q != std::string_view::npos) {
      ++n;
      p = q + close.size();
    } else {
      p = line_end;  // every later start on this line fails too
    }
  }
  return n;
}

using Fn = std::function<Outcome(Args&, std::string_view)>;

struct Func {
  Fn fn;
  std::vector<const char*> params;
};

const std::unordered_map<std::string, Func>& functions() {
  static const std::unordered_map<std::string, Func> kFns = {
      {"verify_keywords", {[](Args& a, std::string_view t) -> Outcome {
         auto kws = a.strs("keyword_list");
         if (!kws) return {};
         std::string low = py_lower(t);
         for (const auto& k : *kws)
           if (!contains(low, py_lower(k))) return {false, fmt::format("keyword \"{}\" not found", k)};
         return {true, "all keywords found"};
       }, {"keyword_list"}}},
      {"verify_keyword_frequency", {[](Args& a, std::string_view t) -> Outcome {
         auto word = a.str("word");
         auto n = a.integer("N");
         if (!word || !n) return {};
         std::string low = py_lower(t), key = py_lower(*word);
         long long count = 0;
         size_t i = 0, len = 0;
         while (i < low.size()) {  // re.findall(r"\b\w+\b") == maximal \w runs
           if (!is_word(decode_at(low, i, &len))) { i += len; continue; }
           size_t s = i;
           while (i < low.size() && is_word(decode_at(low, i, &len))) i += len;
           count += std::string_view(low).substr(s, i - s) == key;
         }
         return {count == *n, fmt::format("\"{}\" appears {} times, need exactly {}", key, count, *n)};
       }, {"word", "N"}}},
      {"validate_forbidden_words", {[](Args& a, std::string_view t) -> Outcome {
         auto words = a.strs("forbidden_words");
         if (!words) return {};
         std::string low = py_lower(t);
         for (const auto& w : *words)
           if (contains(low, py_lower(w))) return {false, fmt::format("forbidden word \"{}\" found", w)};
         return {true, "no forbidden word found"};
       }, {"forbidden_words"}}},
      {"verify_letter_frequency", {[](Args& a, std::string_view t) -> Outcome {
         auto letter = a.str("letter");
         auto n = a.integer("N");
         if (!letter || !n) return {};
         if (count_code_points(*letter) != 1) {
           a.error = "argument 'letter' must be a single character";
           return {};
         }
         long long count = 0;
         for (size_t p = t.find(*letter); p != std::string_view::npos; p = t.find(*letter, p + letter->size())) ++count;
         return {count == *n, fmt::format("'{}' appears {} times, need exactly {}", *letter, count, *n)};
       }, {"letter", "N"}}},
      {"validate_response_language", {[](Args& a, std::string_view t) -> Outcome {
         auto lang = a.str("language");
         if (!lang) return {};
         LanguageGuess g = detect_language(t);
         if (!g.has_features) return {false, "no letters to identify (langdetect raises here)"};
         return {g.code == *lang, fmt::format("detected language '{}', need '{}'", g.code, *lang)};
       }, {"language"}}},
      {"verify_paragraph_count", {[](Args& a, std::string_view t) -> Outcome {
         auto n = a.integer("N");
         if (!n) return {};
         std::string clean;
         bool first = true;
         for (auto line : splitlines(t)) {
           if (!first) clean.push_back('\n');
           clean.append(py_strip(line));
           first = false;
         }
         std::string_view c = py_strip(clean);
         long long pieces = 0;
         size_t pos = 0;
         while (true) {
           size_t f = c.find("* * *", pos);
           std::string_view piece = c.substr(pos, f == std::string_view::npos ? std::string_view::npos : f - pos);
           if (py_strip(piece).empty()) return {false, "empty paragraph"};
           ++pieces;
           if (f == std::string_view::npos) break;
           pos = f + 5;
         }
         return {pieces == *n, fmt::format("found {} paragraphs, need exactly {}", pieces, *n)};
       }, {"N"}}},
      {"validate_word_constraint", {[](Args& a, std::string_view t) -> Outcome {
         auto n = a.integer("N");
         auto q = a.str("quantifier");
         if (!n || !q) return {};
         long long words = static_cast<long long>(py_split_whitespace(py_strip(t)).size());
         return {quantified(words, *n, *q), fmt::format("found {} words, need {} {}", words, *q, *n)};
       }, {"N", "quantifier"}}},
      {"verify_sentence_constraint", {[](Args& a, std::string_view t) -> Outcome {
         auto n = a.integer("N");
         auto q = a.str("quantifier");
         if (!n || !q) return {};
         RegexResult r = regex_count("(?<!\\w\\.\\w.)(?<![A-Z][a-z]\\.)(?<=\\.|\\?|!)\\s", t, kRegexNone);
         if (!r.error.empty()) return {false, r.error};
         long long sentences = static_cast<long long>(r.count) + 1;
         return {quantified(sentences, *n, *q), fmt::format("found {} sentences, need {} {}", sentences, *q, *n)};
       }, {"N", "quantifier"}}},
      {"validate_paragraphs", {[](Args& a, std::string_view t) -> Outcome {
         auto n = a.integer("N");
         auto first_word = a.str("first_word");
         auto i = a.integer("i");
         if (!n || !first_word || !i) return {};
         std::vector<std::string_view> paragraphs;
         size_t pos = 0;
         while (true) {
           size_t f = t.find("\n\n", pos);
           paragraphs.push_back(t.substr(pos, f == std::string_view::npos ? std::string_view::npos : f - pos));
           if (f == std::string_view::npos) break;
           pos = f + 2;
         }
         long long len = static_cast<long long>(paragraphs.size());
         if (len != *n) return {false, fmt::format("found {} paragraphs, need exactly {}", len, *n)};
         long long idx = *i - 1;
         if (idx < 0) idx += len;  // Python negative indexing
         if (idx < 0 || idx >= len) {
           a.error = fmt::format("argument 'i' = {} is out of range", *i);
           return {};
         }
         bool ok = starts_with(py_strip(paragraphs[static_cast<size_t>(idx)]), *first_word);
         return {ok, fmt::format("paragraph {} {} with \"{}\"", *i, ok ? "starts" : "does not start", *first_word)};
       }, {"N", "first_word", "i"}}},
      {"verify_postscript", {[](Args& a, std::string_view t) -> Outcome {
         auto marker = a.str("postscript_marker");
         if (!marker) return {};
         size_t p = t.find(*marker);
         if (p == std::string_view::npos) return {false, fmt::format("no \"{}\"", *marker)};
         bool ok = count_code_points(py_strip(t.substr(p))) > count_code_points(*marker);
         return {ok, ok ? "postscript found" : "postscript marker without text"};
       }, {"postscript_marker"}}},
      {"validate_placeholders", {[](Args& a, std::string_view t) -> Outcome {
         auto n = a.integer("N");
         if (!n) return {};
         long long c = count_lazy_pairs(t, "[", "]");
         return {c >= *n, fmt::format("found {} placeholders, need at least {}", c, *n)};
       }, {"N"}}},
      {"verify_bullet_points", {[](Args& a, std::string_view t) -> Outcome {
         auto n = a.integer("N");
         if (!n) return {};
         long long c = 0;
         size_t pos = 0;
         while (true) {
           size_t f = t.find('\n', pos);
           std::string_view line = py_strip(t.substr(pos, f == std::string_view::npos ? std::string_view::npos : f - pos));
           c += !line.empty() && (line.front() == '*' || line.front() == '-');
           if (f == std::string_view::npos) break;
           pos = f + 1;
         }
         return {c == *n, fmt::format("found {} bullet points, need exactly {}", c, *n)};
       }, {"N"}}},
      {"validate_title", {[](Args&, std::string_view t) -> Outcome {
         bool ok = count_lazy_pairs(t, "<<", ">>") > 0;
         return {ok, ok ? "title found" : "no <<title>>"};
       }, {}}},
      {"validate_choice", {[](Args& a, std::string_view t) -> Outcome {
         auto options = a.strs("options");
         if (!options) return {};
         for (const auto& o : *options)
           if (contains(t, o)) return {true, fmt::format("contains \"{}\"", o)};
         return {false, "none of the options found"};
       }, {"options"}}},
      {"validate_highlighted_sections", {[](Args& a, std::string_view t) -> Outcome {
         auto n = a.integer("N");
         if (!n) return {};
         long long c = count_lazy_pairs(t, "*", "*");
         return {c >= *n, fmt::format("found {} highlighted sections, need at least {}", c, *n)};
       }, {"N"}}},
      {"validate_sections", {[](Args& a, std::string_view t) -> Outcome {
         auto n = a.integer("N");
         auto splitter = a.str("section_splitter");
         if (!n || !splitter) return {};
         RegexResult r = regex_count("\\s?" + re_escape(*splitter) + "\\s?\\d+\\s?", t, kRegexCaseless);
         if (!r.error.empty()) return {false, r.error};
         return {static_cast<long long>(r.count) >= *n, fmt::format("found {} sections, need at least {}", r.count, *n)};
       }, {"N", "section_splitter"}}},
      {"validate_json_format", {[](Args&, std::string_view t) -> Outcome {
         bool ok = python_json_loads_ok(t);
         return {ok, ok ? "valid JSON" : "not valid JSON"};
       }, {}}},
      {"validate_repeat_prompt", {[](Args& a, std::string_view t) -> Outcome {
         auto prompt = a.str("original_prompt");
         if (!prompt) return {};
         bool ok = starts_with(t, *prompt);
         return {ok, ok ? "starts with the prompt" : "does not start with the prompt"};
       }, {"original_prompt"}}},
      {"validate_two_responses", {[](Args&, std::string_view t) -> Outcome {
         size_t f = t.find("******");
         if (f == std::string_view::npos || t.find("******", f + 6) != std::string_view::npos)
           return {false, "need exactly one ****** separator"};
         bool ok = py_strip(t.substr(0, f)) != py_strip(t.substr(f + 6));
         return {ok, ok ? "two different responses" : "the two responses are identical"};
       }, {}}},
      {"validate_uppercase", {[](Args&, std::string_view t) -> Outcome {
         size_t i = 0, len = 0;
         while (i < t.size()) {
           if (is_lower(decode_at(t, i, &len))) return {false, "contains lowercase letters"};
           i += len;
         }
         return {true, "no lowercase letters"};
       }, {}}},
      {"validate_lowercase", {[](Args&, std::string_view t) -> Outcome {
         size_t i = 0, len = 0;
         while (i < t.size()) {
           if (is_upper(decode_at(t, i, &len))) return {false, "contains uppercase letters"};
           i += len;
         }
         return {true, "no uppercase letters"};
       }, {}}},
      {"validate_frequency_capital_words", {[](Args& a, std::string_view t) -> Outcome {
         auto n = a.integer("N");
         auto q = a.str("quantifier");
         if (!n || !q) return {};
         RegexResult r = regex_count("\\b[A-Z]+\\b", t, kRegexNone);
         if (!r.error.empty()) return {false, r.error};
         long long c = static_cast<long long>(r.count);
         return {quantified(c, *n, *q), fmt::format("found {} capital words, need {} {}", c, *q, *n)};
       }, {"N", "quantifier"}}},
      {"validate_end", {[](Args& a, std::string_view t) -> Outcome {
         auto phrase = a.str("end_phrase");
         if (!phrase) return {};
         bool ok = ends_with(t, *phrase);
         return {ok, ok ? "ends with the phrase" : fmt::format("does not end with \"{}\"", *phrase)};
       }, {"end_phrase"}}},
      {"validate_quotation", {[](Args&, std::string_view t) -> Outcome {
         bool ok = starts_with(t, "\"") && ends_with(t, "\"");
         return {ok, ok ? "wrapped in double quotes" : "not wrapped in double quotes"};
       }, {}}},
      {"validate_no_commas", {[](Args&, std::string_view t) -> Outcome {
         bool ok = !contains(t, ",");
         return {ok, ok ? "no commas" : "contains a comma"};
       }, {}}},
  };
  return kFns;
}

}  // namespace

VerifyResult IfevalOldVerifier::verify(const VerifyInput& input) const {
  VerifyResult result;
  json gt = json::parse(input.ground_truth, nullptr, /*allow_exceptions=*/false);
  if (gt.is_discarded()) {
    if (auto converted = ifeval::python_literal_to_json(input.ground_truth)) {
      gt = json::parse(*converted, nullptr, /*allow_exceptions=*/false);
    }
  }
  if (gt.is_string()) gt = json::parse(gt.get<std::string>(), nullptr, /*allow_exceptions=*/false);
  if (gt.is_discarded() || !gt.is_object()) {
    result.reason = "bad ground truth: expected a JSON object with 'func_name'";
    return result;
  }
  auto fn_it = gt.find("func_name");
  if (fn_it == gt.end() || !fn_it->is_string()) {
    result.reason = "bad ground truth: missing 'func_name'";
    return result;
  }
  std::string func_name = fn_it->get<std::string>();
  auto f = functions().find(func_name);
  if (f == functions().end()) {
    result.reason = fmt::format("unknown func_name '{}'", func_name);
    return result;
  }
  json args = json::object();
  for (auto it = gt.begin(); it != gt.end(); ++it) {
    if (it.key() == "func_name" || it->is_null()) continue;
    bool known = false;
    for (const char* p : f->second.params) known = known || it.key() == p;
    if (!known) {
      result.reason = fmt::format("{}: unexpected argument '{}'", func_name, it.key());
      return result;
    }
    args[it.key()] = *it;
  }
  if (input.response.size() > options_.max_input_bytes) {
    result.error = true;
    result.reason = ifeval::over_bound_reason(input.response.size(), options_.max_input_bytes);
    return result;
  }
  // The same clean-up as ifeval, for every function (see docs/VERIFIERS.md).
  std::string answer = ifeval::clean_response(sanitize_utf8(input.response));
  if (answer.empty()) {
    result.reason = "empty response";
    return result;
  }
  result.answer_found = true;
  Args a(args);
  Outcome o;
  try {
    o = f->second.fn(a, answer);
  } catch (const std::exception& e) {  // boundary: malformed arguments inside nlohmann/fmt
    result.reason = fmt::format("{}: bad arguments: {}", func_name, e.what());
    return result;
  }
  if (!a.error.empty()) {
    result.reason = fmt::format("{}: {}", func_name, a.error);
    return result;
  }
  result.score = o.ok ? 1.0 : 0.0;
  result.reason = fmt::format("{}: {}", func_name, o.reason);
  return result;
}

}  // namespace rlvr::verifiers
