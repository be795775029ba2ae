// JSONL data sets: row formats of open-instruct / TRL and the bad-row policy.
#include "core/data/jsonl.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace rlvr::core {
namespace {

using nlohmann::json;
using rlvr::testing::error_message;
using rlvr::testing::TempDir;

TEST(Jsonl, ReadsRowsWithLineNumbersAndSkipsBlankLines) {
  TempDir dir;
  std::string p = dir.write("d.jsonl",
                            "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                            "{\"role\":\"assistant\",\"content\":\"yo\"}]}\n\n"
                            "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
                            "{\"role\":\"assistant\",\"content\":\"b\"}]}\r\n");
  std::vector<SftExample> rows;
  auto stats = read_jsonl(p, BadRowPolicy::kStop,
                          [&](int64_t line, const json& j) { rows.push_back(parse_sft_row(j, line)); });
  EXPECT_EQ(stats.rows, 2);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].line, 1);
  EXPECT_EQ(rows[1].line, 3);
  EXPECT_EQ(rows[1].messages[1].content, "b");
}

TEST(Jsonl, MessagesAreChatMessagesForTheChatTemplate) {
  // parse_messages yields core::ChatMessage, the type apply_chat_template() takes.
  std::vector<ChatMessage> msgs =
      parse_messages(json::parse(R"([{"role":"user","content":"q"},{"role":"assistant","content":"a"}])"), "messages");
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].role, "user");
  EXPECT_EQ(msgs[1].content, "a");
  std::string text = render_chat_template("tulu", msgs, ChatTemplateOptions{}, "</s>");
  EXPECT_EQ(text, "<|user|>\nq\n<|assistant|>\na</s>");
}

TEST(Jsonl, BadRowStopsWithFileAndLine) {
  TempDir dir;
  std::string p = dir.write("d.jsonl",
                            "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
                            "{\"role\":\"assistant\",\"content\":\"b\"}]}\n"
                            "{\"messages\": [}\n");
  std::string msg = error_message([&] {
    read_jsonl(p, BadRowPolicy::kStop, [](int64_t line, const json& j) { parse_sft_row(j, line); });
  });
  EXPECT_EQ(msg, p + ":2: invalid JSON at column 15: syntax error while parsing value - "
                     "unexpected '}'; expected '[', '{', or a literal; near '{\"messages\": [}'");
}

TEST(Jsonl, HugeInvalidLineIsQuotedShortly) {
  TempDir dir;
  // A 5 MB string that never closes: nlohmann's message would echo all of it ("last read").
  std::string p = dir.write("d.jsonl", "{\"messages\": \"" + std::string(5 << 20, 'x') + "\n");
  rlvr::Error err("");
  try {
    read_jsonl(p, BadRowPolicy::kStop, [](int64_t, const json&) {});
    FAIL() << "no error";
  } catch (const rlvr::Error& e) {
    err = e;
  }
  const std::string msg = err.what();
  EXPECT_LT(msg.size(), 400u) << msg.substr(0, 400);
  EXPECT_EQ(msg.rfind(p + ":1: invalid JSON at column ", 0), 0u) << msg.substr(0, 400);
  EXPECT_NE(msg.find("near '...xxxxxxxx"), std::string::npos) << msg.substr(0, 400);
  EXPECT_EQ(err.hint(), "set train.on_bad_row: skip to skip and count bad rows instead");
}

TEST(Jsonl, CallerChoosesTheSkipHint) {
  TempDir dir;
  std::string p = dir.write("d.jsonl", "{oops\n");
  try {
    read_jsonl(p, BadRowPolicy::kStop, [](int64_t, const json&) {}, "pass --on-bad-row skip");
    FAIL() << "no error";
  } catch (const rlvr::Error& e) {
    EXPECT_EQ(e.hint(), "pass --on-bad-row skip");
  }
}

TEST(Jsonl, SkipPolicyCountsBadRows) {
  TempDir dir;
  std::string p = dir.write("d.jsonl",
                            "not json\n"
                            "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
                            "{\"role\":\"assistant\",\"content\":\"\"}]}\n"
                            "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
                            "{\"role\":\"assistant\",\"content\":\"ok\"}]}\n"
                            "[1,2]\n");
  auto stats = read_jsonl(p, BadRowPolicy::kSkip, [](int64_t line, const json& j) { parse_sft_row(j, line); });
  EXPECT_EQ(stats.rows, 1);
  EXPECT_EQ(stats.skipped, 3);
  EXPECT_EQ(stats.first_error.rfind(p + ":1: invalid JSON", 0), 0u) << stats.first_error;
}

TEST(Jsonl, MissingFileIsAClearError) {
  EXPECT_EQ(error_message([] { read_jsonl("/nonexistent.jsonl", BadRowPolicy::kStop, nullptr); }),
            "/nonexistent.jsonl: cannot open for reading: No such file or directory");
}

TEST(Jsonl, SftRowErrors) {
  EXPECT_EQ(error_message([] { parse_sft_row(json::parse("{}"), 1); }),
            "missing field 'messages'; expected a list of messages");
  EXPECT_EQ(error_message([] { parse_sft_row(json::parse("{\"messages\": \"hi\"}"), 1); }),
            "'messages': expected a list of {\"role\", \"content\"} messages, got string");
  EXPECT_EQ(error_message([] {
              parse_sft_row(json::parse(R"({"messages": [{"role": "bot", "content": "x"}]})"), 1);
            }),
            "'messages[0].role': 'bot' is not one of: system, user, assistant");
  EXPECT_EQ(error_message([] {
              parse_sft_row(json::parse(R"({"messages": [{"role": "user", "content": 3}]})"), 1);
            }),
            "'messages[0].content': expected a string");
  EXPECT_EQ(error_message([] {
              parse_sft_row(json::parse(R"({"messages": [{"role": "user", "content": "q"},
                                                           {"role": "assistant", "content": ""}]})"), 1);
            }),
            "'messages': no non-empty assistant turn to train on");
  EXPECT_EQ(error_message([] { parse_sft_row(json::parse("[]"), 1); }),
            "expected a JSON object per line, got array");
}

TEST(Jsonl, PreferenceRowTuluFormatSplitsSharedPrompt) {
  auto ex = parse_preference_row(json::parse(R"({
    "chosen": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
    "rejected": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"}]})"), 7);
  EXPECT_EQ(ex.line, 7);
  ASSERT_EQ(ex.prompt.size(), 1u);
  EXPECT_EQ(ex.prompt[0].content, "2+2?");
  ASSERT_EQ(ex.chosen.size(), 1u);
  EXPECT_EQ(ex.chosen[0].content, "4");
  EXPECT_EQ(ex.rejected[0].content, "5");
}

TEST(Jsonl, PreferenceRowIdenticalResponsesStillSplitAtLastAssistantTurn) {
  auto ex = parse_preference_row(json::parse(R"({
    "chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "same"}],
    "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "same"}]})"), 1);
  EXPECT_EQ(ex.prompt.size(), 1u);
  EXPECT_EQ(ex.chosen[0].content, "same");
}

TEST(Jsonl, PreferenceRowTrlFormat) {
  auto ex = parse_preference_row(json::parse(R"({"prompt": "Say hi", "chosen": "hi", "rejected": "no"})"), 1);
  EXPECT_EQ(ex.prompt[0].role, "user");
  EXPECT_EQ(ex.chosen[0].role, "assistant");
  EXPECT_EQ(ex.rejected[0].content, "no");
  EXPECT_EQ(error_message([] {
              parse_preference_row(json::parse(R"({"prompt": "p", "chosen": "", "rejected": "no"})"), 1);
            }),
            "'chosen': the response is empty");
  EXPECT_EQ(error_message([] { parse_preference_row(json::parse(R"({"prompt": "p", "chosen": "x"})"), 1); }),
            "missing field 'rejected'; expected a list of messages or a string");
  EXPECT_EQ(error_message([] {
              parse_preference_row(json::parse(R"({
    "chosen": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "x"}],
    "rejected": [{"role": "user", "content": "b"}, {"role": "assistant", "content": "y"}]})"), 1);
            }),
            "'chosen' and 'rejected' share no prompt turns");
}

TEST(Jsonl, PromptRow) {
  auto ex = parse_prompt_row(json::parse(R"({"messages": [{"role": "user", "content": "1+1"}],
                                            "ground_truth": "2", "dataset": "gsm8k"})"), 3);
  EXPECT_EQ(ex.ground_truth, "2");
  EXPECT_EQ(ex.dataset, "gsm8k");
  auto ifeval = parse_prompt_row(json::parse(R"({"messages": [{"role": "user", "content": "x"}],
      "ground_truth": {"instruction_id": ["punctuation:no_comma"], "kwargs": [{}]}, "dataset": ["ifeval"]})"), 1);
  EXPECT_EQ(ifeval.ground_truth, R"({"instruction_id":["punctuation:no_comma"],"kwargs":[{}]})");
  EXPECT_EQ(ifeval.dataset, "ifeval");
  EXPECT_EQ(error_message([] {
              parse_prompt_row(json::parse(R"({"messages": [{"role": "user", "content": "x"}], "ground_truth": "1"})"), 1);
            }),
            "missing field 'dataset'; expected the verifier name, e.g. \"gsm8k\"");
}

}  // namespace
}  // namespace rlvr::core
