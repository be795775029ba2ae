// `rlvr data pairs` end to end: the real binary samples a randomly initialized tiny model (the
// sft_dpo tiny world) on IFEval letter_frequency prompts, which such a model meets part of the
// time: a sample is correct when it ends on its own (EOS, about half of them within the 256
// positions) and holds enough letters 'e'. The output must load through the real DPO loader,
// every pair must hold up when re-scored, and the counts in the summary must add up.
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/fs.h"
#include "core/tokenizer/tokenizer.h"
#include "sft_dpo/data.h"
#include "tests/sft_dpo/tiny_world.h"
#include "tests/test_util.h"
#include "verifiers/reward.h"

namespace rlvr::tools {
namespace {

using rlvr::testing::run_command;
using rlvr::testing::TempDir;

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

// IFEval ground truth: at least `k` letters 'e'.
std::string letter_e_at_least(int k) {
  return fmt::format(R"({{"instruction_id":["keywords:letter_frequency"],)"
                     R"("kwargs":[{{"letter":"e","let_frequency":{},"let_relation":"at least"}}]}})",
                     k);
}

class DataPairs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = rlvr::testing::shared_fixture_dir("data-pairs", [](const std::string& d) {
      rlvr::testing::make_tiny_world(d, /*rows=*/32, /*hidden=*/32, /*layers=*/2);
    });
    world_ = {dir + "/data", dir + "/model"};
  }

  // The first `rows` RLVR prompts of the tiny world as ifeval rows; the ground truth of row i is
  // `gt(i)`.
  std::string prompts(const std::string& name, int64_t rows, const std::function<std::string(int64_t)>& gt) {
    std::string text;
    int64_t i = 0;
    for (auto row : read_lines(world_.data_dir + "/rlvr.jsonl")) {
      if (i == rows) break;
      row["dataset"] = "ifeval";
      row["ground_truth"] = gt(i++);
      text += row.dump() + "\n";
    }
    return dir_.write(name, text);
  }

  // `rlvr data pairs` on `prompts_path` with n 8, seed 3, and `extra` flags.
  rlvr::testing::CommandResult pairs(const std::string& prompts_path, const std::string& out,
                                     const std::string& extra = "") {
    return run_command(rlvr_ + " data pairs --model " + world_.model_dir + " --prompts " + prompts_path + " --out " +
                       out + " --n 8 --seed 3 --verifier-threads 1 " + extra);
  }

  // The summary's counts add up: every prompt is a pair or skipped for one reason, every sample
  // has one class, every pair one rejected class.
  static void expect_counts_add_up(const nlohmann::json& s) {
    const auto& sk = s.at("skipped");
    EXPECT_EQ(s.at("prompts").get<int64_t>(),
              s.at("pairs").get<int64_t>() + sk.at("all_correct").get<int64_t>() +
                  sk.at("none_correct").get<int64_t>() + sk.at("bad_row").get<int64_t>() +
                  sk.at("too_long").get<int64_t>())
        << s.dump(2);
    EXPECT_EQ(s.at("sampled_prompts").get<int64_t>(),
              s.at("pairs").get<int64_t>() + sk.at("all_correct").get<int64_t>() + sk.at("none_correct").get<int64_t>());
    const auto& sm = s.at("samples");
    int64_t classes = 0;
    for (const char* c : {"correct", "wrong", "no_answer", "truncated", "empty", "unscored"}) classes += sm.at(c).get<int64_t>();
    EXPECT_EQ(classes, sm.at("total").get<int64_t>());
    EXPECT_EQ(sm.at("total").get<int64_t>(), s.at("sampled_prompts").get<int64_t>() * s.at("n").get<int64_t>());
    const auto& rc = s.at("rejected_classes");
    EXPECT_EQ(rc.at("wrong").get<int64_t>() + rc.at("no_answer").get<int64_t>() + rc.at("truncated").get<int64_t>(),
              s.at("pairs").get<int64_t>());
  }

  TempDir dir_;
  const std::string rlvr_ = RLVR_BINARY;
  static rlvr::testing::TinyWorld world_;
};

rlvr::testing::TinyWorld DataPairs::world_;

TEST_F(DataPairs, OutputIsDpoDataThatHoldsUpAndCountsAddUp) {
  const std::string gt = letter_e_at_least(3);
  const std::string in = prompts("p.jsonl", 16, [&](int64_t) { return gt; });
  const std::string out = dir_.path() + "/pairs.jsonl";
  auto r = pairs(in, out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto s = nlohmann::json::parse(core::read_file(out + ".summary.json"));
  expect_counts_add_up(s);
  EXPECT_EQ(s["prompts"], 16);
  EXPECT_EQ(s["sampled_prompts"], 16);
  EXPECT_EQ(s["n"], 8);
  EXPECT_EQ(s["temperature"], 1.0) << "pairs samples at temperature 1 by default";
  const int64_t n_pairs = s["pairs"];
  // The random model sometimes succeeds: some prompts give pairs; both kinds of sample occur.
  EXPECT_GE(n_pairs, 4) << s.dump(2);
  EXPECT_GT(s["samples"]["correct"].get<int64_t>(), 0);
  EXPECT_GT(s["samples"]["wrong"].get<int64_t>() + s["samples"]["truncated"].get<int64_t>(), 0);
  EXPECT_NE(r.output.find(fmt::format("pairs: 16 prompts, wrote {} pairs to {}; skipped {} all_correct, {} none_correct, "
                                      "0 bad_row, 0 too_long",
                                      n_pairs, out, s["skipped"]["all_correct"].get<int64_t>(),
                                      s["skipped"]["none_correct"].get<int64_t>())),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(out + ".partial"));

  // The real DPO loader reads every row.
  core::Tokenizer tok = core::Tokenizer::from_file(world_.model_dir + "/tokenizer.json");
  sft_dpo::TokenizeSettings settings;
  settings.max_seq_len = 4096;
  sft_dpo::PreferenceDataset ds = sft_dpo::load_preference_dataset(out, tok, settings);
  EXPECT_EQ(static_cast<int64_t>(ds.pairs.size()), n_pairs);
  EXPECT_EQ(ds.stats.skipped, 0);
  for (const auto& p : ds.pairs) {
    EXPECT_GT(p.chosen.num_targets(), 0);
    EXPECT_GT(p.rejected.num_targets(), 0);
  }

  // Every pair holds up when re-scored: chosen correct and finished, rejected wrong or malformed.
  verifiers::RewardScorer scorer(core::VerifiersConfig{}, 1);
  const auto rows = read_lines(out);
  ASSERT_EQ(static_cast<int64_t>(rows.size()), n_pairs);
  std::set<int64_t> lines;
  for (const auto& row : rows) {
    const std::string chosen = row["chosen"].back()["content"];
    const std::string rejected = row["rejected"].back()["content"];
    EXPECT_EQ(row["chosen"].back()["role"], "assistant");
    EXPECT_EQ(row["chosen"].size(), row["rejected"].size());
    EXPECT_NE(chosen, rejected);
    EXPECT_EQ(row["dataset"], "ifeval");
    EXPECT_EQ(row["ground_truth"], gt);
    EXPECT_EQ(scorer.score("ifeval", {"", chosen, gt}).score, 1.0) << chosen;
    EXPECT_NE(row["chosen_finish_reason"], "length");
    const auto rs = scorer.score("ifeval", {"", rejected, gt});
    const std::string cls = row["rejected_class"];
    if (cls == "wrong") {
      EXPECT_LT(rs.score, 1.0);
      EXPECT_NE(row["rejected_finish_reason"], "length");
    } else if (cls == "no_answer") {
      EXPECT_FALSE(rs.answer_found);
    } else {
      EXPECT_EQ(cls, "truncated");
      EXPECT_EQ(row["rejected_finish_reason"], "length");
    }
    EXPECT_EQ(row["rejected_score"].get<double>(), rs.score);
    lines.insert(row["line"].get<int64_t>());
  }
  EXPECT_EQ(lines.size(), rows.size()) << "one pair per prompt at most";

  // The same seed gives the same file; the rejected pick is seeded too.
  const std::string again = dir_.path() + "/again.jsonl";
  r = pairs(in, again, "--batch-size 5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(core::read_file(again), core::read_file(out));
}

TEST_F(DataPairs, BadRowsStopOrAreSkippedAndCounted) {
  std::string text = core::read_file(prompts("good.jsonl", 6, [](int64_t) { return letter_e_at_least(3); }));
  const size_t second = text.find('\n') + 1;
  text.insert(second, "{\"messages\": oops\n");
  const std::string in = dir_.write("bad.jsonl", text);
  const std::string out = dir_.path() + "/pairs.jsonl";
  auto r = pairs(in, out);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(in + ":2:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--on-bad-row skip"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));

  r = pairs(in, out, "--on-bad-row skip");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(in + ":2:"), std::string::npos) << "the skipped row is named in the log\n" << r.output;
  const auto s = nlohmann::json::parse(core::read_file(out + ".summary.json"));
  expect_counts_add_up(s);
  EXPECT_EQ(s["prompts"], 7);
  EXPECT_EQ(s["sampled_prompts"], 6);
  EXPECT_EQ(s["skipped"]["bad_row"], 1);
  EXPECT_NE(r.output.find("1 bad_row"), std::string::npos) << r.output;
  for (const auto& row : read_lines(out)) EXPECT_NE(row["line"], 2);

  // A row naming no known verifier is an error at its line.
  const std::string unknown = dir_.write(
      "unk.jsonl",
      text.substr(0, second) +
          R"({"messages": [{"role": "user", "content": "hi"}], "ground_truth": "1", "dataset": "nosuch"})" "\n");
  r = pairs(unknown, out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(unknown + ":2: no verifier named 'nosuch'"), std::string::npos) << r.output;
}

TEST_F(DataPairs, PromptsWithoutContrastAreSkippedAndCounted) {
  // Even rows ask for 10000 letters 'e' (no sample of at most 256 tokens has them): never a pair.
  const std::string in =
      prompts("mixed.jsonl", 12, [](int64_t i) { return letter_e_at_least(i % 2 == 0 ? 10000 : 3); });
  const std::string out = dir_.path() + "/pairs.jsonl";
  auto r = pairs(in, out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto s = nlohmann::json::parse(core::read_file(out + ".summary.json"));
  expect_counts_add_up(s);
  EXPECT_GE(s["skipped"]["none_correct"].get<int64_t>(), 6) << s.dump(2);
  EXPECT_GE(s["pairs"].get<int64_t>(), 1) << s.dump(2);
  const auto rows = read_lines(out);
  EXPECT_EQ(static_cast<int64_t>(rows.size()), s["pairs"].get<int64_t>());
  for (const auto& row : rows) EXPECT_EQ(row["line"].get<int64_t>() % 2, 0) << "line " << row["line"] << " asks for 10000 letters";

  // Nothing to train on: a clear error, the summary still written, no output file.
  const std::string none = prompts("none.jsonl", 4, [](int64_t) { return letter_e_at_least(10000); });
  const std::string out2 = dir_.path() + "/none_pairs.jsonl";
  r = pairs(none, out2);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("no preference pair, nothing to train on: of 4 sampled prompts, 0 had every usable sample "
                          "correct (all_correct) and 4 had no correct, well-formed sample (none_correct)"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(out2));
  const auto s2 = nlohmann::json::parse(core::read_file(out2 + ".summary.json"));
  EXPECT_EQ(s2["pairs"], 0);
  EXPECT_EQ(s2["skipped"]["none_correct"], 4);
}

TEST_F(DataPairs, BadFlagsNameTheFlag) {
  const std::string in = prompts("p.jsonl", 2, [](int64_t) { return letter_e_at_least(3); });
  auto r = pairs(in, dir_.path() + "/o.jsonl", "--rejected-pick best");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--rejected-pick"), std::string::npos) << r.output;
  r = run_command(rlvr_ + " data pairs --model " + world_.model_dir + " --prompts " + in + " --out " + dir_.path() +
                  "/o.jsonl --n 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--n 1: a pair needs two samples of a prompt"), std::string::npos) << r.output;
  r = pairs(in, in);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--out"), std::string::npos) << r.output;
  r = run_command(rlvr_ + " data pairs --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--rejected-pick"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--n"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace rlvr::tools
