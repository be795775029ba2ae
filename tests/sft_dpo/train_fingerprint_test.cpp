// Run fingerprints of rlvr train (sft_dpo/train_fingerprint.h) and the resume / fresh start / refuse decision (learner/run_guard.h), on run
// directories whose checkpoints are just state.json files (no training).
#include "sft_dpo/train_fingerprint.h"

#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "tests/test_util.h"

namespace rlvr::sft_dpo {
namespace {

namespace fs = std::filesystem;
using rlvr::testing::error_message;
using rlvr::testing::TempDir;
using learner::RunFingerprint;
using learner::StartPlan;
using learner::record_resume;
using learner::diff_values;
using learner::describe_changes;
using learner::flatten_config;

class RunGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("model/config.json", R"({"hidden_size": 32})");
    dir_.write("model/tokenizer.json", R"({"model": {}})");
    dir_.write("data/sft.jsonl", "{\"messages\": [1]}\n{\"messages\": [2]}\n");
    dir_.write("data/dpo.jsonl", "{\"chosen\": [1], \"rejected\": [2]}\n");
  }

  core::Config config() const {
    core::Config c;
    c.run.output_dir = dir_.path() + "/run";
    c.model.path = dir_.path() + "/model";
    c.train.mode = "sft";
    c.train.train_file = dir_.path() + "/data/sft.jsonl";
    c.train.max_steps = 6;
    c.optim.learning_rate = 1e-3;
    return c;
  }

  // A checkpoint as train_state writes it, minus the weights (plan_start reads state.json only).
  std::string write_checkpoint(const core::Config& c, int64_t step, int64_t total, const nlohmann::json& run) const {
    nlohmann::json state = {{"magic", "rlvr-train-state"}, {"version", 1},       {"step", step},
                            {"total_steps", total},        {"epoch", 0},         {"epoch_offset", 0},
                            {"tokens", 0},                 {"std_rng", ""},      {"extra", nlohmann::json::object()},
                            {"run", run}};
    std::string ckpt = fmt::format("{}/checkpoints/step-{:08d}", c.run.output_dir, step);
    core::write_file_atomic(ckpt + "/state.json", state.dump());
    return ckpt;
  }

  TempDir dir_;
};

TEST_F(RunGuardTest, FlattenConfigNamesEveryKeyWithItsValue) {
  core::Config c = config();
  c.generation.stop = {"\n\n", "###"};
  auto flat = flatten_config(c);
  EXPECT_EQ(flat.at("optim.learning_rate"), "0.001");
  EXPECT_EQ(flat.at("optim.adam_eps"), "1e-08");
  EXPECT_EQ(flat.at("train.packing"), "false");
  EXPECT_EQ(flat.at("train.max_steps"), "6");
  EXPECT_EQ(flat.at("model.chat_template"), "auto");
  EXPECT_EQ(flat.at("generation.stop"), R"(["\n\n","###"])");
  EXPECT_EQ(flat.at("verifiers.external"), "0 items");
  EXPECT_EQ(flat.at("train.overwrite_output_dir"), "false");
}

TEST_F(RunGuardTest, IdentityCoversDataContentsAndRunDefiningKeysOnly) {
  core::Config c = config();
  RunFingerprint a = fingerprint_run(c);
  EXPECT_EQ(a.identity.at("train.train_file (contents)"), core::file_content_hash(c.train.train_file));
  EXPECT_EQ(a.identity.at("model.path"), c.model.path);
  EXPECT_EQ(a.identity.at("train.max_steps"), "6");
  EXPECT_EQ(a.identity.count("train.num_epochs"), 0u);  // unused while max_steps > 0
  EXPECT_EQ(a.identity.count("dpo.loss"), 0u);          // sft
  EXPECT_EQ(a.settings.at("optim.learning_rate"), "0.001");
  EXPECT_EQ(a.settings.count("train.resume"), 0u);
  EXPECT_EQ(a.settings.count("dpo.beta"), 0u);

  // Same size, other contents: a different run.
  dir_.write("data/sft.jsonl", "{\"messages\": [3]}\n{\"messages\": [4]}\n");
  RunFingerprint b = fingerprint_run(c);
  EXPECT_EQ(describe_changes(diff_values(a.identity, b.identity)),
            fmt::format("train.train_file (contents): {} -> {}", a.identity.at("train.train_file (contents)"),
                        b.identity.at("train.train_file (contents)")));
  EXPECT_EQ(a.settings, b.settings);

  // A learning rate is a setting, not identity.
  c.optim.learning_rate = 2e-3;
  RunFingerprint d = fingerprint_run(c);
  EXPECT_EQ(b.identity, d.identity);
  EXPECT_EQ(describe_changes(diff_values(b.settings, d.settings)), "optim.learning_rate: 0.001 -> 0.002");

  // DPO: the resolved reference (empty reference_path means model.path) and the loss count.
  c.train.mode = "dpo";
  c.train.train_file = dir_.path() + "/data/dpo.jsonl";
  RunFingerprint e = fingerprint_run(c);
  EXPECT_EQ(e.identity.at("dpo.reference_path"), c.model.path);
  EXPECT_EQ(e.identity.at("dpo.loss"), "dpo_norm");
  EXPECT_EQ(e.settings.at("dpo.beta"), "5");
  EXPECT_EQ(e.identity.count("train.packing"), 0u);
}

TEST_F(RunGuardTest, RelativeAndAbsolutePathsOfTheSameFileAgree) {
  core::Config c = config();
  RunFingerprint abs = fingerprint_run(c);
  fs::path cwd = fs::current_path();
  fs::current_path(dir_.path());
  c.model.path = "model";
  c.train.train_file = "./data/../data/sft.jsonl";
  RunFingerprint rel = fingerprint_run(c);
  fs::current_path(cwd);
  EXPECT_TRUE(diff_values(abs.identity, rel.identity).empty()) << describe_changes(diff_values(abs.identity, rel.identity));
  EXPECT_TRUE(diff_values(abs.settings, rel.settings).empty()) << describe_changes(diff_values(abs.settings, rel.settings));
}

TEST_F(RunGuardTest, EmptyDirectoryStartsFresh) {
  core::Config c = config();
  StartPlan plan = plan_start(c, fingerprint_run(c));
  EXPECT_FALSE(plan.resume_from);
  EXPECT_FALSE(plan.discard_existing);
}

TEST_F(RunGuardTest, SameRunResumesAndListsChangedSettings) {
  core::Config c = config();
  std::string ckpt = write_checkpoint(c, 4, 6, fingerprint_run(c).to_json());
  StartPlan same = plan_start(c, fingerprint_run(c));
  EXPECT_EQ(same.resume_from, ckpt);
  EXPECT_TRUE(same.changes.empty());
  c.optim.learning_rate = 5e-4;
  c.train.checkpoint_every = 2;
  StartPlan changed = plan_start(c, fingerprint_run(c));
  EXPECT_EQ(changed.resume_from, ckpt);
  EXPECT_EQ(describe_changes(changed.changes), "optim.learning_rate: 0.001 -> 0.0005; train.checkpoint_every: 0 -> 2");
  // train.overwrite_output_dir does not stop a matching resume.
  c.train.overwrite_output_dir = true;
  EXPECT_EQ(plan_start(c, fingerprint_run(c)).resume_from, ckpt);
}

TEST_F(RunGuardTest, ADifferentRunIsRefusedNamingEveryChange) {
  core::Config sft = config();
  std::string ckpt = write_checkpoint(sft, 6, 6, fingerprint_run(sft).to_json());
  core::Config dpo = sft;  // the second config of the issue: same default output_dir, another mode and model
  dpo.train.mode = "dpo";
  dpo.train.train_file = dir_.path() + "/data/dpo.jsonl";
  dir_.write("other/config.json", R"({"hidden_size": 64})");
  dir_.write("other/tokenizer.json", R"({"model": {}})");
  dpo.model.path = dir_.path() + "/other";
  RunFingerprint fp = fingerprint_run(dpo);
  try {
    plan_start(dpo, fp);
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    const auto old = fingerprint_run(sft);
    EXPECT_EQ(std::string(e.what()),
              fmt::format("{}/run: holds a finished run (checkpoint {} at step 6/6) that differs from this config in "
                          "what defines a run (dpo.loss: (absent) -> dpo_norm; dpo.reference_path: (absent) -> "
                          "{}/other; model.path: {}/model -> {}/other; model.path (config.json contents): {} -> {}; "
                          "train.mode: sft -> dpo; train.packing: false -> (absent); train.train_file (contents): "
                          "{} -> {}); resuming it would mix the two runs",
                          dir_.path(), ckpt, dir_.path(), dir_.path(), dir_.path(),
                          old.identity.at("model.path (config.json contents)"),
                          fp.identity.at("model.path (config.json contents)"),
                          old.identity.at("train.train_file (contents)"), fp.identity.at("train.train_file (contents)")));
    EXPECT_EQ(e.hint(),
              "set train.overwrite_output_dir: true to discard it (its checkpoints, metrics and final/) and start "
              "this run fresh, or choose another run.output_dir");
  }
  dpo.train.overwrite_output_dir = true;
  StartPlan plan = plan_start(dpo, fp);
  EXPECT_FALSE(plan.resume_from);
  EXPECT_TRUE(plan.discard_existing);
  EXPECT_NE(plan.discard_reason.find("train.mode: sft -> dpo"), std::string::npos) << plan.discard_reason;
}

TEST_F(RunGuardTest, ResumeFalseDoesNotDeleteARunWithoutTheOverwriteSwitch) {
  core::Config c = config();
  std::string ckpt = write_checkpoint(c, 6, 6, fingerprint_run(c).to_json());
  c.train.resume = false;
  std::string msg = error_message([&] { plan_start(c, fingerprint_run(c)); });
  EXPECT_EQ(msg, fmt::format("{}/run: holds a finished run (checkpoint {} at step 6/6); train.resume is false, and "
                             "starting over would delete it",
                             dir_.path(), ckpt));
  c.train.overwrite_output_dir = true;
  StartPlan plan = plan_start(c, fingerprint_run(c));
  EXPECT_FALSE(plan.resume_from);
  EXPECT_TRUE(plan.discard_existing);
}

TEST_F(RunGuardTest, AFinalModelWithoutCheckpointsIsNotReplacedSilently) {
  core::Config c = config();
  dir_.write("run/final/config.json", "{}");
  std::string msg = error_message([&] { plan_start(c, fingerprint_run(c)); });
  EXPECT_EQ(msg, dir_.path() + "/run: holds the final/ model of an earlier run but no checkpoint to compare this config "
                               "with; refusing to replace it");
  c.train.overwrite_output_dir = true;
  EXPECT_TRUE(plan_start(c, fingerprint_run(c)).discard_existing);
}

TEST_F(RunGuardTest, CheckpointsWithoutAFingerprintResumeUnverified) {
  core::Config c = config();
  std::string ckpt = write_checkpoint(c, 2, 6, nlohmann::json::object());
  StartPlan plan = plan_start(c, fingerprint_run(c));
  EXPECT_EQ(plan.resume_from, ckpt);
  EXPECT_TRUE(plan.unverified);
}

TEST_F(RunGuardTest, MalformedFingerprintNamesTheFile) {
  core::Config c = config();
  std::string ckpt = write_checkpoint(c, 2, 6, {{"identity", {{"train.mode", 3}}}});
  std::string msg = error_message([&] { plan_start(c, fingerprint_run(c)); });
  EXPECT_EQ(msg.rfind(ckpt + "/state.json: malformed run fingerprint (\"run\"): ", 0), 0u) << msg;
}

TEST_F(RunGuardTest, MissingDataFileIsNamed) {
  core::Config c = config();
  c.train.train_file = dir_.path() + "/data/none.jsonl";
  EXPECT_EQ(error_message([&] { fingerprint_run(c); }),
            "train.train_file: " + dir_.path() + "/data/none.jsonl: cannot open for reading: No such file or directory");
  c = config();
  c.model.path = dir_.path() + "/nomodel";
  EXPECT_EQ(error_message([&] { fingerprint_run(c); }),
            "model.path: " + dir_.path() + "/nomodel/config.json: cannot open for reading: No such file or directory");
}

TEST_F(RunGuardTest, ResumeRecordsKeepTheChangesAndThePreviousConfig) {
  core::Config c = config();
  std::string ckpt = write_checkpoint(c, 4, 6, fingerprint_run(c).to_json());
  c.optim.learning_rate = 5e-4;
  StartPlan plan = plan_start(c, fingerprint_run(c));
  record_resume(c.run.output_dir, plan, 4, "optim:\n  learning_rate: 0.001\n", "optim:\n  learning_rate: 0.0005\n");
  record_resume(c.run.output_dir, plan_start(c, fingerprint_run(c)), 4, "same\n", "same\n");
  std::string text = core::read_file(c.run.output_dir + "/resumes.jsonl");
  auto first = nlohmann::json::parse(text.substr(0, text.find('\n')));
  EXPECT_EQ(first["step"], 4);
  EXPECT_EQ(first["checkpoint"], ckpt);
  EXPECT_EQ(first["verified"], true);
  EXPECT_EQ(first["changes"],
            nlohmann::json::parse(R"([{"key": "optim.learning_rate", "old": "0.001", "new": "0.0005"}])"));
  EXPECT_EQ(first["previous_config"], "optim:\n  learning_rate: 0.001\n");
  EXPECT_EQ(first["time"].get<std::string>().size(), 20u);  // 2026-01-02T03:04:05Z
  auto second = nlohmann::json::parse(text.substr(text.find('\n') + 1));
  EXPECT_FALSE(second.contains("previous_config"));  // config.yaml did not change
}

}  // namespace
}  // namespace rlvr::sft_dpo
