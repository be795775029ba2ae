// SentencePiece-style BPE (tokenizer.json without a ByteLevel pre-tokenizer) on small hand-made
// files whose ids follow by hand from Hugging Face tokenizers' rules: the Prepend/Replace
// normalizers, byte_fallback (<0xNN> tokens), unk and fuse_unk, the Metaspace pre-tokenizer
// (prepend_scheme, split) and decoder, the ByteFallback/Fuse/Strip decoders, the five Split
// behaviours, normalized added tokens, and each new field's error. The real files (Gemma,
// Gemma 3, Llama 2) are compared with transformers.js in tokenizer_parity_test.cpp.
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/tokenizer/tokenizer.h"

namespace rlvr::core {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using Ids = std::vector<int32_t>;

const std::string kMeta = "\xE2\x96\x81";  // U+2581, SentencePiece's space
constexpr int32_t kByte0 = 3;               // id of <0x00>; <0xNN> is kByte0 + NN

// Llama-2-style file: <unk> <s> </s>, the 256 byte tokens, then ▁ a b c ▁a ab ▁ab with merges
// (▁ a) (a b) (▁a b) in this order; Prepend + Replace normalizer, no pre-tokenizer, decoder
// Replace + ByteFallback + Fuse + Strip.
enum : int32_t { kUnk = 0, kBos = 1, kEos = 2, kSp = 259, kA = 260, kB = 261, kC = 262, kSpA = 263, kAB = 264, kSpAB = 265 };

json added_token(int32_t id, const std::string& content, bool special, bool normalized) {
  return {{"id", id},           {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false},    {"normalized", normalized}, {"special", special}};
}

json llama2_style() {
  json vocab = {{"<unk>", kUnk}, {"<s>", kBos}, {"</s>", kEos}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = kByte0 + b;
  }
  vocab[kMeta] = kSp;
  vocab["a"] = kA;
  vocab["b"] = kB;
  vocab["c"] = kC;
  vocab[kMeta + "a"] = kSpA;
  vocab["ab"] = kAB;
  vocab[kMeta + "ab"] = kSpAB;
  json j;
  j["version"] = "1.0";
  j["added_tokens"] = json::array({added_token(kUnk, "<unk>", true, false), added_token(kBos, "<s>", true, false),
                                   added_token(kEos, "</s>", true, false)});
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers", json::array({{{"type", "Prepend"}, {"prepend", kMeta}},
                                                  {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMeta}}})}};
  j["pre_tokenizer"] = nullptr;
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders", json::array({{{"type", "Replace"}, {"pattern", {{"String", kMeta}}}, {"content", " "}},
                                            {{"type", "ByteFallback"}},
                                            {{"type", "Fuse"}},
                                            {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}};
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", "<unk>"},
                {"fuse_unk", true},
                {"byte_fallback", true},
                {"vocab", vocab},
                {"merges", json::array({json::array({kMeta, "a"}), json::array({"a", "b"}),
                                        json::array({kMeta + "a", "b"})})}};
  return j;
}

Tokenizer load(const json& j) { return Tokenizer::from_json(j.dump(), "sp.json"); }

std::string load_error(const json& j) {
  try {
    load(j);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// --- Prepend + Replace, byte_fallback, ByteFallback/Fuse/Strip ---

TEST(TokenizerSentencePiece, PrependReplaceNormalizerAndMerges) {
  Tokenizer tok = load(llama2_style());
  EXPECT_EQ(tok.encode(""), Ids{});
  EXPECT_EQ(tok.encode("ab"), (Ids{kSpAB}));  // "▁ab": (▁ a) first, then (▁a b)
  EXPECT_EQ(tok.encode("ab c"), (Ids{kSpAB, kSp, kC}));
  EXPECT_EQ(tok.encode("  ab"), (Ids{kSp, kSp, kSpAB}));  // "▁▁▁ab"
  // Added tokens are cut out first; each text segment gets its own "▁" (HF's legacy Llama).
  EXPECT_EQ(tok.encode("<s>ab</s>ab"), (Ids{kBos, kSpAB, kEos, kSpAB}));
  EXPECT_EQ(tok.encode("<s>ab", /*parse_special=*/false).front(), kSp);  // "<" is not in the vocabulary
  EXPECT_EQ(tok.bos_id(), std::nullopt);
}

TEST(TokenizerSentencePiece, CharactersOutsideTheVocabularyBecomeByteTokens) {
  Tokenizer tok = load(llama2_style());
  EXPECT_EQ(tok.encode("a\xC3\xA9"), (Ids{kSpA, kByte0 + 0xC3, kByte0 + 0xA9}));  // "aé"
  EXPECT_EQ(tok.encode("\xF0\x9F\x99\x82"), (Ids{kSp, kByte0 + 0xF0, kByte0 + 0x9F, kByte0 + 0x99, kByte0 + 0x82}));
  // Bytes that are not UTF-8 (which HF cannot be given) are spelled the same way.
  EXPECT_EQ(tok.encode("a\xFF"), (Ids{kSpA, kByte0 + 0xFF}));
  EXPECT_EQ(tok.id_to_token(kByte0 + 0x0A), "<0x0A>");
}

TEST(TokenizerSentencePiece, DecoderChainReplacesFusesBytesAndStripsTheLeadingSpace) {
  Tokenizer tok = load(llama2_style());
  EXPECT_EQ(tok.decode({kSpA, kByte0 + 0xC3, kByte0 + 0xA9}), "a\xC3\xA9");
  EXPECT_EQ(tok.decode({kSpAB, kSp, kC}), "ab c");
  EXPECT_EQ(tok.decode({kSp, kSp, kSpAB}), "  ab");  // Strip drops one space only
  EXPECT_EQ(tok.decode({kSp}), "");
  // Added tokens go through the chain too: the space after "<s>" is not at the start any more.
  EXPECT_EQ(tok.decode({kBos, kSpAB, kEos, kSpAB}), "<s> ab</s> ab");
  EXPECT_EQ(tok.decode({kBos, kSpAB, kEos, kSpAB}, /*skip_special=*/true), "ab ab");
  // A byte run that is not UTF-8 keeps its bytes (HF would write U+FFFD for each).
  EXPECT_EQ(tok.decode({kA, kByte0 + 0xFF, kByte0 + 0xC3, kB}), "a\xFF\xC3" "b");
  // Round trips hold for text without a written "▁".
  for (const std::string s : {"ab c", "  ab  ", "a\xC3\xA9 \xF0\x9F\x99\x82 x\ty", "a\xFF\x80", "ab</s>"}) {
    EXPECT_EQ(tok.decode(tok.encode(s)), s) << s;
  }
}

TEST(TokenizerSentencePiece, UnknownCharactersFuseIntoOneUnkOrAreDropped) {
  json j = llama2_style();
  j["model"]["byte_fallback"] = false;
  EXPECT_EQ(load(j).encode("axyxb"), (Ids{kSpA, kUnk, kB}));  // x y x: one unk (fuse_unk)
  j["model"]["fuse_unk"] = false;
  EXPECT_EQ(load(j).encode("axyxb"), (Ids{kSpA, kUnk, kUnk, kUnk, kB}));
  // Without an unk token the characters are dropped, and their neighbours can merge (as in HF).
  j["model"].erase("unk_token");
  EXPECT_EQ(load(j).encode("axyxb"), (Ids{kSpAB}));
}

TEST(TokenizerSentencePiece, MissingByteTokenFallsBackToUnkInHuggingFaceOrder) {
  // Without <0xA9>, "é" (C3 A9) cannot be spelled in bytes and becomes unk; HF writes a pending
  // unk only when the next known character comes, so it lands after the bytes of "ç" (C3 A7).
  json j = llama2_style();
  j["model"]["vocab"].erase("<0xA9>");
  EXPECT_EQ(load(j).encode("\xC3\xA9\xC3\xA7" "b"), (Ids{kSp, kByte0 + 0xC3, kByte0 + 0xA7, kUnk, kB}));
}

TEST(TokenizerSentencePiece, NormalizersRunInOrder) {
  json j = llama2_style();
  json& steps = j["normalizer"]["normalizers"];
  // NFC first: "a" + U+0301 composes to "á", which is not in the vocabulary.
  const json nfc = {{"type", "NFC"}};
  steps.insert(steps.begin(), nfc);
  EXPECT_EQ(load(j).encode("a\xCC\x81"), (Ids{kSp, kByte0 + 0xC3, kByte0 + 0xA1}));
  // A Regex Replace before Prepend: runs of spaces become one.
  const json collapse = {{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", " "}};
  steps.insert(steps.begin() + 1, collapse);
  EXPECT_EQ(load(j).encode("ab    ab"), (Ids{kSpAB, kSpAB}));
}

TEST(TokenizerSentencePiece, NormalizedAddedTokenIsMatchedInItsNormalizedForm) {
  // As HF does, the content of an added token with normalized: true is normalized before
  // matching: "b c" becomes "▁b▁c".
  json j = llama2_style();
  j["added_tokens"].push_back(added_token(266, "b c", false, true));
  Tokenizer tok = load(j);
  EXPECT_EQ(tok.encode("a b c"), (Ids{kSpA, 266}));    // "▁a▁b▁c"
  EXPECT_EQ(tok.encode("ab c"), (Ids{kSpAB, kSp, kC}));  // "▁ab▁c" has no "▁b▁c"
}

// --- Metaspace ---

// llama2_style() with the Metaspace pre-tokenizer and decoder instead of Prepend/Replace and the
// Sequence decoder, plus a token "b▁" whose merge (b ▁) ranks first, so that splitting at "▁"
// shows in the ids.
json metaspace_style(const std::string& scheme, bool split) {
  json j = llama2_style();
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", scheme}, {"split", split}};
  j["decoder"] = {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", scheme}, {"split", split}};
  j["model"]["vocab"]["b" + kMeta] = 266;
  const json first_merge = json::array({"b", kMeta});
  j["model"]["merges"].insert(j["model"]["merges"].begin(), first_merge);
  return j;
}

TEST(TokenizerSentencePiece, MetaspaceReplacesSpacesPrependsAndSplits) {
  // split: "▁ab▁a" -> "▁ab" "▁a"; without split one piece, where (b ▁) merges first.
  EXPECT_EQ(load(metaspace_style("always", true)).encode("ab a"), (Ids{kSpAB, kSpA}));
  EXPECT_EQ(load(metaspace_style("always", false)).encode("ab a"), (Ids{kSpA, 266, kA}));
  // prepend_scheme: "first" only at the start of the input, not after an added token.
  EXPECT_EQ(load(metaspace_style("first", true)).encode("ab"), (Ids{kSpAB}));
  EXPECT_EQ(load(metaspace_style("first", true)).encode("<s>ab"), (Ids{kBos, kAB}));
  EXPECT_EQ(load(metaspace_style("always", true)).encode("<s>ab"), (Ids{kBos, kSpAB}));
  EXPECT_EQ(load(metaspace_style("never", true)).encode("ab"), (Ids{kAB}));
  // No second "▁" in front of text that starts with a space.
  EXPECT_EQ(load(metaspace_style("always", true)).encode(" ab"), (Ids{kSpAB}));
  // The legacy form: add_prefix_space false without a prepend_scheme means "never".
  json legacy = metaspace_style("always", true);
  legacy["pre_tokenizer"].erase("prepend_scheme");
  legacy["pre_tokenizer"]["add_prefix_space"] = false;
  EXPECT_EQ(load(legacy).encode("ab"), (Ids{kAB}));
}

TEST(TokenizerSentencePiece, MetaspaceDecoderDropsTheReplacementOfTheFirstToken) {
  Tokenizer tok = load(metaspace_style("first", true));
  EXPECT_EQ(tok.decode({kSpAB, kSpA}), "ab a");
  EXPECT_EQ(tok.decode({kSp, kSp, kB}), " b");  // HF drops every "▁" of the first token
  EXPECT_EQ(tok.decode({kBos, kAB}), "<s>ab");
  EXPECT_EQ(load(metaspace_style("never", true)).decode({kSpAB, kSpA}), " ab a");
}

// --- Split behaviours (HF's NormalizedString::split) ---

TEST(TokenizerSentencePiece, SplitBehavioursCombineDelimitersAsHuggingFace) {
  // Vocabulary x - -- x- -x; merges (- -) (x -) (- x): each piece's ids show where it was cut.
  enum : int32_t { kX = 0, kDash = 1, kDashDash = 2, kXDash = 3, kDashX = 4 };
  auto tokenizer = [](const std::string& behavior, bool invert) {
    json j;
    j["model"] = {{"type", "BPE"},
                  {"vocab", {{"x", kX}, {"-", kDash}, {"--", kDashDash}, {"x-", kXDash}, {"-x", kDashX}}},
                  {"merges", json::array({"- -", "x -", "- x"})}};
    j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}};
    return load(j);
  };
  const std::string text = "x-x--x";
  EXPECT_EQ(tokenizer("Isolated", false).encode(text), (Ids{kX, kDash, kX, kDash, kDash, kX}));
  EXPECT_EQ(tokenizer("Removed", false).encode(text), (Ids{kX, kX, kX}));
  EXPECT_EQ(tokenizer("MergedWithPrevious", false).encode(text), (Ids{kXDash, kXDash, kDash, kX}));  // x- x- - x
  EXPECT_EQ(tokenizer("MergedWithNext", false).encode(text), (Ids{kX, kDashX, kDash, kDashX}));      // x -x - -x
  EXPECT_EQ(tokenizer("Contiguous", false).encode(text), (Ids{kX, kDash, kX, kDashDash, kX}));        // x - x -- x
  EXPECT_EQ(tokenizer("Removed", true).encode(text), (Ids{kDash, kDash, kDash}));
  // No decoder: the tokens as written, concatenated.
  EXPECT_EQ(tokenizer("Isolated", false).decode({kXDash, kDashDash, kX}), "x---x");
}

// --- Errors ---

TEST(TokenizerSentencePiece, EachMalformedNewFieldIsNamed) {
  struct Case {
    std::function<void(json&)> edit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](json& j) { j["normalizer"]["normalizers"][1]["pattern"] = {{"Glob", "*"}}; },
       "sp.json: field 'normalizer.normalizers[1].pattern': expected {\"String\": ...} or {\"Regex\": ...}"},
      {[](json& j) { j["normalizer"]["normalizers"][1].erase("content"); }, "field 'normalizer.normalizers[1].content': missing"},
      {[](json& j) { j["normalizer"]["normalizers"][1]["pattern"] = {{"Regex", "(a"}}; },
       "field 'normalizer.normalizers[1].pattern.Regex': invalid regex"},
      {[](json& j) { j["normalizer"]["normalizers"][0].erase("prepend"); }, "field 'normalizer.normalizers[0].prepend': missing"},
      {[](json& j) { j["normalizer"] = {{"type", "Lowercase"}}; }, "field 'normalizer.type': unsupported normalizer type 'Lowercase'"},
      {[](json& j) { j["model"]["fuse_unk"] = "x"; }, "field 'model.fuse_unk': expected true or false"},
      {[](json& j) { j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "ab"}}; },
       "field 'pre_tokenizer.replacement': expected one character, got \"ab\""},
      {[](json& j) { j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", "sometimes"}}; },
       "field 'pre_tokenizer.prepend_scheme': unknown prepend_scheme 'sometimes'"},
      {[](json& j) {
         j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", "first"}, {"add_prefix_space", false}};
       },
       "field 'pre_tokenizer.add_prefix_space': false does not match prepend_scheme 'first'"},
      {[](json& j) { j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", kMeta}, {"split", 1}}; },
       "field 'pre_tokenizer.split': expected true or false"},
      {[](json& j) { j["decoder"]["decoders"][3]["start"] = -1; }, "field 'decoder.decoders[3].start': expected a non-negative integer"},
      {[](json& j) { j["decoder"]["decoders"][3]["content"] = ""; }, "field 'decoder.decoders[3].content': expected one character"},
      {[](json& j) { j["decoder"]["decoders"][0].erase("pattern"); }, "field 'decoder.decoders[0].pattern': missing"},
      {[](json& j) { j["decoder"] = {{"type", "CTC"}}; }, "field 'decoder.type': unsupported decoder type 'CTC'"},
      {[](json& j) { j["decoder"] = {{"type", "ByteLevel"}}; }, "field 'pre_tokenizer': no ByteLevel step, but the decoder is ByteLevel"},
      {[](json& j) { j["model"]["type"] = "Unigram"; }, "field 'model.type': unsupported tokenizer model type 'Unigram'"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    json j = llama2_style();
    cases[i].edit(j);
    EXPECT_THAT(load_error(j), HasSubstr(cases[i].message)) << "case " << i;
  }
  EXPECT_EQ(load_error(llama2_style()), "");
}

}  // namespace
}  // namespace rlvr::core
