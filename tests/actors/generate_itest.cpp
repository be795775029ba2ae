// `rlvr generate` and `rlvr eval` end to end: a tokenizer trained in-test on the synthetic task
// world's corpus, a random tiny checkpoint written with save_checkpoint, the real binary.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tools/data/synth.h"
#include "core/fs.h"
#include "core/model/checkpoint.h"
#include "core/tokenizer/bpe_trainer.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/actors/actors_test_util.h"
#include "tests/test_util.h"

namespace rlvr::actors {
namespace {

using rlvr::testing::run_command;
using rlvr::testing::TempDir;

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

class GenerateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    tools::SynthOptions so;
    so.train_rows = 50;
    so.eval_rows = 6;
    tools::synthesize_task_world(dir_.path() + "/data", so);
    core::BpeTrainerOptions bo;
    bo.vocab_size = 400;
    bo.special_tokens = {"<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>"};
    std::string tok_json = core::train_bpe_files({dir_.path() + "/data/corpus.txt"}, bo);
    model_ = dir_.path() + "/model";
    auto config = rlvr::testing::tiny_config(core::Tokenizer::from_json(tok_json, "t").vocab_size());
    config.eos_token_id = {0};
    core::CausalLM model(config);
    model->init_weights(3);
    core::save_checkpoint(*model, config, model_);
    core::write_file_atomic(model_ + "/tokenizer.json", tok_json);
    data_ = dir_.path() + "/data/eval.jsonl";
  }

  TempDir dir_;
  std::string model_, data_;
  const std::string rlvr_ = RLVR_BINARY;
};

TEST_F(GenerateCli, WritesOneLinePerSampleReproducibly) {
  const std::string out1 = dir_.path() + "/gen1.jsonl", out2 = dir_.path() + "/gen2.jsonl";
  const std::string common = rlvr_ + " generate --model " + model_ + " --prompts " + data_ +
                             " --n 3 --temperature 0.9 --top-p 0.95 --max-new-tokens 12 --seed 5";
  auto r = run_command(common + " --batch-size 4 --out " + out1);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("generate: 18/18 samples"), std::string::npos) << r.output;
  auto lines = read_lines(out1);
  ASSERT_EQ(lines.size(), 18u);
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& j = lines[i];
    EXPECT_EQ(j["prompt_index"].get<int64_t>(), static_cast<int64_t>(i / 3));
    EXPECT_EQ(j["sample_index"].get<int64_t>(), static_cast<int64_t>(i % 3));
    EXPECT_EQ(j["token_ids"].size(), j["logprobs"].size());
    EXPECT_LE(j["token_ids"].size(), 12u);
    const std::string reason = j["finish_reason"];
    EXPECT_TRUE(reason == "eos" || reason == "length" || reason == "stop") << reason;
    EXPECT_EQ(j["dataset"], "gsm8k");
    EXPECT_TRUE(j["timing"].contains("latency_s"));
    for (const auto& lp : j["logprobs"]) EXPECT_LE(lp.get<double>(), 0.0);
  }
  // Same seed, one row at a time, static batching: the same samples.
  r = run_command(common + " --batch-size 1 --no-continuous-batching --out " + out2);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto again = read_lines(out2);
  ASSERT_EQ(again.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(again[i]["token_ids"], lines[i]["token_ids"]) << i;
}

// The model's generation_config.json: its sampling values apply where no flag sets them
// (do_sample false = greedy), a flag wins, and its eos_token_id stops generation.
TEST_F(GenerateCli, TheModelsGenerationConfigGivesDefaultsAndStopIds) {
  const std::string base = rlvr_ + " generate --model " + model_ + " --prompts " + data_ + " --n 1 --seed 5";
  const std::string greedy = dir_.path() + "/greedy.jsonl", from_file = dir_.path() + "/file.jsonl";
  auto r = run_command(base + " --temperature 0 --max-new-tokens 7 --out " + greedy);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  core::write_file_atomic(model_ + "/generation_config.json", R"({"do_sample": false, "max_new_tokens": 7,
                                                                  "repetition_penalty": 1.1})");
  r = run_command(base + " --out " + from_file);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("generation_config.json: sampling defaults generation.temperature=0 (do_sample false), "
                          "generation.max_new_tokens=7"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("repetition_penalty=1.1 not supported by rlvr's sampler; ignored"), std::string::npos)
      << r.output;
  const auto a = read_lines(greedy), b = read_lines(from_file);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i]["token_ids"], b[i]["token_ids"]) << i;
  // A flag wins over the file.
  r = run_command(base + " --max-new-tokens 3 --out " + from_file);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& j : read_lines(from_file)) EXPECT_LE(j["token_ids"].size(), 3u);
  // The file's eos_token_id stops: make the first greedy token of prompt 0 an EOS.
  ASSERT_FALSE(a[0]["token_ids"].empty());
  const int64_t first = a[0]["token_ids"][0];
  ASSERT_NE(first, 0) << "the first greedy token is already config.json's EOS";
  core::write_file_atomic(model_ + "/generation_config.json",
                          nlohmann::json({{"do_sample", false}, {"max_new_tokens", 7}, {"eos_token_id", {first}}}).dump());
  r = run_command(base + " --out " + from_file);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto c = read_lines(from_file);
  EXPECT_EQ(c[0]["finish_reason"], "eos");
  EXPECT_EQ(c[0]["token_ids"], nlohmann::json::array({first}));
  std::remove((model_ + "/generation_config.json").c_str());
}

TEST_F(GenerateCli, EvalScoresAndSummarizes) {
  const std::string out = dir_.path() + "/eval.jsonl";
  auto r = run_command(rlvr_ + " eval --model " + model_ + " --data " + data_ +
                       " --n 2 --temperature 1 --max-new-tokens 10 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("gsm8k"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pass@2"), std::string::npos) << r.output;
  auto lines = read_lines(out);
  ASSERT_EQ(lines.size(), 12u);
  for (const auto& j : lines) {
    EXPECT_TRUE(j.contains("score"));
    EXPECT_TRUE(j.contains("answer_found"));
    EXPECT_TRUE(j.contains("ground_truth"));
  }
  auto summary = nlohmann::json::parse(core::read_file(out + ".summary.json"));
  EXPECT_EQ(summary["n"], 2);
  EXPECT_EQ(summary["overall"]["samples"], 12);
  EXPECT_EQ(summary["overall"]["prompts"], 6);
  EXPECT_TRUE(summary["overall"]["pass_at_k"].contains("pass@2"));
  EXPECT_EQ(summary["datasets"][0]["dataset"], "gsm8k");
  const double ff = summary["overall"]["format_failure_rate"];
  EXPECT_GE(ff, 0.0);
  EXPECT_LE(ff, 1.0);
}

// Issue 15: `prompt`-string rows, list-wrapped ground truths, gzip on stdin, --set and --limit.
TEST_F(GenerateCli, EvalTakesPromptRowsFromGzipStdinWithSetAndLimit) {
  // The same eval set as {"prompt": "...", "ground_truth": ["..."], "dataset": ["gsm8k"]} rows, gzipped.
  std::string rows;
  for (const auto& j : read_lines(data_)) {
    nlohmann::json r;
    r["prompt"] = j["messages"][0]["content"];
    r["ground_truth"] = nlohmann::json::array({j["ground_truth"]});
    r["dataset"] = nlohmann::json::array({j["dataset"]});
    rows += r.dump() + "\n";
  }
  const std::string plain = dir_.path() + "/prompts.jsonl";
  core::write_file_atomic(plain, rows);
  ASSERT_EQ(run_command("gzip -k " + plain).exit_code, 0);
  const std::string out = dir_.path() + "/eval_stdin.jsonl", ref = dir_.path() + "/eval_ref.jsonl";
  auto r = run_command("cat " + plain + ".gz | " + rlvr_ + " eval --model " + model_ +
                       " --data - --limit 4 --set generation.max_new_tokens=6 --set generation.num_samples_per_prompt=2"
                       " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto lines = read_lines(out);
  ASSERT_EQ(lines.size(), 8u);  // 4 prompts x 2 samples
  for (const auto& j : lines) EXPECT_LE(j["token_ids"].size(), 6u);
  auto summary = nlohmann::json::parse(core::read_file(out + ".summary.json"));
  EXPECT_EQ(summary["overall"]["prompts"], 4);
  EXPECT_EQ(summary["limit"], 4);
  EXPECT_EQ(summary["max_new_tokens"], 6);
  EXPECT_EQ(summary["temperature"], 0.0);  // --set without --config keeps eval's greedy default
  // The `messages` rows give the same prompts, hence the same greedy samples and scores.
  r = run_command(rlvr_ + " eval --model " + model_ + " --data " + data_ +
                  " --limit 4 --n 2 --max-new-tokens 6 --out " + ref);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto expected = read_lines(ref);
  ASSERT_EQ(expected.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["token_ids"], expected[i]["token_ids"]) << i;
    EXPECT_EQ(lines[i]["score"], expected[i]["score"]) << i;
  }
  // A bad --set key is named.
  r = run_command(rlvr_ + " eval --model " + model_ + " --data " + data_ + " --set generation.temperatur=1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("generation.temperatur"), std::string::npos) << r.output;
}

TEST_F(GenerateCli, GenerateTakesPromptStringRows) {
  std::string rows;
  for (const auto& j : read_lines(data_)) rows += nlohmann::json{{"prompt", j["messages"][0]["content"]}}.dump() + "\n";
  const std::string prompts = dir_.path() + "/prompt_rows.jsonl";
  core::write_file_atomic(prompts, rows);
  const std::string out = dir_.path() + "/g1.jsonl", ref = dir_.path() + "/g2.jsonl";
  const std::string common = rlvr_ + " generate --model " + model_ + " --temperature 0 --max-new-tokens 6";
  auto r = run_command(common + " --prompts " + prompts + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command(common + " --prompts " + data_ + " --out " + ref);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto lines = read_lines(out), expected = read_lines(ref);
  ASSERT_EQ(lines.size(), 6u);
  ASSERT_EQ(expected.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["token_ids"], expected[i]["token_ids"]) << i;
    EXPECT_EQ(lines[i]["prompt"], expected[i]["messages"][0]["content"]) << i;  // the row's fields are kept
  }
  // --set on generate: the same keys as a config file, equal to the flags.
  const std::string set_out = dir_.path() + "/g3.jsonl";
  r = run_command(rlvr_ + " generate --model " + model_ + " --prompts " + prompts + " --out " + set_out +
                  " --set generation.temperature=0 --set generation.max_new_tokens=6");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto set_lines = read_lines(set_out);
  ASSERT_EQ(set_lines.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(set_lines[i]["token_ids"], lines[i]["token_ids"]) << i;
  r = run_command(rlvr_ + " generate --model " + model_ + " --prompts " + prompts + " --out " + set_out +
                  " --set generation.max_new_token=6");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("generation.max_new_token"), std::string::npos) << r.output;
}

TEST_F(GenerateCli, TokenizerChatUsesTheCheckpointsOwnTemplate) {
  const std::string conv = dir_.path() + "/conv.json";
  core::write_file_atomic(conv, R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                                                {"role": "assistant", "content": "Yo"}]})");
  const std::string chat = rlvr_ + " tokenizer chat --tokenizer " + model_ + "/tokenizer.json --messages-file " + conv;
  // No template in the checkpoint: auto falls back to tulu.
  auto r = run_command(chat);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto out = nlohmann::json::parse(r.output);
  EXPECT_EQ(out["text"], "<|user|>\nHi\n<|assistant|>\nYo<|endoftext|>");
  // The checkpoint's own Jinja template (next to tokenizer.json) is the default.
  core::write_file_atomic(model_ + "/tokenizer_config.json",
                          nlohmann::json({{"chat_template", "{% for m in messages %}[{{ m.role }}]{{ m.content }}"
                                                            "{% if m.role == 'assistant' %}{{ eos_token }}{% endif %}"
                                                            "{% endfor %}"
                                                            "{% if add_generation_prompt %}[assistant]{% endif %}"},
                                          {"eos_token", "<|endoftext|>"}})
                              .dump());
  r = run_command(chat);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  out = nlohmann::json::parse(r.output);
  EXPECT_EQ(out["text"], "[user]Hi[assistant]Yo<|endoftext|>");
  // The mask covers "Yo<|endoftext|>" exactly.
  const auto ids = out["ids"].get<std::vector<int32_t>>();
  const auto mask = out["assistant_mask"].get<std::vector<int>>();
  const core::Tokenizer tok = core::Tokenizer::from_file(model_ + "/tokenizer.json");
  std::vector<int32_t> masked;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (mask[i]) masked.push_back(ids[i]);
  }
  EXPECT_EQ(tok.decode(masked), "Yo<|endoftext|>");
  // A named template on request; a malformed message is named.
  r = run_command(chat + " --template tulu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["text"], "<|user|>\nHi\n<|assistant|>\nYo<|endoftext|>");
  core::write_file_atomic(conv, R"([{"role": "robot", "content": "Hi"}])");
  r = run_command(chat);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("'messages[0].role': 'robot' is not one of"), std::string::npos) << r.output;
}

TEST_F(GenerateCli, BadInputGivesOneLineErrors) {
  auto r = run_command(rlvr_ + " generate --prompts " + data_ + " --out x.jsonl");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--model"), std::string::npos) << r.output;
  std::string bad = dir_.write("bad.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n{oops\n");
  r = run_command(rlvr_ + " generate --model " + model_ + " --prompts " + bad + " --out " + dir_.path() + "/o.jsonl");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(bad + ":2:"), std::string::npos) << r.output;
  r = run_command(rlvr_ + " generate --model " + dir_.path() + "/nope --prompts " + data_ + " --out o.jsonl");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(dir_.path() + "/nope"), std::string::npos) << r.output;
  r = run_command(rlvr_ + " generate --model " + model_ + " --prompts " + data_ + " --out o.jsonl --top-p 2");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--top-p"), std::string::npos) << r.output;
  // eval needs RLVR rows: an SFT-style row without ground_truth names its line.
  r = run_command(rlvr_ + " eval --model " + model_ + " --data " + bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(bad + ":1:"), std::string::npos) << r.output;
  std::string unknown = dir_.write(
      "unk.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"ground_truth\": \"1\", \"dataset\": \"nosuch\"}\n");
  r = run_command(rlvr_ + " eval --model " + model_ + " --data " + unknown);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("no verifier named 'nosuch'"), std::string::npos) << r.output;
}


// Runs `command`, returning (exit code, stdout only); stderr goes to `err_path`.
rlvr::testing::CommandResult run_stdout_only(const std::string& command, const std::string& err_path) {
  return run_command("(" + command + " 2>" + err_path + ")");
}

TEST_F(GenerateCli, OutputChainsIntoVerifyAndLogsStayOnStderr) {
  const std::string out = dir_.path() + "/gen.jsonl", err = dir_.path() + "/gen.err";
  auto r = run_stdout_only(rlvr_ + " generate --model " + model_ + " --prompts " + data_ +
                               " --n 2 --max-new-tokens 8 --out " + out, err);
  ASSERT_EQ(r.exit_code, 0) << r.output << core::read_file(err);
  EXPECT_EQ(r.output.rfind("wrote 12 samples to " + out, 0), 0u) << "stdout holds only the result: " << r.output;
  EXPECT_EQ(r.output.find("generate: "), std::string::npos) << "progress must go to stderr: " << r.output;
  EXPECT_NE(core::read_file(err).find("generate: 12/12 samples"), std::string::npos);
  auto lines = read_lines(out);
  ASSERT_EQ(lines.size(), 12u);
  auto prompts = read_lines(data_);
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& j = lines[i];
    const auto& src = prompts[i / 2];
    EXPECT_EQ(j["messages"], src["messages"]) << "the prompt row's fields are carried";
    EXPECT_EQ(j["ground_truth"], src["ground_truth"]);
    EXPECT_EQ(j["dataset"], src["dataset"]);
    EXPECT_TRUE(j["response"].is_string());
    EXPECT_FALSE(j.contains("text"));
  }
  EXPECT_FALSE(std::ifstream(out + ".partial").good()) << "the partial file is renamed at the end";
  // The output is `rlvr verify` input as it is.
  const std::string scored = dir_.path() + "/scored.jsonl";
  auto v = run_command(rlvr_ + " verify --input " + out + " --out " + scored);
  ASSERT_EQ(v.exit_code, 0) << v.output;
  auto rows = read_lines(scored);
  ASSERT_EQ(rows.size(), 12u);
  for (const auto& row : rows) {
    EXPECT_TRUE(row.contains("score"));
    EXPECT_TRUE(row["reason"].is_string());
    EXPECT_FALSE(row.contains("verifier_error")) << row.dump();
  }
}

TEST_F(GenerateCli, OutputEqualToInputIsRefused) {
  const std::string copy = dir_.write("p.jsonl", core::read_file(data_));
  auto r = run_command(rlvr_ + " generate --model " + model_ + " --prompts " + copy + " --out " + copy);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--out " + copy + " is the same file as --prompts " + copy), std::string::npos) << r.output;
  EXPECT_EQ(core::read_file(copy), core::read_file(data_)) << "the prompts are untouched";
  r = run_command(rlvr_ + " eval --model " + model_ + " --data " + copy + " --out " + copy);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(core::read_file(copy), core::read_file(data_));
}

TEST_F(GenerateCli, OverLongPromptIsSkippedAndNamed) {
  // Line 2 renders to more tokens than max_position_embeddings (256): skipped, the rest run.
  const auto rows = read_lines(data_);
  nlohmann::json long_row = rows[1];
  std::string filler;
  for (int i = 0; i < 300; ++i) filler += "Mia has 7 pencils. ";
  long_row["messages"][0]["content"] = filler;
  std::string text = rows[0].dump() + "\n" + long_row.dump() + "\n" + rows[2].dump() + "\n";
  const std::string prompts = dir_.write("long.jsonl", text);
  const std::string out = dir_.path() + "/long_out.jsonl";
  auto r = run_command(rlvr_ + " generate --model " + model_ + " --prompts " + prompts +
                       " --max-new-tokens 4 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(prompts + ":2: prompt has "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("leaves no room to generate; skipped"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("skipped 0 bad rows and 1 prompts too long"), std::string::npos) << r.output;
  auto lines = read_lines(out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["line"], 1);
  EXPECT_EQ(lines[1]["line"], 3);
  // eval reports the skip in its summary.
  auto e = run_command(rlvr_ + " eval --model " + model_ + " --data " + prompts + " --max-new-tokens 4 --summary " +
                       dir_.path() + "/s.json");
  ASSERT_EQ(e.exit_code, 0) << e.output;
  auto summary = nlohmann::json::parse(core::read_file(dir_.path() + "/s.json"));
  EXPECT_EQ(summary["skipped_too_long"], 1);
  EXPECT_EQ(summary["overall"]["prompts"], 2);
}

TEST_F(GenerateCli, BadRowHintNamesTheRightSwitchAndSkipWorks) {
  std::string bad = dir_.write("bad2.jsonl", core::read_file(data_) + "{oops\n");
  const std::string out = dir_.path() + "/b.jsonl";
  auto r = run_command(rlvr_ + " generate --model " + model_ + " --prompts " + bad + " --max-new-tokens 4 --out " + out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(bad + ":7: invalid JSON at column"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hint: pass --on-bad-row skip"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("train.on_bad_row"), std::string::npos) << r.output;
  r = run_command(rlvr_ + " generate --model " + model_ + " --prompts " + bad +
                  " --max-new-tokens 4 --on-bad-row skip --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("skipped 1 bad rows"), std::string::npos) << r.output;
  EXPECT_EQ(read_lines(out).size(), 6u);
}

TEST_F(GenerateCli, FlagErrorsSayWhatIsAllowed) {
  const std::string base = rlvr_ + " generate --model " + model_ + " --prompts " + data_ + " --out " +
                           dir_.path() + "/f.jsonl ";
  struct Case {
    std::string flags, message;
  };
  const std::vector<Case> cases = {
      {"--top-p 0", "--top-p: 0 is out of range; expected a number in (0, 1]"},
      {"--top-k -1", "--top-k: -1 is out of range; expected an integer from 0 to 2147483647"},
      {"--max-new-tokens 1e3", "--max-new-tokens: '1e3' is not an integer; expected an integer from 1 to 1048576"},
      {"--temperature nan", "--temperature: 'nan' is not a finite number; expected a number in [0, 100]"},
      {"--seed -1", "--seed: -1 is out of range; expected an integer from 0 to 9223372036854775807"},
      {"--policy-version -7", "--policy-version: -7 is out of range; expected an integer from 0 to"},
  };
  for (const auto& c : cases) {
    auto r = run_command(base + c.flags);
    EXPECT_EQ(r.exit_code, 1) << c.flags;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.flags << ": " << r.output;
    EXPECT_LT(r.output.size(), 400u) << c.flags << ": " << r.output;
    EXPECT_EQ(r.output.find(data_ + ":"), std::string::npos) << "not blamed on the prompts: " << r.output;
  }
}

TEST_F(GenerateCli, LibTorchErrorsAreOneLineWithoutBacktrace) {
  // float16 matmuls are not implemented on the CPU in LibTorch 1.13: a c10::Error deep inside.
  auto r = run_command(rlvr_ + " generate --model " + model_ + " --prompts " + data_ + " --dtype float16 --out " +
                       dir_.path() + "/h.jsonl");
  if (r.exit_code == 0) GTEST_SKIP() << "this LibTorch runs float16 on the CPU; no error to convert";
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("error: rlvr generate: model " + model_), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Exception raised from"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("frame #"), std::string::npos) << r.output;
}

TEST_F(GenerateCli, EvalCountsVerifierErrorsAndFailsWhenNothingWasScored) {
  // An external verifier that never answers: every request times out.
  const std::string cfg = dir_.write("slow.yaml",
                                     "verifiers:\n  external:\n    - name: slow\n      command: [\"sleep\", \"60\"]\n"
                                     "      timeout_ms: 100\n      num_processes: 2\n");
  auto rows = read_lines(data_);
  std::string text;
  for (size_t i = 0; i < 3; ++i) {
    rows[i]["dataset"] = "slow";
    text += rows[i].dump() + "\n";
  }
  const std::string data = dir_.write("slow.jsonl", text);
  auto r = run_command(rlvr_ + " eval --model " + model_ + " --data " + data + " --config " + cfg +
                       " --max-new-tokens 4 --summary " + dir_.path() + "/slow.summary.json");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("no sample could be scored: all 3 verifier calls failed"), std::string::npos) << r.output;
  auto summary = nlohmann::json::parse(core::read_file(dir_.path() + "/slow.summary.json"));
  EXPECT_EQ(summary["overall"]["verifier_errors"], 3);
  EXPECT_EQ(summary["overall"]["format_failure_rate"], 0.0) << "errors are not format failures";
}

}  // namespace
}  // namespace rlvr::actors
