// Tokenizer unit tests on the committed self-made tokenizer (tests/fixtures/tokenizer/
// tiny_tokenizer.json): exact ids against transformers.js, round trips (including invalid
// UTF-8), added-token flags, NFC, thread safety, every malformed-file error, and the trainer.
#include "core/tokenizer/tokenizer.h"

#include <random>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/tokenizer/bpe_trainer.h"
#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/split_regex.h"
#include "core/tokenizer/unicode.h"
#include "tests/core/tokenizer_test_util.h"

namespace rlvr::core {
namespace {

using ::testing::HasSubstr;
using testing::expected_ids;
using testing::tokenizer_corpus;
using testing::tokenizer_fixture;

const Tokenizer& tiny() {
  static const Tokenizer tok = Tokenizer::from_file(tokenizer_fixture("tiny_tokenizer.json"));
  return tok;
}

nlohmann::json tiny_json() { return nlohmann::json::parse(read_file(tokenizer_fixture("tiny_tokenizer.json"))); }

// Loads `j` and returns the rlvr::Error message ("" when it loads).
std::string load_error(const nlohmann::json& j) {
  try {
    Tokenizer::from_json(j.dump(), "bad.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// --- exact ids and round trips ---

TEST(Tokenizer, TinyTokenizerMatchesTransformersJsOnCorpus) {
  auto corpus = tokenizer_corpus();
  auto expected = expected_ids("tiny");
  ASSERT_EQ(corpus.size(), expected.size());
  for (size_t i = 0; i < corpus.size(); ++i) {
    EXPECT_EQ(tiny().encode(corpus[i]), expected[i]) << "corpus[" << i << "] = " << corpus[i];
  }
}

TEST(Tokenizer, DecodeInvertsEncodeOnCorpus) {
  for (const std::string& s : tokenizer_corpus()) EXPECT_EQ(tiny().decode(tiny().encode(s)), s);
}

TEST(Tokenizer, InvalidUtf8IsEncodedAsBytesAndRoundTrips) {
  const std::string cases[] = {
      std::string("\xff"),         std::string("abc\xc3"),           std::string("\xc3\x28 x"),
      std::string("\xed\xa0\x80"),  // an encoded surrogate
      std::string("\xf0\x9f\x98"),  // truncated emoji
      std::string("ok \x80\x80\x80 ok"), std::string("\xc0\xaf overlong"), std::string("a\0b", 3),
  };
  for (const std::string& s : cases) {
    auto ids = tiny().encode(s);
    EXPECT_EQ(tiny().decode(ids), s);
  }
  // An invalid byte forms its own piece: it is the single byte token.
  auto ids = tiny().encode("\xff");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(tiny().id_to_token(ids[0]), byte_level::char_for_byte(0xff));
}

TEST(Tokenizer, RandomBytesRoundTrip) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 300; ++trial) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    ASSERT_EQ(tiny().decode(tiny().encode(s)), s) << "trial " << trial;
  }
}

TEST(Tokenizer, LongRepetitivePieceIsMergedAndRoundTrips) {
  std::string s(50000, 'a');
  s += std::string(20000, ' ') + "x";
  auto ids = tiny().encode(s);
  EXPECT_EQ(tiny().decode(ids), s);
}

TEST(Tokenizer, SpecialTokensAreSingleIdsUnlessParseSpecialIsOff) {
  auto eot = tiny().token_to_id("<|endoftext|>");
  ASSERT_TRUE(eot.has_value());
  EXPECT_EQ(*eot, 0);
  auto ids = tiny().encode("a<|endoftext|>b");
  EXPECT_EQ(std::count(ids.begin(), ids.end(), *eot), 1);
  auto plain = tiny().encode("a<|endoftext|>b", /*parse_special=*/false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), *eot), 0);
  EXPECT_EQ(tiny().decode(plain), "a<|endoftext|>b");
  EXPECT_EQ(tiny().decode(ids, /*skip_special=*/true), "ab");
}

TEST(Tokenizer, DecodeRejectsOutOfRangeIds) {
  try {
    tiny().decode({1, tiny().vocab_size()});
    FAIL() << "expected rlvr::Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("out of range"));
  }
  EXPECT_THROW(tiny().decode({-1}), Error);
}

TEST(Tokenizer, TokenLookupsUseTokenizerJsonForms) {
  auto id = tiny().token_to_id("Ġ");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(tiny().decode({*id}), " ");
  EXPECT_EQ(tiny().id_to_token(*id), "Ġ");
  EXPECT_FALSE(tiny().token_to_id("no such token").has_value());
  EXPECT_FALSE(tiny().id_to_token(-5).has_value());
  EXPECT_EQ(tiny().vocab_size(), 539);
}

TEST(Tokenizer, ConcurrentEncodesAgree) {
  auto corpus = tokenizer_corpus();
  auto expected = expected_ids("tiny");
  tiny().clear_cache();
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        for (size_t i = 0; i < corpus.size(); ++i) failures[t] += tiny().encode(corpus[i]) != expected[i];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
  EXPECT_GT(tiny().cache_entries(), 0u);
}

// --- added-token flags (HF tokenizers semantics) ---

Tokenizer with_added(const nlohmann::json& token) {
  auto j = tiny_json();
  j["added_tokens"].push_back(token);
  return Tokenizer::from_json(j.dump(), "flags.json");
}

nlohmann::json added(int id, const std::string& content) {
  return {{"id", id}, {"content", content}, {"special", true}, {"normalized", false},
          {"lstrip", false}, {"rstrip", false}, {"single_word", false}};
}

TEST(Tokenizer, AddedTokenLstripAndRstripAbsorbWhiteSpace) {
  auto t = added(600, "<mask>");
  t["lstrip"] = true;
  Tokenizer l = with_added(t);
  EXPECT_EQ(l.encode("a  <mask> b"), [&] {
    auto ids = l.encode("a");
    ids.push_back(600);
    l.encode_append(" b", &ids);
    return ids;
  }());
  t["lstrip"] = false;
  t["rstrip"] = true;
  Tokenizer r = with_added(t);
  auto ids = r.encode("a <mask>   b");
  auto want = r.encode("a ");
  want.push_back(600);
  r.encode_append("b", &want);
  EXPECT_EQ(ids, want);
}

TEST(Tokenizer, AddedTokenSingleWordMatchesOnlyWholeWords) {
  auto t = added(600, "cat");
  t["single_word"] = true;
  t["special"] = false;
  Tokenizer tok = with_added(t);
  EXPECT_THAT(tok.encode("a cat here"), ::testing::Contains(600));
  EXPECT_THAT(tok.encode("concatenate"), ::testing::Not(::testing::Contains(600)));
  EXPECT_THAT(tok.encode("cats"), ::testing::Not(::testing::Contains(600)));
}

TEST(Tokenizer, AddedTokensMatchLeftmostLongest) {
  auto j = tiny_json();
  j["added_tokens"].push_back(added(600, "<a>"));
  j["added_tokens"].push_back(added(601, "<a><b>"));
  Tokenizer tok = Tokenizer::from_json(j.dump(), "longest.json");
  EXPECT_EQ(tok.encode("<a><b><a>"), (std::vector<int32_t>{601, 600}));
}

// --- NFC ---

TEST(Unicode, NfcComposesReordersAndKeepsInvalidBytes) {
  EXPECT_EQ(unicode::nfc("cafe\u0301"), "caf\u00e9");
  EXPECT_EQ(unicode::nfc("A\u030angstro\u0308m"), "\u00c5ngstr\u00f6m");
  EXPECT_EQ(unicode::nfc("a\u0302\u0323"), "\u1ead");  // canonical reordering, then composition
  EXPECT_EQ(unicode::nfc("\u1100\u1161\u11a8"), "\uac01");  // Hangul L V T
  EXPECT_EQ(unicode::nfc("\u212b"), "\u00c5");              // singleton decomposition
  EXPECT_EQ(unicode::nfc("\u0958"), "\u0915\u093c");        // composition exclusion stays decomposed
  EXPECT_EQ(unicode::nfc("\u00e9\u0301"), "\u00e9\u0301");  // already NFC
  EXPECT_EQ(unicode::nfc(std::string("e\xff\u0301", 4)), std::string("e\xff\xcc\x81", 4));
  EXPECT_TRUE(unicode::is_nfc_quick("plain ASCII and caf\u00e9 and \u4f60\u597d"));
  EXPECT_FALSE(unicode::is_nfc_quick("cafe\u0301"));
}

TEST(Tokenizer, NfcNormalizerAppliesBeforePreTokenization) {
  auto j = tiny_json();
  j["normalizer"] = {{"type", "NFC"}};
  Tokenizer tok = Tokenizer::from_json(j.dump(), "nfc.json");
  EXPECT_EQ(tok.encode("cafe\u0301"), tok.encode("caf\u00e9"));
  EXPECT_NE(tiny().encode("cafe\u0301"), tiny().encode("caf\u00e9"));
}

TEST(SplitRegex, UsesJavaScriptWhiteSpaceAndAsciiContractions) {
  // U+FEFF is \s in JavaScript; (?i:'s) does not match the long s (U+017F) there.
  SplitRegex re("\\s+|'s|(?i:'s|'t|'re|'ve|'m|'ll|'d)", "test");
  std::vector<std::pair<size_t, size_t>> m;
  re.find_all("\xef\xbb\xbf", &m);
  EXPECT_EQ(m.size(), 1u);
  m.clear();
  re.find_all("'\xc5\xbf", &m);
  EXPECT_TRUE(m.empty());
  m.clear();
  re.find_all("'S", &m);
  EXPECT_EQ(m.size(), 1u);
  EXPECT_THROW(SplitRegex("(unclosed", "bad.json: field 'x'"), Error);
}

// --- malformed files: every message names the file and the field ---

TEST(TokenizerErrors, MissingFileNamesThePath) {
  try {
    Tokenizer::from_file("/nonexistent/tokenizer.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/tokenizer.json"));
  }
}

TEST(TokenizerErrors, NotJsonAndNotAnObject) {
  try {
    Tokenizer::from_json("{\"model\": ", "trunc.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("trunc.json: not valid JSON"));
  }
  EXPECT_THAT(load_error(nlohmann::json::array()), HasSubstr("bad.json: expected a JSON object"));
}

TEST(TokenizerErrors, EachMalformedFieldIsNamed) {
  struct Case {
    std::function<void(nlohmann::json&)> edit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](auto& j) { j.erase("model"); }, "bad.json: field 'model': missing"},
      {[](auto& j) { j["model"] = 3; }, "field 'model': expected an object"},
      {[](auto& j) { j["model"]["type"] = "Unigram"; }, "field 'model.type': unsupported tokenizer model type 'Unigram'"},
      {[](auto& j) { j["model"]["type"] = "WordPiece"; }, "unsupported tokenizer model type 'WordPiece'"},
      {[](auto& j) { j["model"]["type"] = 7; }, "field 'model.type': expected a string"},
      {[](auto& j) { j["model"].erase("vocab"); }, "field 'model.vocab': missing"},
      {[](auto& j) { j["model"]["vocab"] = nlohmann::json::array(); }, "field 'model.vocab': expected an object"},
      {[](auto& j) { j["model"]["vocab"]["zz"] = -1; }, "field 'model.vocab[\"zz\"]': id -1 is out of range"},
      {[](auto& j) { j["model"]["vocab"]["zz"] = "1"; }, "field 'model.vocab[\"zz\"]': expected a non-negative integer"},
      {[](auto& j) { j["model"]["vocab"]["zz"] = 10; }, "id 10 is also used by"},
      {[](auto& j) { j["model"].erase("merges"); }, "field 'model.merges': missing"},
      {[](auto& j) { j["model"]["merges"] = "x"; }, "field 'model.merges': expected an array"},
      {[](auto& j) { j["model"]["merges"][0] = "es"; }, "field 'model.merges[0]': expected \"left right\""},
      {[](auto& j) { j["model"]["merges"][0] = nlohmann::json::array({"e"}); }, "field 'model.merges[0]': expected \"left right\" or"},
      {[](auto& j) { j["model"]["merges"][0] = "e nope"; }, "field 'model.merges[0]': token \"nope\" is not in model.vocab"},
      {[](auto& j) { j["model"]["merges"][0] = {"Z", "q"}; }, "field 'model.merges[0]': merged token \"Zq\" is not in"},
      {[](auto& j) { j["model"]["dropout"] = 0.1; }, "field 'model.dropout': BPE dropout is not supported"},
      {[](auto& j) { j["model"]["byte_fallback"] = true; },
       "field 'model.byte_fallback': byte_fallback with a ByteLevel pre-tokenizer is not supported"},
      {[](auto& j) { j["model"]["byte_fallback"] = "yes"; }, "field 'model.byte_fallback': expected true or false"},
      {[](auto& j) { j["model"]["continuing_subword_prefix"] = "##"; }, "field 'model.continuing_subword_prefix'"},
      {[](auto& j) { j["model"]["unk_token"] = "<unk>"; }, "field 'model.unk_token': \"<unk>\" is not in model.vocab"},
      {[](auto& j) { j["added_tokens"] = 1; }, "field 'added_tokens': expected an array"},
      {[](auto& j) { j["added_tokens"][1].erase("id"); }, "field 'added_tokens[1].id': missing"},
      {[](auto& j) { j["added_tokens"][1]["content"] = ""; }, "field 'added_tokens[1].content': must not be empty"},
      {[](auto& j) { j["added_tokens"][2]["special"] = 1; }, "field 'added_tokens[2].special': expected true or false"},
      {[](auto& j) { j["normalizer"] = {{"type", "NFKC"}}; }, "field 'normalizer.type': unsupported normalizer type 'NFKC'"},
      {[](auto& j) { j["normalizer"] = {{"kind", "NFC"}}; }, "field 'normalizer.type': missing"},
      {[](auto& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; }, "field 'pre_tokenizer.type': unsupported pre_tokenizer type 'Whitespace'"},
      {[](auto& j) { j["pre_tokenizer"] = {{"type", "Metaspace"}}; }, "field 'pre_tokenizer.replacement': missing"},
      {[](auto& j) { j["pre_tokenizer"] = nullptr; }, "field 'pre_tokenizer': no ByteLevel step, but the decoder is ByteLevel"},
      {[](auto& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {{"Regex", "(a"}}; },
       "field 'pre_tokenizer.pretokenizers[0].pattern.Regex': invalid regex '(a'"},
      {[](auto& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {{"Glob", "*"}}; },
       "field 'pre_tokenizer.pretokenizers[0].pattern': expected {\"Regex\""},
      {[](auto& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Sideways"; },
       "field 'pre_tokenizer.pretokenizers[0].behavior': unknown split behavior 'Sideways'"},
      {[](auto& j) { j["pre_tokenizer"]["pretokenizers"] = 5; }, "field 'pre_tokenizer.pretokenizers': expected an array"},
      {[](auto& j) { j["decoder"] = {{"type", "WordPiece"}}; }, "field 'decoder.type': unsupported decoder type 'WordPiece'"},
      {[](auto& j) { j["model"]["vocab"]["zz"] = 300000000; },
       "field 'model.vocab[\"zz\"]': id 300000000 is far above the number of tokens"},
      {[](auto& j) { j["added_tokens"][1]["id"] = 2000000000; },
       "field 'added_tokens[1].id': id 2000000000 is far above the number of tokens"},
      {[](auto& j) {
         j["post_processor"] = {{"type", "TemplateProcessing"},
                                {"single", {{{"SpecialToken", {{"id", "<s>"}}}}}},
                                {"special_tokens", {{"<s>", {{"ids", {2147483000}}}}}}};
       },
       "field 'post_processor': BOS id 2147483000 is not a token of this tokenizer"},
      {[](auto& j) {
         j["post_processor"] = {{"type", "TemplateProcessing"},
                                {"single", {{{"SpecialToken", {{"id", "<s>"}}}}}},
                                {"special_tokens", {{"<s>", {{"ids", {int64_t{1} << 40}}}}}}};
       },
       "field 'post_processor': BOS id 1099511627776 is not a token"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    auto j = tiny_json();
    cases[i].edit(j);
    EXPECT_THAT(load_error(j), HasSubstr(cases[i].message)) << "case " << i;
  }
}

TEST(TokenizerErrors, TinyFileWithAHugeIdIsRefusedWithoutAllocating) {
  // 60 bytes whose one id is near 2^31: dense tables sized by the id would need tens of GB.
  const std::string text =
      R"({"model":{"type":"BPE","vocab":{"a":2147483000},"merges":[]}})";
  EXPECT_EQ(load_error(nlohmann::json::parse(text)),
            "bad.json: field 'model.vocab[\"a\"]': id 2147483000 is far above the number of tokens (1 in model.vocab "
            "+ 0 added): sparse vocabularies are not supported (the largest id may be 1025)");
}

// --- trainer ---

BpeTrainerOptions tiny_options() {
  BpeTrainerOptions opt;
  opt.vocab_size = 600;
  opt.special_tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|system|>", "<|user|>", "<|assistant|>"};
  return opt;
}

TEST(BpeTrainer, ReproducesTheCommittedTinyTokenizerExactly) {
  std::string json = train_bpe_files({tokenizer_fixture("train_corpus.txt")}, tiny_options());
  EXPECT_EQ(json, read_file(tokenizer_fixture("tiny_tokenizer.json")));
}

TEST(BpeTrainer, OutputLoadsBackAndEncodesItsTrainingText) {
  std::string text = read_file(tokenizer_fixture("train_corpus.txt"));
  auto opt = tiny_options();
  opt.vocab_size = 400;
  Tokenizer tok = Tokenizer::from_json(train_bpe({text, "x<|im_end|>y"}, opt), "trained.json");
  EXPECT_EQ(tok.vocab_size(), 400);
  EXPECT_EQ(tok.token_to_id("<|im_end|>"), 2);
  auto ids = tok.encode(text);
  EXPECT_EQ(tok.decode(ids), text);
  EXPECT_LT(ids.size(), text.size() / 2);  // merges compress the text it was trained on
  EXPECT_EQ(tok.encode("<|im_start|>user"), tok.encode("<|im_start|>user"));
  EXPECT_EQ(tok.encode("<|im_start|>")[0], 1);
  // Special tokens never take part in merges.
  auto j = nlohmann::json::parse(train_bpe({text, "x<|im_end|>y"}, opt));
  for (const auto& m : j["model"]["merges"]) {
    EXPECT_EQ(m[0].get<std::string>().find("<|"), std::string::npos);
  }
}

TEST(BpeTrainer, EveryPatternTrainsAndIsDeterministic) {
  std::string text = read_file(tokenizer_fixture("train_corpus.txt"));
  for (const char* pattern : {"gpt2", "llama3", "qwen2"}) {
    BpeTrainerOptions opt;
    opt.vocab_size = 320;
    opt.pattern = pattern;
    std::string a = train_bpe({text}, opt);
    EXPECT_EQ(a, train_bpe({text}, opt)) << pattern;
    Tokenizer tok = Tokenizer::from_json(a, pattern);
    EXPECT_EQ(tok.decode(tok.encode(text)), text);
  }
}

TEST(BpeTrainer, RejectsBadOptions) {
  BpeTrainerOptions opt;
  opt.vocab_size = 100;
  EXPECT_THROW(train_bpe({"abc"}, opt), Error);
  opt.vocab_size = 300;
  opt.pattern = "bert";
  try {
    train_bpe({"abc"}, opt);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown pre-tokenizer pattern 'bert'"));
  }
  opt.pattern = "qwen2";
  opt.special_tokens = {"<a>", "<a>"};
  EXPECT_THROW(train_bpe({"abc"}, opt), Error);
  EXPECT_THROW(train_bpe_files({"/nonexistent/input.txt"}, BpeTrainerOptions{}), Error);
}

TEST(Gpt2Converter, RejectsMalformedVocabBpe) {
  std::string dir = ::testing::TempDir();
  write_file_atomic(dir + "/enc.json", R"({"a": 0, "b": 1, "ab": 2})");
  write_file_atomic(dir + "/bad.bpe", "#version: 0.2\na b\nabc\n");
  try {
    convert_gpt2_vocab(dir + "/enc.json", dir + "/bad.bpe");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("bad.bpe:3: expected two tokens"));
  }
  write_file_atomic(dir + "/ok.bpe", "#version: 0.2\na b\n");
  Tokenizer tok = Tokenizer::from_json(convert_gpt2_vocab(dir + "/enc.json", dir + "/ok.bpe"), "converted");
  EXPECT_EQ(tok.encode("ab"), std::vector<int32_t>{2});
  write_file_atomic(dir + "/enc2.json", "[1]");
  EXPECT_THROW(convert_gpt2_vocab(dir + "/enc2.json", dir + "/ok.bpe"), Error);
}

}  // namespace
}  // namespace rlvr::core
