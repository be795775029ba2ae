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
