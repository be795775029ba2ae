// JSONL data sets: row formats of open-instruct / TRL and the bad-row policy.
#include "core/data/jsonl.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>
#include <zlib.h>

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
            "no 'messages', 'prompt'/'completion' or 'text' field; expected an SFT row: {\"messages\": [...]}, "
            "{\"prompt\": ..., \"completion\": ...} or {\"text\": \"...\"}");
  EXPECT_EQ(error_message([] { parse_sft_row(json::parse("{\"messages\": \"hi\"}"), 1); }),
            "'messages': expected a list of {\"role\", \"content\"} messages, got string");
  EXPECT_EQ(error_message([] {
              parse_sft_row(json::parse(R"({"messages": [{"role": "bot", "content": "x"}]})"), 1);
            }),
            "'messages[0].role': 'bot' is not one of: system, user, assistant, tool, function, ipython");
  EXPECT_EQ(error_message([] {
              parse_sft_row(json::parse(R"({"messages": [{"role": "user", "content": 3}]})"), 1);
            }),
            "'messages[0].content': expected a string or a list of {\"type\": \"text\", \"text\": ...} parts, got "
            "number");
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

// --- Formats people bring (issue 15) -----------------------------------------------------------

// Writes `text` gzip-compressed to dir/name and returns the path.
std::string write_gz(const TempDir& dir, const std::string& name, const std::string& text) {
  std::string p = dir.path() + "/" + name;
  gzFile f = gzopen(p.c_str(), "wb");
  EXPECT_NE(f, nullptr);
  EXPECT_EQ(gzwrite(f, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
  gzclose(f);
  return p;
}

std::vector<int64_t> read_lines_of(const std::string& path, std::vector<std::string>* answers = nullptr) {
  std::vector<int64_t> lines;
  read_jsonl(path, BadRowPolicy::kStop, [&](int64_t line, const json& j) {
    lines.push_back(line);
    if (answers) answers->push_back(j.at("a").get<std::string>());
  });
  return lines;
}

TEST(JsonlFormats, GzipFilesReadLikePlainOnesWithTheSameLineNumbers) {
  TempDir dir;
  std::string rows;
  for (int i = 0; i < 5000; ++i) rows += (i == 7 ? "\n" : "") + fmt::format("{{\"a\":\"{}\"}}\n", i);
  std::vector<std::string> plain_answers, gz_answers;
  std::vector<int64_t> plain = read_lines_of(dir.write("d.jsonl", rows), &plain_answers);
  std::vector<int64_t> gz = read_lines_of(write_gz(dir, "d.jsonl.gz", rows), &gz_answers);
  ASSERT_EQ(gz.size(), 5000u);  // more than one 64 KiB read buffer
  EXPECT_EQ(gz, plain);
  EXPECT_EQ(gz_answers, plain_answers);
  EXPECT_EQ(gz[8], 10);  // the blank line still counts
  EXPECT_EQ(gz_answers.back(), "4999");
  // A last line without "\n" is still a row.
  EXPECT_EQ(read_lines_of(write_gz(dir, "nonl.jsonl.gz", "{\"a\":\"x\"}\n{\"a\":\"y\"}")).size(), 2u);
}

TEST(JsonlFormats, BadRowInAGzipFileNamesFileAndLine) {
  TempDir dir;
  std::string p = write_gz(dir, "d.jsonl.gz", "{\"a\":\"1\"}\n{\"a\":\n");
  EXPECT_EQ(error_message([&] { read_lines_of(p); }),
            p + ":2: invalid JSON at column 6: syntax error while parsing value - unexpected end of input; "
                "expected '[', '{', or a literal; near '{\"a\":'");
}

TEST(JsonlFormats, TruncatedGzipIsAnErrorNamingTheLastGoodLine) {
  TempDir dir;
  std::string rows;
  for (int i = 0; i < 20000; ++i) rows += fmt::format("{{\"a\":\"{}\"}}\n", i * 7919 % 100003);
  std::string p = write_gz(dir, "d.jsonl.gz", rows);
  std::ifstream in(p, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string cut = dir.write("cut.jsonl.gz", bytes.substr(0, bytes.size() / 2));
  int64_t rows_seen = 0;
  std::string msg = error_message([&] {
    read_jsonl(cut, BadRowPolicy::kSkip, [&](int64_t, const json&) { ++rows_seen; });
  });
  EXPECT_GT(rows_seen, 0);
  EXPECT_LT(rows_seen, 20000);
  EXPECT_EQ(msg, fmt::format("{}: corrupt or truncated gzip data after line {}: unexpected end of file", cut,
                             rows_seen));
  // Corrupt bytes in the middle: the CRC or inflate fails, never silently garbage.
  std::string flipped = bytes;
  for (size_t i = bytes.size() / 3; i < bytes.size() / 3 + 64; ++i) flipped[i] = static_cast<char>(~flipped[i]);
  std::string bad = dir.write("bad.jsonl.gz", flipped);
  msg = error_message([&] { read_jsonl(bad, BadRowPolicy::kSkip, [](int64_t, const json&) {}); });
  EXPECT_EQ(msg.rfind(bad + ": corrupt or truncated gzip data after line ", 0), 0u) << msg;
}

TEST(JsonlFormats, DashReadsStandardInput) {
  TempDir dir;
  std::string p = dir.write("in.jsonl", "{\"a\":\"x\"}\n\n{\"a\":\"y\"}\n");
  const int saved = ::dup(STDIN_FILENO);
  ASSERT_TRUE(std::freopen(p.c_str(), "rb", stdin) != nullptr);
  std::vector<std::string> answers;
  std::vector<int64_t> lines = read_lines_of("-", &answers);
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
  EXPECT_EQ(lines, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(answers, (std::vector<std::string>{"x", "y"}));
}

TEST(JsonlFormats, ContentAsAListOfTextParts) {
  auto msgs = parse_messages(json::parse(R"([
      {"role": "user", "content": [{"type": "text", "text": "What is"}, {"type": "text", "text": "2+2?"}]},
      {"role": "assistant", "content": [{"type": "text", "text": "4"}]},
      {"role": "user", "content": []}])"), "messages");
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].content, "What is\n2+2?");
  EXPECT_EQ(msgs[1].content, "4");
  EXPECT_EQ(msgs[2].content, "");
  auto err = [](const char* text) { return error_message([&] { parse_messages(json::parse(text), "messages"); }); };
  EXPECT_EQ(err(R"([{"role": "user", "content": [{"type": "text", "text": "a"},
                    {"type": "image_url", "image_url": {"url": "x.png"}}]}])"),
            "'messages[0].content[1].type': 'image_url' parts are not supported; expected \"text\" (rlvr trains "
            "text-only models)");
  EXPECT_EQ(err(R"([{"role": "user", "content": [{"type": "text"}]}])"),
            "'messages[0].content[0].text': expected a string");
  EXPECT_EQ(err(R"([{"role": "user", "content": ["hi"]}])"),
            "'messages[0].content[0]': expected a {\"type\": \"text\", \"text\": ...} part, got string");
  EXPECT_EQ(err(R"([{"role": "user", "content": [{"text": "hi"}]}])"),
            "'messages[0].content[0].type': missing; expected \"text\"");
  EXPECT_EQ(err(R"([{"role": "user"}])"), "'messages[0].content': missing; expected a string or a list of text parts");
}

TEST(JsonlFormats, ToolRolesParseAndToolCallsAreRefusedPerRow) {
  auto msgs = parse_messages(json::parse(R"([
      {"role": "user", "content": "weather?"},
      {"role": "assistant", "content": "calling", "tool_calls": []},
      {"role": "tool", "content": "sunny", "tool_call_id": "c1", "name": "weather"},
      {"role": "function", "content": "{}", "name": "f"},
      {"role": "ipython", "content": "42"}])"), "messages");
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_EQ(msgs[2].role, "tool");
  EXPECT_EQ(msgs[2].content, "sunny");
  EXPECT_EQ(msgs[2].name, "weather");
  EXPECT_EQ(msgs[2].tool_call_id, "c1");
  EXPECT_EQ(msgs[3].role, "function");
  EXPECT_EQ(msgs[3].name, "f");
  EXPECT_EQ(msgs[3].tool_call_id, "");
  EXPECT_EQ(msgs[4].name, "");
  EXPECT_EQ(error_message([] {
              parse_messages(json::parse(R"([{"role": "tool", "content": "x", "tool_call_id": 7}])"), "messages");
            }),
            "'messages[0].tool_call_id': expected a string, got number");
  EXPECT_EQ(msgs[4].role, "ipython");
  EXPECT_EQ(error_message([] {
              parse_messages(json::parse(R"([{"role": "assistant", "content": null,
                  "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}])"),
                             "messages");
            }),
            "'messages[0].tool_calls': assistant tool calls are not supported yet; expected a message without them");
  // The tulu template cannot render a tool turn: that is the template's per-row error.
  EXPECT_EQ(error_message([&] { render_chat_template("tulu", msgs, ChatTemplateOptions{}, "</s>"); }),
            "chat template 'tulu': messages[2].role 'tool' is not system, user or assistant");
}

TEST(JsonlFormats, OneBadRowDoesNotCostTheOthers) {
  TempDir dir;
  std::string p = dir.write("d.jsonl",
                            R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]}, {"role": "assistant", "content": "a"}]})"
                            "\n"
                            R"({"messages": [{"role": "user", "content": [{"type": "image", "url": "x"}]}, {"role": "assistant", "content": "a"}]})"
                            "\n"
                            R"({"prompt": "p", "completion": "c"})"
                            "\n"
                            R"({"text": "plain"})"
                            "\n");
  std::vector<SftExample> rows;
  JsonlStats st = read_jsonl(p, BadRowPolicy::kSkip, [&](int64_t line, const json& j) {
    rows.push_back(parse_sft_row(j, line));
  });
  EXPECT_EQ(st.rows, 3);
  EXPECT_EQ(st.skipped, 1);
  EXPECT_EQ(st.first_error, p + ":2: 'messages[0].content[0].type': 'image' parts are not supported; expected "
                                "\"text\" (rlvr trains text-only models)");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].line, 1);
  EXPECT_EQ(rows[1].line, 3);
  EXPECT_EQ(rows[2].line, 4);
}

TEST(JsonlFormats, SftPromptCompletionRows) {
  auto s = parse_sft_row(json::parse(R"({"prompt": "2+2?", "completion": "4"})"), 1);
  ASSERT_EQ(s.messages.size(), 2u);
  EXPECT_EQ(s.prompt_messages, 1u);
  EXPECT_EQ(s.messages[0].role, "user");
  EXPECT_EQ(s.messages[1].role, "assistant");
  EXPECT_EQ(s.messages[1].content, "4");
  EXPECT_FALSE(s.plain_text);
  auto c = parse_sft_row(json::parse(R"({"prompt": [{"role": "system", "content": "be brief"},
      {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "bye"}],
      "completion": [{"role": "assistant", "content": "ciao"}]})"), 2);
  ASSERT_EQ(c.messages.size(), 5u);
  EXPECT_EQ(c.prompt_messages, 4u);  // the earlier assistant turn is context, not a target
  EXPECT_EQ(c.messages[4].content, "ciao");
  auto err = [](const char* text) { return error_message([&] { parse_sft_row(json::parse(text), 1); }); };
  EXPECT_EQ(err(R"({"prompt": "p"})"),
            "missing field 'completion'; expected a string or a list of assistant messages after 'prompt'");
  EXPECT_EQ(err(R"({"completion": "c"})"),
            "missing field 'prompt'; expected a string or a list of messages before 'completion'");
  EXPECT_EQ(err(R"({"prompt": "p", "completion": ""})"),
            "'completion': the completion is empty; expected text to train on");
  EXPECT_EQ(err(R"({"prompt": "p", "completion": [{"role": "user", "content": "x"}]})"),
            "'completion[0].role': 'user'; expected only assistant turns in the completion");
  EXPECT_EQ(err(R"({"prompt": 3, "completion": "c"})"),
            "'prompt': expected a string or a list of {\"role\", \"content\"} messages, got number");
  // `messages` wins when a row carries both (open-instruct rows often keep a `prompt` column).
  auto both = parse_sft_row(json::parse(R"({"prompt": "ignored", "messages": [{"role": "user", "content": "q"},
      {"role": "assistant", "content": "a"}]})"), 1);
  EXPECT_EQ(both.messages[0].content, "q");
  EXPECT_EQ(both.prompt_messages, 0u);
}

TEST(JsonlFormats, SftTextRows) {
  auto t = parse_sft_row(json::parse(R"({"text": "The sky is blue."})"), 1);
  EXPECT_TRUE(t.plain_text);
  EXPECT_EQ(t.text, "The sky is blue.");
  EXPECT_TRUE(t.messages.empty());
  EXPECT_EQ(error_message([] { parse_sft_row(json::parse(R"({"text": ""})"), 1); }),
            "'text': empty; expected text to train on");
  EXPECT_EQ(error_message([] { parse_sft_row(json::parse(R"({"text": ["a"]})"), 1); }),
            "'text': expected a string, got array");
}

TEST(JsonlFormats, GenerationPromptRows) {
  auto p = parse_prompt_messages(json::parse(R"({"prompt": "Write a haiku"})"));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].role, "user");
  EXPECT_EQ(p[0].content, "Write a haiku");
  auto m = parse_prompt_messages(json::parse(R"({"messages": [{"role": "user", "content": "q"},
      {"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]})"));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].content, "q");
  EXPECT_EQ(error_message([] { parse_prompt_messages(json::parse(R"({"question": "q"})")); }),
            "missing field 'messages' (or 'prompt'); expected a list of {\"role\", \"content\"} messages or a "
            "prompt string");
  // RLVR rows with a `prompt` string, and open-instruct's list-wrapped ground truths.
  auto r = parse_prompt_row(json::parse(R"({"prompt": "1+1?", "ground_truth": ["2"], "dataset": ["gsm8k"]})"), 4);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].content, "1+1?");
  EXPECT_EQ(r.ground_truth, "2");
  EXPECT_EQ(r.dataset, "gsm8k");
  auto two = parse_prompt_row(json::parse(R"({"prompt": "x", "ground_truth": ["2", "3"], "dataset": "math"})"), 1);
  EXPECT_EQ(two.ground_truth, R"(["2","3"])");
  EXPECT_EQ(error_message([] { parse_prompt_row(json::parse(R"({"ground_truth": "2", "dataset": "gsm8k"})"), 1); }),
            "missing field 'messages'; expected a list of messages (or a 'prompt' string)");
}

}  // namespace
}  // namespace rlvr::core
