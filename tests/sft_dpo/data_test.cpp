// Tokenization, masking, truncation, packing, bad rows and epoch order of SFT/DPO data.
#include "sft_dpo/data.h"

#include <algorithm>
#include <set>

#include <gtest/gtest.h>
#include <zlib.h>

#include "core/fs.h"
#include "core/tokenizer/bpe_trainer.h"
#include "sft_dpo/reference_cache.h"
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

TEST(SftData, ToolTurnsReachTheCheckpointsTemplateAndOneItCannotRenderIsABadRow) {
  // Mistral Nemo's real template (tests/fixtures/chat_templates) prints a tool result with the
  // tool_call_id it answers, and raises when that id is missing: a per-row error naming the line.
  auto tok = tokenizer();
  TempDir dir;
  const std::string tool_row =
      R"({"messages": [{"role": "user", "content": "weather?"}, {"role": "assistant", "content": "calling"}, )"
      R"({"role": "tool", "content": "sunny", "name": "weather", "tool_call_id": "abc123def"}, )"
      R"({"role": "user", "content": "so?"}, {"role": "assistant", "content": "no umbrella"}]})";
  std::string without_id = tool_row;
  without_id.replace(without_id.find(R"(, "tool_call_id": "abc123def")"), std::string(R"(, "tool_call_id": "abc123def")").size(), "");
  std::string path = dir.write("sft.jsonl", tool_row + "\n" + without_id + "\n");
  TokenizeSettings s;
  s.chat_format = std::make_shared<const core::ChatFormat>(core::ChatFormat::jinja(
      tok, core::read_file(std::string(RLVR_SOURCE_DIR) + "/tests/fixtures/chat_templates/mistral_nemo.jinja"),
      "mistral_nemo.jinja", "", "<|endoftext|>"));
  std::string msg = rlvr::testing::error_message([&] { load_sft_dataset(path, tok, s); });
  EXPECT_EQ(msg.rfind(path + ":2: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("Tool call IDs should be alphanumeric strings with length 9!"), std::string::npos) << msg;
  s.on_bad_row = core::BadRowPolicy::kSkip;
  SftDataset ds = load_sft_dataset(path, tok, s);
  EXPECT_EQ(ds.stats.rows, 1);
  EXPECT_EQ(ds.stats.skipped, 1);
  ASSERT_EQ(ds.rows.size(), 1u);
  EXPECT_EQ(tok.decode(ds.rows[0].ids),
            "[INST]weather?[/INST]calling<|endoftext|>[TOOL_RESULTS]{\"content\": sunny, \"call_id\": \"abc123def\"}"
            "[/TOOL_RESULTS][INST]so?[/INST]no umbrella<|endoftext|>");
  std::vector<int32_t> targets;
  for (size_t t = 0; t < ds.rows[0].ids.size(); ++t) {
    if (ds.rows[0].loss_mask[t]) targets.push_back(ds.rows[0].ids[t]);
  }
  EXPECT_EQ(tok.decode(targets), "calling<|endoftext|>no umbrella<|endoftext|>");
}

TEST(SftData, MalformedRowsNameFileAndLine) {
  auto tok = tokenizer();
  TempDir dir;
  std::string path = dir.write("sft.jsonl", row("Hi", "7") + "\n{not json\n" +
                                                R"({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": ""}]})" +
                                                "\n" + R"({"question": "no messages"})" + "\n");
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

// --- TRL formats, gzip inputs and mixes (issue 15) ---------------------------------------------

std::string targets_of(const core::Tokenizer& tok, const std::vector<int32_t>& ids, const std::vector<uint8_t>& mask) {
  std::vector<int32_t> t;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (mask[i]) t.push_back(ids[i]);
  }
  return tok.decode(t);
}

TEST(SftFormats, PromptCompletionTrainsOnlyTheCompletion) {
  auto tok = tokenizer();
  TempDir dir;
  std::string p = dir.write("d.jsonl",
                            R"({"prompt": "What is 3 plus 4?", "completion": "7"})"
                            "\n"
                            R"({"prompt": [{"role": "user", "content": "What is 3 plus 4?"}, {"role": "assistant", "content": "Tom has 5"}, {"role": "user", "content": "and 2 more?"}], "completion": [{"role": "assistant", "content": "9"}]})"
                            "\n");
  SftDataset ds = load_sft_dataset(p, tok, TokenizeSettings{});
  ASSERT_EQ(ds.rows.size(), 2u);
  // Same ids as the conversation, targets only in the completion.
  bool truncated = false;
  TokenizedSequence conv = tokenize_conversation(tok, "tulu", {{"user", "What is 3 plus 4?"}, {"assistant", "7"}},
                                                 1024, &truncated);
  EXPECT_EQ(ds.rows[0].ids, conv.ids);
  EXPECT_EQ(targets_of(tok, ds.rows[0].ids, ds.rows[0].loss_mask), "7<|endoftext|>");
  // The assistant turn inside the prompt is context, not a target (a `messages` row would train it).
  EXPECT_EQ(targets_of(tok, ds.rows[1].ids, ds.rows[1].loss_mask), "9<|endoftext|>");
}

TEST(SftFormats, TextRowsTrainOnEveryTokenWithoutAChatTemplate) {
  auto tok = tokenizer();
  TempDir dir;
  std::string p = dir.write("d.jsonl", R"({"text": "Tom has 5 apples"})"
                                       "\n"
                                       R"({"text": "Tom has 5 apples<|endoftext|>"})"
                                       "\n");
  SftDataset ds = load_sft_dataset(p, tok, TokenizeSettings{});
  ASSERT_EQ(ds.rows.size(), 2u);
  std::vector<int32_t> expect = tok.encode("Tom has 5 apples");
  expect.push_back(*tok.token_to_id("<|endoftext|>"));  // EOS appended, as TRL does
  EXPECT_EQ(ds.rows[0].ids, expect);
  EXPECT_EQ(ds.rows[1].ids, expect);  // not appended twice
  EXPECT_EQ(ds.rows[0].loss_mask[0], 0);
  EXPECT_EQ(ds.rows[0].num_targets, static_cast<int64_t>(expect.size()) - 1);
  EXPECT_EQ(tok.decode(ds.rows[0].ids), "Tom has 5 apples<|endoftext|>");
}

TEST(SftFormats, MixedLayoutsAndOneBadRowInAGzipFile) {
  auto tok = tokenizer();
  TempDir dir;
  std::string rows = row("What is 3 plus 4?", "7") + "\n" +
                     R"({"prompt": "What is 3 plus 4?", "completion": [{"role": "user", "content": "7"}]})" + "\n" +
                     R"({"prompt": "What is 3 plus 4?", "completion": "7"})" + "\n" + R"({"text": "Tom"})" + "\n";
  std::string p = dir.path() + "/d.jsonl.gz";
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, rows.data(), static_cast<unsigned>(rows.size()));
  gzclose(f);
  TokenizeSettings skip;
  skip.on_bad_row = core::BadRowPolicy::kSkip;
  SftDataset ds = load_sft_dataset(p, tok, skip);
  EXPECT_EQ(ds.rows.size(), 3u);
  EXPECT_EQ(ds.stats.skipped, 1);
  EXPECT_EQ(ds.stats.first_error,
            p + ":2: 'completion[0].role': 'user'; expected only assistant turns in the completion");
  EXPECT_EQ(ds.rows[2].lines, (std::vector<int64_t>{4}));
}

std::string numbered_rows(const std::string& tag, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += row(tag + " " + std::to_string(i), "7") + "\n";
  return out;
}

TEST(Mix, SelectRowsFollowsOpenInstructsDatasetMixer) {
  // A fraction takes int(weight x n) distinct rows.
  auto half = select_rows(10, DataSource{"a", 0.5, 0}, 1, 0);
  EXPECT_EQ(half.size(), 5u);
  EXPECT_EQ(std::set<int64_t>(half.begin(), half.end()).size(), 5u);
  // Above 1.0: every row floor(t/n) times, then t mod n distinct rows drawn.
  auto up = select_rows(4, DataSource{"a", 2.5, 0}, 1, 0);
  ASSERT_EQ(up.size(), 10u);
  EXPECT_EQ(std::vector<int64_t>(up.begin(), up.begin() + 8), (std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2, 3}));
  EXPECT_NE(up[8], up[9]);
  // A row count, also above n.
  EXPECT_EQ(select_rows(10, DataSource{"a", 1.0, 3}, 1, 0).size(), 3u);
  EXPECT_EQ(select_rows(3, DataSource{"a", 1.0, 7}, 1, 0).size(), 7u);
  // Deterministic in (seed, source index), different across them.
  EXPECT_EQ(select_rows(100, DataSource{"a", 0.3, 0}, 5, 1), select_rows(100, DataSource{"a", 0.3, 0}, 5, 1));
  EXPECT_NE(select_rows(100, DataSource{"a", 0.3, 0}, 5, 1), select_rows(100, DataSource{"a", 0.3, 0}, 6, 1));
  EXPECT_NE(select_rows(100, DataSource{"a", 0.3, 0}, 5, 1), select_rows(100, DataSource{"a", 0.3, 0}, 5, 2));
  EXPECT_EQ(rlvr::testing::error_message([] { select_rows(10, DataSource{"a", 0.05, 0}, 1, 0); }),
            "weight 0.05 of 10 usable rows selects no row; expected weight >= 1/10 (or rows >= 1)");
}

TEST(Mix, TrainSourcesFromTrainFileOrTrainFiles) {
  core::TrainConfig tc;
  EXPECT_EQ(rlvr::testing::error_message([&] { train_sources(tc); }),
            "train.train_file is empty; expected a JSONL file (or train.train_files) for mode sft");
  tc.train_file = "a.jsonl";
  auto one = train_sources(tc);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].path, "a.jsonl");
  tc.train_files.push_back({"b.jsonl", 0.5, 0});
  EXPECT_EQ(rlvr::testing::error_message([&] { train_sources(tc); }),
            "train.train_file and train.train_files are both set; expected one of them (a single file, or a list "
            "of {path, weight | rows})");
  tc.train_file.clear();
  tc.train_files.push_back({"", 1.0, 0});
  EXPECT_EQ(rlvr::testing::error_message([&] { train_sources(tc); }),
            "train.train_files[1].path is empty; expected a JSONL file");
}

TEST(Mix, SftMixDrawsPerFileAndShufflesWithTheSeed) {
  auto tok = tokenizer();
  TempDir dir;
  std::string a = dir.write("a.jsonl", numbered_rows("Tom", 10));
  std::string b = dir.write("b.jsonl", numbered_rows("What", 4));
  std::vector<DataSource> mix = {{a, 0.5, 0}, {b, 1.0, 6}};
  SftDataset ds = load_sft_mix(mix, 3, tok, TokenizeSettings{});
  ASSERT_EQ(ds.rows.size(), 11u);
  EXPECT_EQ(ds.stats.rows, 11);
  int from_a = 0, from_b = 0;
  for (const auto& r : ds.rows) {
    const std::string text = tok.decode(r.ids);
    from_a += text.find("Tom") != std::string::npos;
    from_b += text.find("What") != std::string::npos;
  }
  EXPECT_EQ(from_a, 5);
  EXPECT_EQ(from_b, 6);  // 4 rows once, then 2 more drawn
  // Shuffled: the files are interleaved, and the same seed gives the same rows in the same order.
  SftDataset again = load_sft_mix(mix, 3, tok, TokenizeSettings{});
  SftDataset other = load_sft_mix(mix, 4, tok, TokenizeSettings{});
  std::vector<std::vector<int32_t>> ids, ids_again, ids_other;
  for (const auto& r : ds.rows) ids.push_back(r.ids);
  for (const auto& r : again.rows) ids_again.push_back(r.ids);
  for (const auto& r : other.rows) ids_other.push_back(r.ids);
  EXPECT_EQ(ids, ids_again);
  EXPECT_NE(ids, ids_other);
  bool a_first_block = true;
  for (int i = 0; i < 5; ++i) a_first_block &= tok.decode(ds.rows[static_cast<size_t>(i)].ids).find("Tom") != std::string::npos;
  EXPECT_FALSE(a_first_block);
  // train.train_file alone (weight 1) keeps the file order.
  SftDataset plain = load_sft_mix({{a, 1.0, 0}}, 3, tok, TokenizeSettings{});
  SftDataset file = load_sft_dataset(a, tok, TokenizeSettings{});
  ASSERT_EQ(plain.rows.size(), file.rows.size());
  for (size_t i = 0; i < plain.rows.size(); ++i) EXPECT_EQ(plain.rows[i].ids, file.rows[i].ids);
}

TEST(Mix, BadFileInAMixNamesTheFile) {
  auto tok = tokenizer();
  TempDir dir;
  std::string a = dir.write("a.jsonl", numbered_rows("Tom", 3));
  std::string bad = dir.write("bad.jsonl", "{\"messages\": 1}\n");
  EXPECT_EQ(rlvr::testing::error_message([&] { load_sft_mix({{a, 1.0, 0}, {bad, 1.0, 0}}, 1, tok, TokenizeSettings{}); }),
            bad + ":1: 'messages': expected a list of {\"role\", \"content\"} messages, got number");
  EXPECT_EQ(rlvr::testing::error_message([&] { load_sft_mix({{a, 0.1, 0}, {a, 1.0, 0}}, 1, tok, TokenizeSettings{}); }),
            "train.train_files[0] (" + a + "): weight 0.1 of 3 usable rows selects no row; expected weight >= 1/3 "
            "(or rows >= 1)");
}

TEST(Mix, DpoMixAndItsIdentity) {
  auto tok = tokenizer();
  TempDir dir;
  std::string a = dir.write("a.jsonl", R"({"prompt": "What is 3 plus 4?", "chosen": "7", "rejected": "5"})"
                                       "\n"
                                       R"({"prompt": "Tom has 5", "chosen": "7", "rejected": "2"})"
                                       "\n");
  PreferenceDataset ds = load_preference_mix({{a, 2.0, 0}}, 1, tok, TokenizeSettings{});
  EXPECT_EQ(ds.pairs.size(), 4u);
  // The identity changes with the data, the weights and (for a real mix) the seed.
  const std::string id = mix_identity({{a, 2.0, 0}}, 1);
  EXPECT_EQ(id, mix_identity({{a, 2.0, 0}}, 1));
  EXPECT_NE(id, mix_identity({{a, 2.0, 0}}, 2));
  EXPECT_NE(id, mix_identity({{a, 1.5, 0}}, 1));
  EXPECT_EQ(mix_identity({{a, 1.0, 0}}, 1), hash_file(a));  // train_file alone: the file's hash, as before
}

}  // namespace
}  // namespace rlvr::sft_dpo
