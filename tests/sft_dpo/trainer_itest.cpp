// run_training on the tiny task world: loss goes down, grad accumulation does not change the
// result, resume is bit-exact, the DPO reference cache is reused and invalidated, bad data, a
// non-finite loss, and what happens to an existing run directory (resume, refuse, overwrite).
#include "sft_dpo/trainer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/config/loader.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/model/checkpoint.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "learner/train_state.h"
#include "sft_dpo/data.h"
#include "sft_dpo/reference_cache.h"
#include "tests/sft_dpo/hand_off_check.h"
#include "tests/sft_dpo/tiny_world.h"
#include "tests/test_util.h"

namespace rlvr::sft_dpo {
namespace {

namespace fs = std::filesystem;
using rlvr::testing::TempDir;

class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    core::init_logging("warn");
    root_ = new TempDir();
    world_ = rlvr::testing::make_tiny_world(root_->path());
  }
  static void TearDownTestSuite() { delete root_; }
  // Each run adds a log file sink; start every test with a fresh logger.
  void SetUp() override { core::init_logging("warn"); }

  core::Config sft_config(const std::string& out) const {
    core::Config c;
    c.run.output_dir = out;
    c.run.threads = 2;
    c.model.path = world_.model_dir;
    c.train.mode = "sft";
    c.train.train_file = world_.data_dir + "/sft.jsonl";
    c.train.max_seq_len = 128;
    c.train.batch_size = 4;
    c.train.max_steps = 4;
    c.optim.learning_rate = 3e-3;
    c.optim.warmup_ratio = 0;
    return c;
  }
  core::Config dpo_config(const std::string& out, const std::string& model) const {
    core::Config c = sft_config(out);
    c.model.path = model;
    c.train.mode = "dpo";
    c.train.train_file = world_.data_dir + "/dpo.jsonl";
    c.dpo.loss = "dpo_norm";
    c.optim.learning_rate = 1e-3;
    return c;
  }
  static std::map<std::string, at::Tensor> weights(const std::string& dir) {
    auto m = core::load_causal_lm(dir);
    std::map<std::string, at::Tensor> out;
    for (const auto& item : m->named_parameters()) out[item.key()] = item.value().detach().clone();
    return out;
  }
  static std::vector<nlohmann::json> metrics(const std::string& out) {
    std::ifstream in(out + "/metrics.jsonl");
    std::vector<nlohmann::json> rows;
    std::string line;
    while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
    return rows;
  }

  static TempDir* root_;
  static rlvr::testing::TinyWorld world_;
};
TempDir* TrainerTest::root_ = nullptr;
rlvr::testing::TinyWorld TrainerTest::world_;

TEST_F(TrainerTest, SftLossGoesDownAndWritesAnHfCheckpoint) {
  TempDir out;
  core::Config c = sft_config(out.path());
  c.train.max_steps = 0;
  c.train.num_epochs = 3;
  c.train.batch_size = 8;
  c.train.packing = true;
  c.train.eval_file = world_.data_dir + "/sft.jsonl";  // same rows: eval loss must fall too
  c.train.eval_every = 1000;
  TrainResult r = run_training(c);
  auto rows = metrics(out.path());
  double first = -1, last = -1;
  for (const auto& row : rows) {
    if (row.contains("loss") && row["step"].get<int64_t>() > 0) {
      if (first < 0) first = row["loss"].get<double>();
      last = row["loss"].get<double>();
    }
  }
  std::printf("sft loss %.4f -> %.4f over %lld steps, eval %.4f\n", first, last, static_cast<long long>(r.steps),
              r.eval_loss);
  EXPECT_LT(last, first - 0.5);
  EXPECT_LT(r.eval_loss, first);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"}) {
    EXPECT_TRUE(fs::exists(r.final_dir + "/" + f)) << f;
  }
  EXPECT_TRUE(fs::exists(out.path() + "/config.yaml"));
  EXPECT_NO_THROW(core::load_causal_lm(r.final_dir));
  EXPECT_EQ(rows.front()["step"], 0);
  EXPECT_EQ(rows.front()["data/train_rows"].get<double>(), 48);
}

// final/ carries what transformers needs to use it unchanged: tokenizer_config.json with the chat
// template the run trained with and its special tokens, generation_config.json with the EOS ids,
// and config.json's eos_token_id. A checkpoint's own Jinja template (and its generation
// defaults) is what a run with model.chat_template: auto trains with and hands on.
TEST_F(TrainerTest, FinalHoldsTheChatTemplateAndEosIdsTheRunTrainedWith) {
  const core::Tokenizer tok = core::Tokenizer::from_file(world_.model_dir + "/tokenizer.json");
  const int64_t eos = *tok.single_token_id("<|endoftext|>");
  auto json_of = [](const std::string& path) { return nlohmann::json::parse(core::read_file(path)); };

  TempDir out;
  core::Config c = sft_config(out.path());
  c.train.max_steps = 2;
  ASSERT_EQ(c.model.chat_template, "auto");
  TrainResult r = run_training(c);
  nlohmann::json tc = json_of(r.final_dir + "/tokenizer_config.json");
  EXPECT_EQ(tc["chat_template"], core::named_chat_template_jinja("tulu"));
  EXPECT_EQ(tc["eos_token"], "<|endoftext|>");
  EXPECT_EQ(tc["tokenizer_class"], "PreTrainedTokenizerFast");
  EXPECT_EQ(json_of(r.final_dir + "/generation_config.json")["eos_token_id"], eos);
  EXPECT_EQ(json_of(r.final_dir + "/config.json")["eos_token_id"], eos);
  const core::ChatFormat back = core::ChatFormat::resolve(tok, "auto", r.final_dir);
  EXPECT_TRUE(back.is_named());
  EXPECT_EQ(back.name(), "tulu");

  // A checkpoint with its own template (a Zephyr-style one over the tiny world's special tokens;
  // HuggingFaceH4/zephyr-7b-beta's layout) and generation defaults.
  TempDir model;
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"}) {
    fs::copy_file(world_.model_dir + "/" + f, model.path() + "/" + f);
  }
  const std::string zephyr =
      "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + "
      "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token "
      "}}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token "
      "}}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n"
      "{% endfor %}";
  model.write("tokenizer_config.json",
              nlohmann::json({{"chat_template", zephyr}, {"eos_token", "<|endoftext|>"}, {"model_max_length", 4096}})
                  .dump());
  model.write("generation_config.json", R"({"temperature": 0.7, "top_p": 0.8, "eos_token_id": 5})");
  TempDir out2;
  core::Config c2 = sft_config(out2.path());
  c2.model.path = model.path();
  c2.train.max_steps = 2;
  TrainResult r2 = run_training(c2);
  tc = json_of(r2.final_dir + "/tokenizer_config.json");
  EXPECT_EQ(tc["chat_template"], zephyr);
  EXPECT_EQ(tc["eos_token"], "<|endoftext|>");
  EXPECT_EQ(tc["model_max_length"], 4096);  // the source's fields are kept
  nlohmann::json gc = json_of(r2.final_dir + "/generation_config.json");
  EXPECT_EQ(gc["temperature"], 0.7);
  EXPECT_EQ(gc["top_p"], 0.8);
  // config.json's EOS (0, kept), the source's (5), and the template's (<|endoftext|> = 0).
  EXPECT_EQ(gc["eos_token_id"], nlohmann::json::array({eos, 5}));
  EXPECT_EQ(json_of(r2.final_dir + "/config.json")["eos_token_id"], eos);
  const core::ChatFormat own = core::ChatFormat::resolve(tok, "auto", r2.final_dir);
  EXPECT_EQ(own.name(), "jinja");
  EXPECT_EQ(own.end_of_turn(), "<|endoftext|>");
  // The data was rendered with the checkpoint's template: its rows are the Zephyr text.
  TokenizeSettings settings;
  settings.chat_format = std::make_shared<const core::ChatFormat>(own);
  settings.max_seq_len = 128;
  SftDataset zephyr_rows = load_sft_dataset(world_.data_dir + "/sft.jsonl", tok, settings);
  SftDataset tulu_rows = load_sft_dataset(world_.data_dir + "/sft.jsonl", tok, TokenizeSettings{});
  ASSERT_EQ(zephyr_rows.rows.size(), tulu_rows.rows.size());
  std::string first_line;
  std::getline(std::ifstream(world_.data_dir + "/sft.jsonl") >> std::ws, first_line);
  const auto messages = core::parse_sft_row(nlohmann::json::parse(first_line), 1).messages;
  EXPECT_EQ(zephyr_rows.rows[0].ids, own.encode(tok, messages, false).ids);
  EXPECT_NE(zephyr_rows.rows[0].ids, tulu_rows.rows[0].ids);
}

TEST_F(TrainerTest, GradAccumulationFourByOneEqualsOneByFour) {
  TempDir a, b;
  core::Config ca = sft_config(a.path());
  ca.train.batch_size = 1;
  ca.train.grad_accum_steps = 4;
  ca.train.max_steps = 2;
  core::Config cb = sft_config(b.path());
  cb.train.batch_size = 4;
  cb.train.grad_accum_steps = 1;
  cb.train.max_steps = 2;
  TrainResult ra = run_training(ca), rb = run_training(cb);
  EXPECT_NEAR(ra.last_loss, rb.last_loss, 1e-5 * std::abs(rb.last_loss));
  auto wa = weights(ra.final_dir), wb = weights(rb.final_dir);
  double max_diff = 0;
  for (const auto& [k, t] : wa) max_diff = std::max(max_diff, (t - wb[k]).abs().max().item<double>());
  std::printf("4x1 vs 1x4: loss %.7f vs %.7f, max |dw| %.3e\n", ra.last_loss, rb.last_loss, max_diff);
  EXPECT_LT(max_diff, 1e-5);
}

TEST_F(TrainerTest, ResumeAfterStepKReproducesTheUninterruptedRunExactly) {
  TempDir out;
  core::Config c = sft_config(out.path());
  c.train.max_steps = 6;
  c.train.batch_size = 8;  // 48 rows: 6 steps per epoch; steps cross no epoch boundary
  c.train.checkpoint_every = 2;
  c.train.keep_checkpoints = 10;
  TrainResult full = run_training(c);
  auto expected = weights(full.final_dir);
  ASSERT_TRUE(fs::exists(out.path() + "/checkpoints/step-00000004"));
  // Simulate a crash after step 4: later checkpoints, the final model and metrics rows vanish.
  fs::remove_all(out.path() + "/checkpoints/step-00000006");
  fs::remove_all(full.final_dir);
  TrainResult resumed = run_training(c);
  EXPECT_EQ(resumed.resumed_from_step, 4);
  EXPECT_EQ(resumed.steps, 6);
  auto got = weights(resumed.final_dir);
  for (const auto& [k, t] : expected) EXPECT_TRUE(torch::equal(t, got[k])) << k;
  EXPECT_DOUBLE_EQ(resumed.last_loss, full.last_loss);
  // metrics.jsonl: one row per step, none duplicated by the resume.
  std::vector<int64_t> steps;
  for (const auto& row : metrics(out.path())) {
    if (row.contains("loss")) steps.push_back(row["step"].get<int64_t>());
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
}

TEST_F(TrainerTest, ResumeAcrossEpochsWithAccumulationIsExact) {
  TempDir out;
  core::Config c = sft_config(out.path());
  c.train.max_steps = 0;
  c.train.num_epochs = 2;
  c.train.batch_size = 5;
  c.train.grad_accum_steps = 2;  // 10 rows per step: 5 steps per epoch, the last one short
  c.train.checkpoint_every = 3;
  c.train.keep_checkpoints = 10;
  TrainResult full = run_training(c);
  auto expected = weights(full.final_dir);
  // Crash after step 3: the resumed part crosses the epoch boundary.
  for (const char* s : {"step-00000006", "step-00000009", "step-00000010"}) {
    EXPECT_TRUE(fs::exists(out.path() + "/checkpoints/" + s)) << s;
    fs::remove_all(out.path() + "/checkpoints/" + s);
  }
  fs::remove_all(full.final_dir);
  TrainResult resumed = run_training(c);
  EXPECT_EQ(resumed.resumed_from_step, 3);
  EXPECT_EQ(resumed.steps, full.steps);
  auto got = weights(resumed.final_dir);
  for (const auto& [k, t] : expected) EXPECT_TRUE(torch::equal(t, got[k])) << k;
}

TEST_F(TrainerTest, DpoFromSftOutputUsesAndInvalidatesTheReferenceCache) {
  TempDir sft_out, dpo_out;
  core::Config s = sft_config(sft_out.path());
  TrainResult sft = run_training(s);
  core::Config d = dpo_config(dpo_out.path(), sft.final_dir);
  d.train.max_steps = 3;
  d.dpo.rpo_alpha = 0.5;
  TrainResult first = run_training(d);
  EXPECT_FALSE(first.reference_cache_hit);
  // DPO's final/ is handed back to transformers like SFT's: the template it trained with (the
  // SFT output's own, tulu) and the EOS ids.
  rlvr::testing::expect_tulu_hand_off(first.final_dir);
  auto rows = metrics(dpo_out.path());
  const auto& step1 = rows[1];
  ASSERT_EQ(step1["step"], 1);
  for (const char* k : {"rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
                        "logps/chosen", "logps/rejected", "nll", "loss", "lr"}) {
    EXPECT_TRUE(step1.contains(k)) << k;
  }
  // Step 1: policy == reference, so every reward is ~0 and the loss is ~log 2 + rpo_alpha x nll.
  EXPECT_NEAR(step1["rewards/chosen"].get<double>(), 0.0, 1e-3);
  EXPECT_NEAR(step1["loss"].get<double>(), std::log(2.0) + 0.5 * step1["nll"].get<double>(), 1e-3);

  d.train.resume = false;
  d.train.overwrite_output_dir = true;  // start over in the same directory
  TrainResult second = run_training(d);
  EXPECT_TRUE(second.reference_cache_hit);
  // Changing the data file invalidates the cache.
  std::string data = core::read_file(d.train.train_file);
  TempDir tmp;
  d.train.train_file = tmp.write("dpo.jsonl", data + data.substr(0, data.find('\n') + 1));
  TrainResult third = run_training(d);
  EXPECT_FALSE(third.reference_cache_hit);
}

TEST_F(TrainerTest, DpoResumeIsExact) {
  TempDir out;
  core::Config d = dpo_config(out.path(), world_.model_dir);
  d.dpo.loss = "sigmoid";
  d.dpo.beta = 0.1;
  d.dpo.label_smoothing = 0.1;
  d.train.batch_size = 4;
  d.train.grad_accum_steps = 2;
  d.train.max_steps = 4;
  d.train.checkpoint_every = 2;
  d.train.keep_checkpoints = 5;
  TrainResult full = run_training(d);
  auto expected = weights(full.final_dir);
  fs::remove_all(out.path() + "/checkpoints/step-00000004");
  fs::remove_all(full.final_dir);
  TrainResult resumed = run_training(d);
  EXPECT_EQ(resumed.resumed_from_step, 2);
  EXPECT_TRUE(resumed.reference_cache_hit);
  auto got = weights(resumed.final_dir);
  for (const auto& [k, t] : expected) EXPECT_TRUE(torch::equal(t, got[k])) << k;
}

TEST_F(TrainerTest, SimpoNeedsNoReference) {
  TempDir out;
  core::Config d = dpo_config(out.path(), world_.model_dir);
  d.dpo.loss = "simpo";
  d.dpo.beta = 2.0;
  d.train.max_steps = 2;
  TrainResult r = run_training(d);
  EXPECT_EQ(r.steps, 2);
  EXPECT_FALSE(fs::exists(out.path() + "/cache"));
}

TEST_F(TrainerTest, BadRowsStopWithFileAndLineOrAreSkippedAndCounted) {
  TempDir out;
  std::string data = core::read_file(world_.data_dir + "/sft.jsonl");
  std::string bad = out.write("bad.jsonl", data.substr(0, data.find('\n') + 1) +
                                               R"({"messages": [{"role": "user", "content": "hi"}]})" "\n" + data);
  core::Config c = sft_config(out.path() + "/run");
  c.train.train_file = bad;
  c.train.max_steps = 1;
  std::string msg = rlvr::testing::error_message([&] { run_training(c); });
  EXPECT_EQ(msg.rfind(bad + ":2: ", 0), 0u) << msg;
  c.train.on_bad_row = "skip";
  TrainResult r = run_training(c);
  EXPECT_EQ(r.skipped_rows, 1);
  EXPECT_EQ(r.train_rows, 49);
}

static bool all_finite(const std::map<std::string, at::Tensor>& w) {
  for (const auto& [k, t] : w) {
    if (!torch::isfinite(t).all().item<bool>()) return false;
  }
  return true;
}

static std::vector<std::string> entries_of(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(TrainerTest, NonFiniteLossStopsBeforeTheOptimizerStepNamingTheStep) {
  TempDir out;
  core::Config d = dpo_config(out.path(), world_.model_dir);
  d.dpo.loss = "sigmoid";
  d.dpo.beta = 0.1;
  d.train.max_steps = 4;
  d.train.checkpoint_every = 2;
  d.train.keep_checkpoints = 5;
  run_training(d);
  // Inject NaN reference log-probs into the cache the run wrote, then resume from step 2: the
  // loss of step 3 is NaN.
  const std::string tokenizer_path = world_.model_dir + "/tokenizer.json";
  core::Tokenizer tokenizer = core::Tokenizer::from_file(tokenizer_path);
  TokenizeSettings settings;
  settings.max_seq_len = d.train.max_seq_len;
  auto pairs = load_preference_dataset(d.train.train_file, tokenizer, settings).pairs;
  const std::string key = reference_cache_key(d.train.train_file, world_.model_dir, tokenizer_path, settings);
  const std::string cache = reference_cache_path(out.path() + "/cache", key);
  auto logps = read_reference_cache(cache, key, pairs);
  ASSERT_TRUE(logps.has_value());
  for (double& v : logps->chosen) v = std::nan("");
  write_reference_cache(cache, key, pairs, *logps);
  fs::remove_all(out.path() + "/checkpoints/step-00000004");
  fs::remove_all(out.path() + "/final");

  try {
    run_training(d);
    FAIL() << "expected the run to stop";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "step 3: the training loss is nan; stopped before the optimizer step, so no NaN/inf reached the "
              "weights; last checkpoint: " + out.path() + "/checkpoints/step-00000002");
    EXPECT_EQ(e.hint(), "lower optim.learning_rate, keep optim.max_grad_norm > 0 or check the data; rerunning "
                        "resumes from the last checkpoint");
  }
  EXPECT_EQ(entries_of(out.path() + "/checkpoints"), std::vector<std::string>{"step-00000002"});
  EXPECT_TRUE(all_finite(weights(out.path() + "/checkpoints/step-00000002")));
  EXPECT_FALSE(fs::exists(out.path() + "/final"));
  for (const auto& row : metrics(out.path())) EXPECT_LE(row["step"].get<int64_t>(), 2) << row.dump();
}

TEST_F(TrainerTest, ADifferentRunInTheSameDirectoryIsRefusedAndLeftUntouched) {
  TempDir out;
  core::Config s = sft_config(out.path());
  TrainResult sft = run_training(s);
  const std::string config_yaml = core::read_file(out.path() + "/config.yaml");
  const std::string final_weights = core::read_file(sft.final_dir + "/model.safetensors");
  const std::string metrics_text = core::read_file(out.path() + "/metrics.jsonl");
  // A DPO config of another model that also writes to this directory (the default-output_dir trap).
  TempDir other;
  auto world2 = rlvr::testing::make_tiny_world(other.path(), 48, 16, 1);
  core::Config d = dpo_config(out.path(), world2.model_dir);
  try {
    run_training(d);
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(out.path() + ": holds a finished run (checkpoint " + out.path() +
                            "/checkpoints/step-00000004 at step 4/4) that differs from this config in what defines a "
                            "run (",
                        0),
              0u)
        << msg;
    const std::vector<std::string> changes = {"train.mode: sft -> dpo",
                                              "model.path: " + world_.model_dir + " -> " + world2.model_dir,
                                              "train.train_file (contents): "};
    for (const std::string& change : changes) {
      EXPECT_NE(msg.find(change), std::string::npos) << change << "\n" << msg;
    }
    EXPECT_NE(e.hint().find("train.overwrite_output_dir: true"), std::string::npos) << e.hint();
  }
  EXPECT_EQ(core::read_file(out.path() + "/config.yaml"), config_yaml);
  EXPECT_EQ(core::read_file(sft.final_dir + "/model.safetensors"), final_weights);
  EXPECT_EQ(core::read_file(out.path() + "/metrics.jsonl"), metrics_text);
}

TEST_F(TrainerTest, ResumeWithChangedDataOfTheSameSizeIsRefused) {
  TempDir out;
  std::string data = core::read_file(world_.data_dir + "/sft.jsonl");
  // Same rows, two swapped: same size and step count, different data.
  size_t first_end = data.find('\n') + 1, second_end = data.find('\n', first_end) + 1;
  std::string swapped = data.substr(first_end, second_end - first_end) + data.substr(0, first_end) +
                        data.substr(second_end);
  ASSERT_EQ(swapped.size(), data.size());
  std::string file = out.write("sft.jsonl", data);
  core::Config c = sft_config(out.path() + "/run");
  c.train.train_file = file;
  c.train.checkpoint_every = 2;
  run_training(c);
  fs::remove_all(out.path() + "/run/checkpoints/step-00000004");  // interrupted after step 2
  out.write("sft.jsonl", swapped);
  std::string msg = rlvr::testing::error_message([&] { run_training(c); });
  EXPECT_NE(msg.find("an unfinished run (checkpoint " + out.path() + "/run/checkpoints/step-00000002 at step 2/4)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("(train.train_file (contents): " + core::content_hash(data) + " -> " +
                     core::content_hash(swapped) + ")"),
            std::string::npos)
      << msg;
}

TEST_F(TrainerTest, ResumeFalseNeedsTheOverwriteSwitchToReplaceAFinishedRun) {
  TempDir out;
  core::Config c = sft_config(out.path());
  c.train.max_steps = 2;
  TrainResult first = run_training(c);
  const std::string first_weights = core::read_file(first.final_dir + "/model.safetensors");
  c.train.resume = false;
  c.train.max_steps = 3;
  std::string msg = rlvr::testing::error_message([&] { run_training(c); });
  EXPECT_EQ(msg, out.path() + ": holds a finished run (checkpoint " + out.path() +
                     "/checkpoints/step-00000002 at step 2/2); train.resume is false, and starting over would delete it");
  EXPECT_EQ(core::read_file(first.final_dir + "/model.safetensors"), first_weights);
  EXPECT_EQ(entries_of(out.path() + "/checkpoints"), std::vector<std::string>{"step-00000002"});

  c.train.overwrite_output_dir = true;
  TrainResult second = run_training(c);
  EXPECT_EQ(second.resumed_from_step, -1);
  EXPECT_EQ(second.steps, 3);
  EXPECT_EQ(entries_of(out.path() + "/checkpoints"), std::vector<std::string>{"step-00000003"});
  EXPECT_NE(core::read_file(second.final_dir + "/model.safetensors"), first_weights);
  // final/ was swapped in whole: no temp or old directory is left beside it.
  EXPECT_EQ(entries_of(out.path()), (std::vector<std::string>{"checkpoints", "config.yaml", "final", "logs",
                                                               "metrics.jsonl", "summary.json"}));
  auto rows = metrics(out.path());
  EXPECT_EQ(rows.back()["step"], 3);
  EXPECT_EQ(rows.front()["total_steps"], 3);
}

TEST_F(TrainerTest, ResumeWithAChangedLearningRateIsLoggedAndRecorded) {
  TempDir out;
  core::Config c = sft_config(out.path());
  c.train.checkpoint_every = 2;
  run_training(c);
  const std::string old_yaml = core::read_file(out.path() + "/config.yaml");
  fs::remove_all(out.path() + "/checkpoints/step-00000004");
  fs::remove_all(out.path() + "/final");
  c.optim.learning_rate = 1e-3;
  TrainResult r = run_training(c);
  EXPECT_EQ(r.resumed_from_step, 2);
  std::string records = core::read_file(out.path() + "/resumes.jsonl");
  ASSERT_EQ(std::count(records.begin(), records.end(), '\n'), 1) << records;
  auto rec = nlohmann::json::parse(records);
  EXPECT_EQ(rec["step"], 2);
  EXPECT_EQ(rec["checkpoint"], out.path() + "/checkpoints/step-00000002");
  EXPECT_EQ(rec["changes"], nlohmann::json::parse(R"([{"key": "optim.learning_rate", "old": "0.003", "new": "0.001"}])"));
  EXPECT_EQ(rec["previous_config"], old_yaml);  // the replaced config.yaml stays recoverable
  EXPECT_NE(core::read_file(out.path() + "/config.yaml").find("learning_rate: 0.001"), std::string::npos);
  spdlog::default_logger_raw()->flush();
  EXPECT_NE(core::read_file(out.path() + "/logs/rlvr.log")
                .find("resuming " + out.path() + "/checkpoints/step-00000002 with changed settings: "
                      "optim.learning_rate: 0.003 -> 0.001 (recorded in " + out.path() + "/resumes.jsonl)"),
            std::string::npos);
  // The new checkpoint carries the new settings: resuming it again changes nothing.
  fs::remove_all(out.path() + "/final");
  run_training(c);
  records = core::read_file(out.path() + "/resumes.jsonl");
  auto second = nlohmann::json::parse(records.substr(records.find('\n') + 1));
  EXPECT_EQ(second["step"], 4);
  EXPECT_TRUE(second["changes"].empty());
  EXPECT_FALSE(second.contains("previous_config"));
}

TEST_F(TrainerTest, MaxTimeStopsAfterTheStepThatSpendsItAndAResumeWithMoreTimeContinues) {
  TempDir out;
  core::Config c = sft_config(out.path());
  c.train.max_time_s = 1e-9;  // spent by the first step
  TrainResult r = run_training(c);
  EXPECT_TRUE(r.stopped_by_time);
  EXPECT_EQ(r.steps, 1);
  EXPECT_TRUE(fs::exists(out.path() + "/final/model.safetensors"));
  auto summary = nlohmann::json::parse(core::read_file(out.path() + "/summary.json"));
  EXPECT_EQ(summary["steps"], 1);
  EXPECT_EQ(summary["total_steps"], 4);
  EXPECT_EQ(summary["stopped_by_time"], true);
  const auto ckpt = learner::latest_training_checkpoint(out.path() + "/checkpoints");
  ASSERT_TRUE(ckpt);
  const learner::TrainProgress p = learner::read_training_progress(*ckpt);
  EXPECT_EQ(p.step, 1);
  EXPECT_GT(p.extra.value("elapsed_s", 0.0), 0.0);
  // The time is counted over resumes: still spent, so nothing more is trained.
  r = run_training(c);
  EXPECT_TRUE(r.stopped_by_time);
  EXPECT_EQ(r.steps, 1);
  EXPECT_EQ(r.resumed_from_step, 1);
  // The schedule followed the clock: the budget was spent, so the one step used the end of the
  // linear schedule (lr 0) and the weights did not move.
  const auto rows = metrics(out.path());
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.back()["step"], 1);
  EXPECT_DOUBLE_EQ(rows.back()["lr"].get<double>(), 0.0);
  const auto start = weights(world_.model_dir), after = weights(out.path() + "/final");
  for (const auto& [k, v] : start) EXPECT_TRUE(torch::equal(v, after.at(k))) << k;
  // More time: the run continues to its last step on the step schedule.
  c.train.max_time_s = 0;
  r = run_training(c);
  EXPECT_FALSE(r.stopped_by_time);
  EXPECT_EQ(r.resumed_from_step, 1);
  EXPECT_EQ(r.steps, 4);
  EXPECT_GT(metrics(out.path()).back()["lr"].get<double>(), 0.0);
}

// A generous budget changes nothing: the steps are ahead of the clock, so the schedule and the
// weights equal those of a run without a budget.
TEST_F(TrainerTest, AGenerousTimeBudgetGivesTheSameRunAsNone) {
  TempDir a, b;
  core::Config c = sft_config(a.path());
  c.train.max_time_s = 3600;
  TrainResult r = run_training(c);
  EXPECT_FALSE(r.stopped_by_time);
  run_training(sft_config(b.path()));
  const auto wa = weights(a.path() + "/final"), wb = weights(b.path() + "/final");
  for (const auto& [k, v] : wa) EXPECT_TRUE(torch::equal(v, wb.at(k))) << k;
}

TEST_F(TrainerTest, RunNameIsInTheLogAndTheSummary) {
  core::init_logging("info");
  TempDir out;
  core::Config c = sft_config(out.path());
  c.run.name = "tiny-sft";
  c.train.max_steps = 2;
  TrainResult r = run_training(c);
  auto summary = nlohmann::json::parse(core::read_file(out.path() + "/summary.json"));
  EXPECT_EQ(summary["name"], "tiny-sft");
  EXPECT_EQ(summary["mode"], "sft");
  EXPECT_EQ(summary["steps"], 2);
  EXPECT_EQ(summary["final_dir"], r.final_dir);
  EXPECT_DOUBLE_EQ(summary["last_loss"].get<double>(), r.last_loss);
  spdlog::default_logger_raw()->flush();
  const std::string log = core::read_file(out.path() + "/logs/rlvr.log");
  EXPECT_NE(log.find("rlvr train: run 'tiny-sft', mode sft on "), std::string::npos) << log;
  EXPECT_NE(log.find("run 'tiny-sft' done: 2 steps, last loss "), std::string::npos) << log;
}

TEST_F(TrainerTest, ConfigErrorsAreClear) {
  TempDir out;
  core::Config c = sft_config(out.path());
  c.model.path = out.path() + "/missing";
  std::string msg = rlvr::testing::error_message([&] { run_training(c); });
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
  c = sft_config(out.path());
  c.train.train_file = "";
  msg = rlvr::testing::error_message([&] { run_training(c); });
  EXPECT_NE(msg.find("train.train_file"), std::string::npos) << msg;
}

}  // namespace
}  // namespace rlvr::sft_dpo
