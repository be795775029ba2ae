// Text primitives for the IFEval checkers, written to reproduce the Python reference's
// behaviour on str (code points): Unicode whitespace/word/case classes, str.strip/lower/
// isupper/islower, nltk's RegexpTokenizer(r"\w+") word count, nltk's Punkt sentence splitter
// (the algorithm, with built-in parameters; see docs/VERIFIERS.md, "Instruction following"), nltk.word_tokenize
// (Punkt sentences + NLTKWordTokenizer), Python's json.loads acceptance, and language
// identification (CLD2, mapped to langdetect's codes).
//
// All functions take UTF-8; invalid sequences must have been replaced beforehand with
// sanitize_utf8() (the verifiers do so once per call). All are linear or close to it in the
// input size, never throw for any text, and are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rlvr::verifiers::ifeval {

// --- UTF-8 ---------------------------------------------------------------------------------

// `text` with every invalid UTF-8 sequence (stray continuation bytes, overlongs, surrogates,
// truncated sequences, > U+10FFFF) replaced by U+FFFD, as Python's decode(errors="replace").
std::string sanitize_utf8(std::string_view text);

// Decodes the code point at byte `i` of valid UTF-8 and stores its byte length in `*len`.
// REQUIRES: i < text.size().
char32_t decode_at(std::string_view text, size_t i, size_t* len);

// Number of code points in valid UTF-8.
size_t count_code_points(std::string_view text);

// --- Character classes (Python str semantics, approximated outside the covered blocks) ------

bool is_space(char32_t c);   // str.isspace() / re \s
bool is_word(char32_t c);    // re \w (alnum or '_')
bool is_digit(char32_t c);   // re \d (decimal digits)
bool is_upper(char32_t c);   // cased and uppercase
bool is_lower(char32_t c);   // cased and lowercase

// --- str methods ----------------------------------------------------------------------------

std::string_view py_strip(std::string_view s);   // str.strip()
std::string_view py_rstrip(std::string_view s);  // str.rstrip()
std::string_view py_strip_chars(std::string_view s, std::string_view ascii_chars);  // str.strip(chars)
std::string py_lower(std::string_view s);        // str.lower()
bool py_isupper(std::string_view s);             // str.isupper()
bool py_islower(std::string_view s);             // str.islower()
std::vector<std::string_view> py_split_whitespace(std::string_view s);  // str.split()

// --- Counting -------------------------------------------------------------------------------

// len(nltk.tokenize.RegexpTokenizer(r"\w+").tokenize(text)).
size_t count_words(std::string_view text);

// nltk's PunktSentenceTokenizer.tokenize(text) with this library's built-in English
// parameters: byte ranges [begin, end) of the sentences.
std::vector<std::pair<size_t, size_t>> punkt_sentence_spans(std::string_view text);

// len(punkt_sentence_spans(text)): IFEval's instructions_util.count_sentences.
size_t count_sentences(std::string_view text);

// nltk.word_tokenize(text): Punkt sentences, each tokenized by NLTKWordTokenizer.
std::vector<std::string> word_tokenize(std::string_view text);

// --- JSON, language -------------------------------------------------------------------------

// Whether Python's json.loads(text) succeeds (strict mode: NaN/Infinity literals accepted,
// control characters inside strings rejected, any top-level value). Nesting deeper than
// `max_depth` is rejected (Python raises RecursionError there).
bool python_json_loads_ok(std::string_view text, int max_depth = 900);

struct LanguageGuess {
  bool has_features = false;  // false: no letters at all (langdetect raises "No features")
  std::string code;           // langdetect-style ISO 639-1 code ("en", "zh-cn", ...); "un" unknown
};

// Identifies the language of `text` with CLD2 (Debian libcld2), mapped to the codes
// langdetect returns.
LanguageGuess detect_language(std::string_view text);

}  // namespace rlvr::verifiers::ifeval
