// SplitRegex: a compiled pre-tokenizer regex (PCRE2, UTF + UCP, JIT when available) that
// finds the matches a JavaScript `new RegExp(pattern, "gu")` would find.
//
// Patterns in tokenizer.json are written for Rust/Oniguruma and are run by the reference
// (transformers.js) as JavaScript regexes. Before compiling, the pattern is rewritten so that
// PCRE2 behaves like JavaScript: `\s`/`\S` become JavaScript's exact white-space set
// (which includes U+FEFF), and `(?i:'s|'t|'re|'ve|'m|'ll|'d)` becomes its ASCII-only
// expansion (transformers.js does the same rewrite). \p{L} / \p{N} follow PCRE2's Unicode
// tables. Input that is not valid UTF-8 is matched with PCRE2_MATCH_INVALID_UTF: invalid
// bytes never match, so they end up in the gaps between matches.
//
// Thread-safety: immutable after construction; find_all() may be called from many threads
// (each call uses thread-local match data). Non-copyable.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rlvr::core {

class SplitRegex {
 public:
  // Compiles `pattern`. Throws rlvr::Error naming `where` (e.g. "tok.json: field
  // 'pre_tokenizer.pretokenizers[0].pattern.Regex'") and PCRE2's message and offset when the
  // pattern does not compile.
  SplitRegex(const std::string& pattern, const std::string& where);
  ~SplitRegex();
  SplitRegex(const SplitRegex&) = delete;
  SplitRegex& operator=(const SplitRegex&) = delete;

  // Appends the non-empty matches in `text` as (offset, length) pairs, left to right,
  // non-overlapping, in the order a global JavaScript regex returns them.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>* matches) const;

  // The pattern as given and as rewritten for PCRE2.
  const std::string& pattern() const { return pattern_; }
  const std::string& translated() const { return translated_; }

 private:
  struct Impl;
  std::string pattern_;
  std::string translated_;
  std::unique_ptr<Impl> impl_;
};

// Rewrites a tokenizer.json regex into the PCRE2 form described above (exposed for tests).
std::string translate_split_pattern(const std::string& pattern);

}  // namespace rlvr::core
