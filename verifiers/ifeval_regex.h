// A small, bounded PCRE2 wrapper for the IFEval checkers: Python-`re`-like search, findall
// counting and global substitution over UTF-8 text.
//
// Patterns are compiled with UTF + UCP (so \w, \s, \b, \d and case-insensitive matching are
// Unicode-aware, as Python's `re` on str) and LF-only newlines (Python's `$`/`.` only know \n),
// JIT-compiled when available, and cached per thread. Every match runs under a match limit and
// a depth limit, so no pattern (including kwargs-supplied ones) can backtrack without bound; a
// limit hit is reported as an error, never a hang. Never uses std::regex. Thread-safe: the
// cache is thread_local.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rlvr::verifiers::ifeval {

// Compile options (bit flags).
enum RegexFlags : uint32_t {
  kRegexNone = 0,
  kRegexCaseless = 1u << 0,   // re.IGNORECASE
  kRegexMultiline = 1u << 1,  // re.MULTILINE
  kRegexExtended = 1u << 2,   // re.VERBOSE
};

// Outcome of a regex operation: `error` is empty on success and otherwise says what failed
// (bad pattern, match limit exceeded).
struct RegexResult {
  bool matched = false;   // search(): whether any match exists
  size_t count = 0;       // count(): number of non-overlapping matches (Python findall)
  size_t start = 0;       // search()/match(): byte offset of the first match
  size_t end = 0;         // search()/match(): byte offset one past the first match
  std::string error;
};

// re.search(pattern, subject, flags) != None. Never throws.
RegexResult regex_search(std::string_view pattern, std::string_view subject, uint32_t flags);

// re.match(pattern, subject, flags): anchored at offset 0. Never throws.
RegexResult regex_match_at_start(std::string_view pattern, std::string_view subject, uint32_t flags);

// len(re.findall(pattern, subject, flags)): non-overlapping matches scanned left to right,
// empty matches included, with Python 3.7+ semantics after an empty match. Never throws.
RegexResult regex_count(std::string_view pattern, std::string_view subject, uint32_t flags);

// re.sub(pattern, replacement, subject) with a PCRE2 replacement string ($1, ${0}); unset groups
// substitute as empty, as Python does. Returns std::nullopt on error (bad pattern, limit).
std::optional<std::string> regex_replace_all(std::string_view pattern, std::string_view replacement,
                                             std::string_view subject, uint32_t flags);

}  // namespace rlvr::verifiers::ifeval
