// PCRE2 wrapper for the IFEval checkers: thread-local compiled-pattern cache, bounded matching.
#include "verifiers/ifeval_regex.h"

#include <memory>
#include <unordered_map>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace rlvr::verifiers::ifeval {
namespace {

constexpr uint32_t kMatchLimit = 2'000'000;   // backtracking steps per match call
constexpr uint32_t kDepthLimit = 10'000;      // nested backtracking frames (interpreter only)
constexpr size_t kMaxCachedPatterns = 512;    // per thread; cleared when full

struct CodeDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};
struct MatchContextDeleter {
  void operator()(pcre2_match_context* m) const { pcre2_match_context_free(m); }
};
struct CompileContextDeleter {
  void operator()(pcre2_compile_context* c) const { pcre2_compile_context_free(c); }
};

struct Compiled {
  std::unique_ptr<pcre2_code, CodeDeleter> code;
  std::string error;  // compile error, empty when `code` is set
};

struct ThreadState {
  std::unordered_map<std::string, Compiled> cache;
  std::unique_ptr<pcre2_match_context, MatchContextDeleter> match_ctx;
  std::unique_ptr<pcre2_compile_context, CompileContextDeleter> compile_ctx;
  ThreadState() {
    match_ctx.reset(pcre2_match_context_create(nullptr));
    pcre2_set_match_limit(match_ctx.get(), kMatchLimit);
    pcre2_set_depth_limit(match_ctx.get(), kDepthLimit);
    compile_ctx.reset(pcre2_compile_context_create(nullptr));
    pcre2_set_newline(compile_ctx.get(), PCRE2_NEWLINE_LF);
  }
};

ThreadState& state() {
  thread_local ThreadState s;
  return s;
}

const Compiled& compile(std::string_view pattern, uint32_t flags) {
  auto& st = state();
  std::string key;
  key.reserve(pattern.size() + 1);
  key.push_back(static_cast<char>('A' + flags));
  key.append(pattern);
  auto it = st.cache.find(key);
  if (it != st.cache.end()) return it->second;
  if (st.cache.size() >= kMaxCachedPatterns) st.cache.clear();

  uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
  if (flags & kRegexCaseless) options |= PCRE2_CASELESS;
  if (flags & kRegexMultiline) options |= PCRE2_MULTILINE;
  if (flags & kRegexExtended) options |= PCRE2_EXTENDED;
  int errcode = 0;
  PCRE2_SIZE erroffset = 0;
  Compiled c;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   options, &errcode, &erroffset, st.compile_ctx.get());
  if (code == nullptr) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(errcode, buf, sizeof(buf));
    c.error = "invalid regular expression at offset " + std::to_string(erroffset) + ": " +
              reinterpret_cast<const char*>(buf);
  } else {
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
    c.code.reset(code);
  }
  return st.cache.emplace(std::move(key), std::move(c)).first->second;
}

std::string match_error(int rc) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(rc, buf, sizeof(buf));
  return std::string("regular expression match failed: ") + reinterpret_cast<const char*>(buf);
}

RegexResult search_impl(std::string_view pattern, std::string_view subject, uint32_t flags,
                        uint32_t match_options) {
  RegexResult r;
  const Compiled& c = compile(pattern, flags);
  if (!c.code) {
    r.error = c.error;
    return r;
  }
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> md(
      pcre2_match_data_create_from_pattern(c.code.get(), nullptr));
  int rc = pcre2_match(c.code.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0,
                       match_options, md.get(), state().match_ctx.get());
  if (rc >= 0) {
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    r.matched = true;
    r.start = ov[0];
    r.end = ov[1];
  } else if (rc != PCRE2_ERROR_NOMATCH) {
    r.error = match_error(rc);
  }
  return r;
}

}  // namespace

RegexResult regex_search(std::string_view pattern, std::string_view subject, uint32_t flags) {
  return search_impl(pattern, subject, flags, 0);
}

RegexResult regex_match_at_start(std::string_view pattern, std::string_view subject, uint32_t flags) {
  return search_impl(pattern, subject, flags, PCRE2_ANCHORED);
}

RegexResult regex_count(std::string_view pattern, std::string_view subject, uint32_t flags) {
  RegexResult r;
  const Compiled& c = compile(pattern, flags);
  if (!c.code) {
    r.error = c.error;
    return r;
  }
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> md(
      pcre2_match_data_create_from_pattern(c.code.get(), nullptr));
  auto* subj = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t offset = 0;
  uint32_t options = 0;
  while (offset <= subject.size()) {
    int rc = pcre2_match(c.code.get(), subj, subject.size(), offset, options, md.get(),
                         state().match_ctx.get());
    if (rc == PCRE2_ERROR_NOMATCH) {
      if (options == 0) break;
      // An empty match was found at `offset` and no non-empty one starts there: advance one
      // character (pcre2demo's recipe; equals Python's findall).
      options = 0;
      ++offset;
      while (offset < subject.size() && (static_cast<unsigned char>(subject[offset]) & 0xC0) == 0x80)
        ++offset;
      continue;
    }
    if (rc < 0) {
      r.error = match_error(rc);
      return r;
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    ++r.count;
    if (r.count == 1) {
      r.matched = true;
      r.start = ov[0];
      r.end = ov[1];
    }
    offset = ov[1];
    options = (ov[0] == ov[1]) ? (PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED) : 0;
  }
  return r;
}

std::optional<std::string> regex_replace_all(std::string_view pattern, std::string_view replacement,
                                             std::string_view subject, uint32_t flags) {
  const Compiled& c = compile(pattern, flags);
  if (!c.code) return std::nullopt;
  std::string out;
  PCRE2_SIZE out_len = subject.size() * 2 + 64;
  const uint32_t options = PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH |
                           PCRE2_SUBSTITUTE_UNSET_EMPTY;
  for (int attempt = 0; attempt < 2; ++attempt) {
    out.resize(out_len);
    PCRE2_SIZE len = out_len;
    int rc = pcre2_substitute(c.code.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()),
                              subject.size(), 0, options, nullptr, state().match_ctx.get(),
                              reinterpret_cast<PCRE2_SPTR>(replacement.data()), replacement.size(),
                              reinterpret_cast<PCRE2_UCHAR*>(out.data()), &len);
    if (rc >= 0) {
      out.resize(len);
      return out;
    }
    if (rc != PCRE2_ERROR_NOMEMORY) return std::nullopt;
    out_len = len;  // the required length, thanks to SUBSTITUTE_OVERFLOW_LENGTH
  }
  return std::nullopt;
}

}  // namespace rlvr::verifiers::ifeval
