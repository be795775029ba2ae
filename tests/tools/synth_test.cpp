// The tiny task world: rows parse with the data-set readers, answers are right, eval is held out.
#include "tools/data/synth.h"

#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "core/data/jsonl.h"
#include "core/fs.h"
#include "tests/test_util.h"

namespace rlvr::tools {
namespace {

using rlvr::testing::TempDir;
using core::BadRowPolicy;
using core::read_jsonl;
using core::read_file;
using core::parse_preference_row;
using core::parse_prompt_row;
using core::parse_sft_row;

// Evaluates "a op b [op c] = r" left to right and checks r.
bool working_is_correct(const std::string& working) {
  std::istringstream in(working);
  int64_t acc, v;
  std::string op;
  in >> acc;
  while (in >> op && op != "=") {
    in >> v;
    acc = op == "+" ? acc + v : op == "-" ? acc - v : acc * v;
  }
  int64_t result;
  in >> result;
  return acc == result;
}

TEST(Synth, WritesParseableDeterministicData) {
  TempDir a, b;
  SynthOptions o;
  o.train_rows = 50;
  o.eval_rows = 20;
  synthesize_task_world(a.path(), o);
  synthesize_task_world(b.path(), o);
  for (const char* f : {"sft.jsonl", "dpo.jsonl", "rlvr.jsonl", "eval.jsonl", "corpus.txt"}) {
    EXPECT_EQ(read_file(a.path() + "/" + f), read_file(b.path() + "/" + f)) << f;
  }
  std::set<std::string> train_questions;
  int64_t n = 0;
  read_jsonl(a.path() + "/sft.jsonl", BadRowPolicy::kStop, [&](int64_t line, const nlohmann::json& j) {
    auto ex = parse_sft_row(j, line);
    const std::string& ans = ex.messages[1].content;
    auto hash = ans.find("\n#### ");
    ASSERT_NE(hash, std::string::npos) << ans;
    EXPECT_TRUE(working_is_correct(ans.substr(0, hash))) << ans;
    EXPECT_EQ(ans.substr(hash + 6), ans.substr(ans.rfind(' ', hash) + 1, hash - ans.rfind(' ', hash) - 1));
    train_questions.insert(ex.messages[0].content);
    ++n;
  });
  EXPECT_EQ(n, 50);
  read_jsonl(a.path() + "/dpo.jsonl", BadRowPolicy::kStop, [&](int64_t line, const nlohmann::json& j) {
    auto ex = parse_preference_row(j, line);
    EXPECT_NE(ex.chosen[0].content, ex.rejected[0].content);
  });
  int64_t eval_rows = 0;
  read_jsonl(a.path() + "/eval.jsonl", BadRowPolicy::kStop, [&](int64_t line, const nlohmann::json& j) {
    auto ex = parse_prompt_row(j, line);
    EXPECT_EQ(ex.dataset, "gsm8k");
    EXPECT_EQ(train_questions.count(ex.messages[0].content), 0u) << "eval row seen in training";
    ++eval_rows;
  });
  EXPECT_EQ(eval_rows, 20);
}

TEST(Synth, DifferentSeedsDiffer) {
  TempDir a, b;
  SynthOptions o;
  o.train_rows = 10;
  o.eval_rows = 5;
  synthesize_task_world(a.path(), o);
  o.seed = 2;
  synthesize_task_world(b.path(), o);
  EXPECT_NE(read_file(a.path() + "/sft.jsonl"), read_file(b.path() + "/sft.jsonl"));
}

}  // namespace
}  // namespace rlvr::tools

namespace rlvr::tools {
namespace {

std::vector<nlohmann::json> lines_of(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(core::read_file(path));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

// The instruction family: SFT never demonstrates an end phrase together with no commas; DPO pairs
// and RLVR prompts (ground truth only) ask for exactly that combination, as does the held-out split.
TEST(Synth, InstructionFamilySplitsTheInstructionsAcrossStages) {
  TempDir dir;
  SynthOptions o;
  o.train_rows = 20;
  o.eval_rows = 5;
  o.instruction_rows = 40;
  o.instruction_eval_rows = 30;
  synthesize_task_world(dir.path(), o);
  auto count = [](const std::string& s, const std::string& what) {
    size_t n = 0;
    for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
  };
  const std::string quotes = "Wrap your whole answer in double quotes.", commas = "Do not use any commas.",
                    end = "End your answer with the phrase";
  int64_t sft_instructed = 0;
  for (const auto& row : lines_of(dir.path() + "/sft.jsonl")) {
    const std::string prompt = row["messages"][0]["content"];
    if (prompt.rfind("Tell me what", 0) != 0) continue;
    ++sft_instructed;
    EXPECT_FALSE(count(prompt, end) && count(prompt, commas)) << "end phrase + no commas is never demonstrated";
    const std::string answer = row["messages"][1]["content"];
    if (count(prompt, commas)) EXPECT_EQ(answer.find(','), std::string::npos) << answer;
    if (count(prompt, quotes)) EXPECT_TRUE(answer.front() == '"' && answer.back() == '"') << answer;
  }
  EXPECT_EQ(sft_instructed, 40);
  int64_t dpo_instructed = 0;
  for (const auto& row : lines_of(dir.path() + "/dpo.jsonl")) {
    const std::string prompt = row["chosen"][0]["content"];
    if (prompt.rfind("Tell me what", 0) != 0) continue;
    ++dpo_instructed;
    EXPECT_EQ(count(prompt, end) + count(prompt, commas), 2u) << prompt;
    EXPECT_EQ(count(prompt, quotes), 0u) << prompt;
    EXPECT_NE(row["chosen"][1]["content"], row["rejected"][1]["content"]);
  }
  EXPECT_EQ(dpo_instructed, 40);
  std::set<std::string> train_prompts;
  for (const char* f : {"/sft.jsonl", "/rlvr.jsonl"}) {
    for (const auto& row : lines_of(dir.path() + f)) train_prompts.insert(row["messages"][0]["content"]);
  }
  for (const char* f : {"/rlvr.jsonl", "/eval.jsonl"}) {
    int64_t n = 0;
    for (const auto& row : lines_of(dir.path() + f)) {
      if (row["dataset"] != "ifeval") continue;
      ++n;
      const auto gt = nlohmann::json::parse(row["ground_truth"].get<std::string>());
      ASSERT_EQ(gt["instruction_id"].size(), 2u) << gt.dump();
      EXPECT_EQ(gt["instruction_id"][0], "startend:end_checker");
      EXPECT_EQ(gt["instruction_id"][1], "punctuation:no_comma");
      if (std::string(f) == "/eval.jsonl") {
        EXPECT_EQ(train_prompts.count(row["messages"][0]["content"]), 0u) << "held out";
      }
    }
    EXPECT_EQ(n, std::string(f) == "/eval.jsonl" ? 30 : 40) << f;
  }
}

}  // namespace
}  // namespace rlvr::tools
