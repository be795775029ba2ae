// Tokenization, masking, truncation, packing, bad rows and epoch order of SFT/DPO data.
#include "sft_dpo/data.h"

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "core/tokenizer/bpe_trainer.h"
#include "tests/test_util.h"

namespace rlvr::sft_dpo {
namespace {

using rlvr::testing::TempDir;

core::Tokenizer tokenizer() {
  core::BpeTrainerOptions o;
  o.vocab_size = 300;
  o.special_tokens = {"<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>"};
  std::string text = "What is 3 plus 4? 3 + 4 = 7 #### 7. Tom has 5 apples and buys 2 more.";
  return core::Tokenizer::from_json(core::train_bpe({text, text, text}, o), "test tokenizer");
}

std::string row(const std::string& user, const std::string& assistant) {
  return R"({"messages": [{"role": "user", "content": ")" + user + R"("}, {"role": "assistant", "content": ")" +
         assistant + R"("}]})";
}

TEST(SftData, OnlyAssistantTokensAreTargets) {
  auto tok = tokenizer();
  bool truncated = false;
  std::vector<core::ChatMessage> msgs = {{"user", "What is 3 plus 4?"}, {"assistant", "3 + 4 = 7"}};
  TokenizedSequence s = tokenize_conversation(tok, "tulu", msgs, 1024, &truncated);
  EXPECT_FALSE(truncated);
  core::ChatEncoding enc = core::apply_chat_template(tok, "tulu", msgs);
  ASSERT_EQ(s.ids.size(), enc.ids.size());
  // The targets decode to the assistant content plus the end-of-turn token.
  std::vector<int32_t> target_ids;
  for (size_t t = 0; t < s.ids.size(); ++t) {
    if (s.loss_mask[t]) target_ids.push_back(s.ids[t]);
  }
  EXPECT_EQ(tok.decode(target_ids), "3 + 4 = 7<|endoftext|>");
  EXPECT_EQ(s.num_targets(), static_cast<int64_t>(target_ids.size()));
}

TEST(SftData, EveryAssistantTurnOfAMultiTurnConversationIsTrained) {
  auto tok = tokenizer();
  bool truncated = false;
  std::vector<core::ChatMessage> msgs = {{"system", "Tom"},  {"user", "What is 3 plus 4?"}, {"assistant", "7"},
                                         {"user", "and 5 more?"}, {"assistant", "12"}};
  TokenizedSequence s = tokenize_conversation(tok, "tulu", msgs, 1024, &truncated);
  std::vector<int32_t> target_ids;
  for (size_t t = 0; t < s.ids.size(); ++t) {
    if (s.loss_mask[t]) target_ids.push_back(s.ids[t]);
  }
  EXPECT_EQ(tok.decode(target_ids), "7<|endoftext|>12<|endoftext|>");
}

TEST(SftData, LongRowsAreTruncatedAndCounted) {
  auto tok = tokenizer();
  TempDir dir;
  std::string path = dir.write("sft.jsonl", row("What is 3 plus 4?", "3 + 4 = 7 #### 7. Tom has 5 apples and buys 2 more.") +
                                                "\n" + row("Hi", "7") + "\n");
  TokenizeSettings s;
  s.max_seq_len = 16;
  SftDataset ds = load_sft_dataset(path, tok, s);
  ASSERT_EQ(ds.rows.size(), 2u);
  EXPECT_EQ(ds.stats.truncated, 1);
  EXPECT_EQ(ds.rows[0].ids.size(), 16u);
  EXPECT_EQ(ds.rows[0].lines, std::vector<int64_t>{1});
  EXPECT_EQ(ds.rows[1].lines, std::vector<int64_t>{2});
}

TEST(SftData, RowWithNothingTrainableWithinMaxSeqLenIsABadRow) {
  auto tok = tokenizer();
  TempDir dir;
  std::string long_prompt = "Tom has 5 apples and buys 2 more. Tom has 5 apples and buys 2 more.";
  std::string path = dir.write("sft.jsonl", row("Hi", "7") + "\n" + row(long_prompt, "7") + "\n");
  TokenizeSettings s;
  s.max_seq_len = 10;
  std::string msg = rlvr::testing::error_message([&] { load_sft_dataset(path, tok, s); });
  EXPECT_NE(msg.find(path + ":2: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("max_seq_len 10"), std::string::npos) << msg;
  s.on_bad_row = core::BadRowPolicy::kSkip;
  SftDataset ds = load_sft_dataset(path, tok, s);
  EXPECT_EQ(ds.stats.rows, 1);
  EXPECT_EQ(ds.stats.skipped, 1);
}

TEST(SftData, MalformedRowsNameFileAndLine) {
  auto tok = tokenizer();
  TempDir dir;
  std::string path = dir.write("sft.jsonl", row("Hi", "7") + "\n{not json\n" +
                                                R"({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": ""}]})" +
                                                "\n" + R"({"text": "no messages"})" + "\n");
  TokenizeSettings s;
  std::string msg = rlvr::testing::error_message([&] { load_sft_dataset(path, tok, s); });
  EXPECT_EQ(msg.rfind(path + ":2: ", 0), 0u) << msg;
  s.on_bad_row = core::BadRowPolicy::kSkip;
  SftDataset ds = load_sft_dataset(path, tok, s);
  EXPECT_EQ(ds.stats.rows, 1);
  EXPECT_EQ(ds.stats.skipped, 3);
  EXPECT_EQ(ds.stats.first_error.rfind(path + ":2: ", 0), 0u) << ds.stats.first_error;
}

TEST(SftData, FileWithoutUsableRowsIsAnError) {
  auto tok = tokenizer();
  TempDir dir;
  std::string path = dir.write("sft.jsonl", "{bad\n");
  TokenizeSettings s;
  s.on_bad_row = core::BadRowPolicy::kSkip;
  std::string msg = rlvr::testing::error_message([&] { load_sft_dataset(path, tok, s); });
  EXPECT_NE(msg.find("no usable rows"), std::string::npos) << msg;
}

TEST(DpoData, TargetsAreTheResponseAfterTheSharedPrompt) {
  auto tok = tokenizer();
  TempDir dir;
  std::string path = dir.write(
      "dpo.jsonl",
      R"({"chosen": [{"role": "user", "content": "What is 3 plus 4?"}, {"role": "assistant", "content": "7"}], )"
      R"("rejected": [{"role": "user", "content": "What is 3 plus 4?"}, {"role": "assistant", "content": "3 + 4 = 8"}]})"
      "\n"
      R"({"prompt": "What is 3 plus 4?", "chosen": "#### 7", "rejected": "#### 8"})"
      "\n");
  PreferenceDataset ds = load_preference_dataset(path, tok, TokenizeSettings{});
  ASSERT_EQ(ds.pairs.size(), 2u);
  auto targets = [&](const TokenizedSequence& s) {
    std::vector<int32_t> ids;
    for (size_t t = 0; t < s.ids.size(); ++t) {
      if (s.loss_mask[t]) ids.push_back(s.ids[t]);
    }
    return tok.decode(ids);
  };
  EXPECT_EQ(targets(ds.pairs[0].chosen), "7<|endoftext|>");
  EXPECT_EQ(targets(ds.pairs[0].rejected), "3 + 4 = 8<|endoftext|>");
  EXPECT_EQ(targets(ds.pairs[1].rejected), "#### 8<|endoftext|>");
  EXPECT_EQ(ds.pairs[1].line, 2);
}

TEST(DpoData, EarlierAssistantTurnsOfTheSharedPromptAreNotTargets) {
  auto tok = tokenizer();
  TempDir dir;
  std::string prefix = R"({"role": "user", "content": "What is 3 plus 4?"}, {"role": "assistant", "content": "7"}, )"
                       R"({"role": "user", "content": "and 5 more?"}, )";
  std::string path = dir.write("dpo.jsonl", "{\"chosen\": [" + prefix + R"({"role": "assistant", "content": "12"}], )" +
                                                "\"rejected\": [" + prefix + R"({"role": "assistant", "content": "13"}]})" + "\n");
  PreferenceDataset ds = load_preference_dataset(path, tok, TokenizeSettings{});
  ASSERT_EQ(ds.pairs.size(), 1u);
  std::vector<int32_t> ids;
  const auto& c = ds.pairs[0].chosen;
  for (size_t t = 0; t < c.ids.size(); ++t) {
    if (c.loss_mask[t]) ids.push_back(c.ids[t]);
  }
  EXPECT_EQ(tok.decode(ids), "12<|endoftext|>");
}

TEST(DpoData, MissingRejectedNamesFileAndLine) {
  auto tok = tokenizer();
  TempDir dir;
  std::string path = dir.write("dpo.jsonl", R"({"prompt": "x", "chosen": "y"})" "\n");
  std::string msg = rlvr::testing::error_message([&] { load_preference_dataset(path, tok, TokenizeSettings{}); });
  EXPECT_EQ(msg.rfind(path + ":1: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("rejected"), std::string::npos) << msg;
}

TEST(EpochOrder, IsAPermutationThatDependsOnlyOnSeedAndEpoch) {
  auto a = epoch_order(100, 1, 0);
  EXPECT_EQ(a, epoch_order(100, 1, 0));
  EXPECT_NE(a, epoch_order(100, 1, 1));
  EXPECT_NE(a, epoch_order(100, 2, 0));
  std::set<int64_t> seen(a.begin(), a.end());
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(*seen.begin(), 0);
  EXPECT_EQ(*seen.rbegin(), 99);
}

}  // namespace
}  // namespace rlvr::sft_dpo
