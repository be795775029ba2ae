// Config loading: defaults, every error class with its exact message, base files, --set
// overrides, and the show -> check round trip.
#include "core/config/loader.h"

#include <gtest/gtest.h>

#include "core/fs.h"
#include "tests/test_util.h"

namespace rlvr::core {
namespace {

using rlvr::testing::error_message;
using rlvr::testing::TempDir;

Config load_text(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  return load_config_text(yaml, "test.yaml", overrides);
}

TEST(Config, EmptyFileGivesDefaults) {
  Config c = load_text("");
  EXPECT_EQ(c.run.seed, 1);
  EXPECT_EQ(c.run.device, "cpu");
  EXPECT_EQ(c.model.chat_template, "auto");
  EXPECT_DOUBLE_EQ(c.verifiers.verification_reward, 10.0);
  EXPECT_TRUE(c.verifiers.external.empty());
}

TEST(Config, ReadsEveryFieldKind) {
  Config c = load_text(
      "run:\n  name: exp\n  seed: 7\n  device: cuda\n  threads: 2\n"
      "verifiers:\n  verification_reward: 2.5\n  external:\n"
      "    - name: py\n      command: [python3, v.py]\n      timeout_ms: 100\n");
  EXPECT_EQ(c.run.name, "exp");
  EXPECT_EQ(c.run.seed, 7);
  EXPECT_EQ(c.run.device, "cuda");
  EXPECT_EQ(c.run.threads, 2);
  EXPECT_DOUBLE_EQ(c.verifiers.verification_reward, 2.5);
  ASSERT_EQ(c.verifiers.external.size(), 1u);
  EXPECT_EQ(c.verifiers.external[0].name, "py");
  EXPECT_EQ(c.verifiers.external[0].command, (std::vector<std::string>{"python3", "v.py"}));
  EXPECT_EQ(c.verifiers.external[0].timeout_ms, 100);
  EXPECT_EQ(c.verifiers.external[0].num_processes, 1);  // default inside a list item
}

TEST(Config, UnknownKeyNamesPositionAndSuggests) {
  EXPECT_EQ(error_message([] { load_text("run:\n  name: x\n  sed: 3\n"); }),
            "test.yaml:3:3: unknown key 'sed' in 'run'; did you mean 'seed'?");
  EXPECT_EQ(error_message([] { load_text("verifiers:\n  verification_reword: 1\n"); }),
            "test.yaml:2:3: unknown key 'verification_reword' in 'verifiers'; "
            "did you mean 'verification_reward'?");
}

TEST(Config, UnknownTopLevelKeyWithoutCloseMatchListsKnownKeys) {
  EXPECT_EQ(error_message([] { load_text("zzzzzzzz: 1\n"); }),
            "test.yaml:1:1: unknown key 'zzzzzzzz'; known keys: base, run, model, verifiers, train, optim, dpo, generation, rl, learner, actors, security");
  EXPECT_EQ(error_message([] { load_text("mdel:\n  path: x\n"); }),
            "test.yaml:1:1: unknown key 'mdel'; did you mean 'model'?");
}

TEST(Config, UnknownKeyInsideListItem) {
  EXPECT_EQ(error_message([] {
              load_text("verifiers:\n  external:\n    - name: a\n      comand: [x]\n");
            }),
            "test.yaml:4:7: unknown key 'comand' in 'verifiers.external[0]'; did you mean 'command'?");
}

TEST(Config, WrongTypesNameKeyValueAndExpectation) {
  EXPECT_EQ(error_message([] { load_text("run:\n  seed: abc\n"); }),
            "test.yaml:2:9: run.seed: got 'abc'; expected an integer >= 0");
  EXPECT_EQ(error_message([] { load_text("run:\n  seed: 1.5\n"); }),
            "test.yaml:2:9: run.seed: got '1.5'; expected an integer >= 0");
  EXPECT_EQ(error_message([] { load_text("verifiers:\n  verification_reward: ten\n"); }),
            "test.yaml:2:24: verifiers.verification_reward: got 'ten'; expected a number >= 0");
  EXPECT_EQ(error_message([] { load_text("run:\n  seed: [1, 2]\n"); }),
            "test.yaml:2:9: run.seed: expected an integer >= 0, got a list");
  EXPECT_EQ(error_message([] { load_text("run: 5\n"); }),
            "test.yaml:1:6: run: got '5'; expected a mapping of keys");
  EXPECT_EQ(error_message([] { load_text("verifiers:\n  external:\n    - name: a\n      command: x\n"); }),
            "test.yaml:4:16: verifiers.external[0].command: got 'x'; expected a list of strings");
  EXPECT_EQ(error_message([] { load_text("- a\n- b\n"); }),
            "test.yaml:1:1: expected a mapping of config keys at the top level, got a list");
}

TEST(Config, OutOfRangeNamesRange) {
  EXPECT_EQ(error_message([] { load_text("run:\n  seed: -2\n"); }),
            "test.yaml:2:9: run.seed: value '-2' is out of range; expected an integer >= 0");
  EXPECT_EQ(error_message([] {
              load_text("verifiers:\n  external:\n    - name: a\n      timeout_ms: 0\n");
            }),
            "test.yaml:4:19: verifiers.external[0].timeout_ms: value '0' is out of range; "
            "expected an integer in [1, 3600000]");
}

TEST(Config, ChoiceListsAllowedValues) {
  EXPECT_EQ(error_message([] { load_text("run:\n  dtype: bfloat61\n"); }),
            "test.yaml:2:10: run.dtype: 'bfloat61' is not one of: auto, float32, bfloat16, float16; "
            "did you mean 'bfloat16'?");
  EXPECT_EQ(error_message([] { load_text("run:\n  device: tpu-v5-pod\n"); }),
            "test.yaml:2:11: run.device: 'tpu-v5-pod' is not one of: cpu, cuda");
}

TEST(Config, DuplicateKeyIsAnError) {
  EXPECT_EQ(error_message([] { load_text("run:\n  seed: 1\n  seed: 2\n"); }),
            "test.yaml:3:3: duplicate key 'run.seed'");
}

TEST(Config, YamlSyntaxErrorNamesPosition) {
  EXPECT_EQ(error_message([] { load_text("run:\n  seed: [1\n"); }),
            "test.yaml:3:1: YAML syntax error: end of sequence flow not found");
}

TEST(Config, OverridesApplyInOrderAndAreValidated) {
  Config c = load_text("run:\n  seed: 3\n", {"run.seed=5", "run.name=x", "run.seed=9"});
  EXPECT_EQ(c.run.seed, 9);
  EXPECT_EQ(c.run.name, "x");
  c = load_text("", {"verifiers.external=[{name: a, command: [b, c]}]"});
  ASSERT_EQ(c.verifiers.external.size(), 1u);
  EXPECT_EQ(c.verifiers.external[0].command[1], "c");
  EXPECT_EQ(error_message([] { load_text("", {"run.sed=3"}); }),
            "--set run.sed=3: unknown key 'sed' in 'run'; did you mean 'seed'?");
  EXPECT_EQ(error_message([] { load_text("", {"run.seed=x"}); }),
            "--set run.seed=x: run.seed: got 'x'; expected an integer >= 0");
  EXPECT_EQ(error_message([] { load_text("", {"run.seed"}); }),
            "--set run.seed: expected KEY=VALUE with a dotted key, e.g. run.seed=3");
  EXPECT_EQ(error_message([] { load_text("", {"run..seed=1"}); }),
            "--set run..seed=1: empty component in key 'run..seed'");
  EXPECT_EQ(error_message([] { load_text("", {"run=3"}); }),
            "--set run=3: run: got '3'; expected a mapping of keys");
}

TEST(Config, BaseFileIsMergedAndErrorsNameTheRightFile) {
  TempDir dir;
  dir.write("base.yaml", "run:\n  seed: 4\n  name: base\nmodel:\n  path: ckpt\n");
  std::string top = dir.write("sub/top.yaml", "base: ../base.yaml\nrun:\n  name: top\n");
  Config c = load_config(top);
  EXPECT_EQ(c.run.seed, 4);        // from base
  EXPECT_EQ(c.run.name, "top");    // overridden
  EXPECT_EQ(c.model.path, "ckpt");  // from base, other section

  std::string bad_base = dir.write("bad.yaml", "run:\n  seeed: 1\n");
  std::string uses_bad = dir.write("uses_bad.yaml", "base: bad.yaml\n");
  EXPECT_EQ(error_message([&] { load_config(uses_bad); }),
            bad_base + ":2:3: unknown key 'seeed' in 'run'; did you mean 'seed'?");

  std::string missing = dir.write("missing.yaml", "base: nope.yaml\n");
  EXPECT_EQ(error_message([&] { load_config(missing); }),
            missing + ":1:7: base: " + dir.path() + "/nope.yaml: cannot open for reading: "
                      "No such file or directory");
}

TEST(Config, PathsInsideAConfigAreRelativeToTheWorkingDirectoryNotTheFile) {
  // Pinned behaviour (docs/CONFIG.md): only `base:` is resolved against the YAML file's folder;
  // data, model and output paths stay as written, so they resolve against the working directory.
  TempDir dir;
  dir.write("configs/base.yaml", "model:\n  path: ckpt\n");
  std::string top = dir.write("configs/sub/top.yaml",
                              "base: ../base.yaml\n"
                              "train:\n  train_file: data/sft.jsonl\n  eval_file: ./eval.jsonl\n"
                              "run:\n  output_dir: runs/x\n"
                              "rl:\n  train_file: rl.jsonl\n");
  Config c = load_config(top);
  EXPECT_EQ(c.model.path, "ckpt");  // from the base file, not rewritten to configs/ckpt
  EXPECT_EQ(c.train.train_file, "data/sft.jsonl");
  EXPECT_EQ(c.train.eval_file, "./eval.jsonl");
  EXPECT_EQ(c.run.output_dir, "runs/x");
  EXPECT_EQ(c.rl.train_file, "rl.jsonl");
  std::string mix = dir.write("configs/mix.yaml",
                              "train:\n  train_files:\n    - {path: a.jsonl, weight: 0.5}\n    - {path: b.jsonl.gz, rows: 100}\n");
  Config m = load_config(mix);
  ASSERT_EQ(m.train.train_files.size(), 2u);
  EXPECT_EQ(m.train.train_files[0].path, "a.jsonl");
  EXPECT_DOUBLE_EQ(m.train.train_files[0].weight, 0.5);
  EXPECT_EQ(m.train.train_files[0].rows, 0);
  EXPECT_EQ(m.train.train_files[1].path, "b.jsonl.gz");
  EXPECT_DOUBLE_EQ(m.train.train_files[1].weight, 1.0);
  EXPECT_EQ(m.train.train_files[1].rows, 100);
}

TEST(Config, TrainFileAndTrainFilesTogetherAreRefused) {
  EXPECT_EQ(error_message([] {
              load_text("train:\n  train_file: a.jsonl\n  train_files: [{path: b.jsonl}]\n");
            }),
            "test.yaml: train.train_file and train.train_files are both set; expected one of them");
  EXPECT_EQ(error_message([] { load_text("train:\n  train_file: a.jsonl\n", {"train.train_files=[{path: b.jsonl}]"}); }),
            "test.yaml: train.train_file and train.train_files are both set; expected one of them");
  EXPECT_NE(error_message([] { load_text("train:\n  train_files: [{path: b.jsonl, weight: -1}]\n"); })
                .find("train.train_files[0].weight"),
            std::string::npos);
}

TEST(Config, BaseCycleIsDetected) {
  TempDir dir;
  std::string a = dir.write("a.yaml", "base: b.yaml\n");
  std::string b = dir.write("b.yaml", "base: a.yaml\n");
  std::string msg = error_message([&] { load_config(a); });
  EXPECT_EQ(msg, b + ":1:7: base: 'a.yaml' includes itself (cycle: " + a + " -> " + b + " -> " + a + ")");
}

// A base name the file system refuses (longer than a file name may be) is an error naming the
// key and the file system's reason, not an exception escaping the loader (found by fuzzing).
TEST(Config, BaseNameTooLongIsAnErrorNamingTheKey) {
  TempDir dir;
  const std::string long_name(300, 'x');
  std::string a = dir.write("a.yaml", "base: " + long_name + ".yaml\n");
  EXPECT_EQ(error_message([&] { load_config(a); }),
            a + ":1:7: base: " + dir.path() + "/" + long_name + ".yaml: cannot open for reading: File name too long");
}

TEST(Config, MissingFileNamesPath) {
  EXPECT_EQ(error_message([] { load_config("/nonexistent/x.yaml"); }),
            "/nonexistent/x.yaml: cannot open for reading: No such file or directory");
}

TEST(Config, ShowOutputRoundTripsThroughLoad) {
  Config c = load_text(
      "run:\n  name: \"true\"\n  seed: 11\nmodel:\n  path: \"\"\n"
      "verifiers:\n  verification_reward: 0.1\n  external:\n    - name: ext\n      command: [\"a b\", \"null\"]\n");
  std::string yaml = config_to_yaml(c);
  Config back = load_text(yaml);
  EXPECT_EQ(config_to_yaml(back), yaml);
  EXPECT_EQ(back.run.name, "true");
  EXPECT_EQ(back.verifiers.external[0].command, (std::vector<std::string>{"a b", "null"}));
  EXPECT_DOUBLE_EQ(back.verifiers.verification_reward, 0.1);
}

TEST(Config, DocsFileMatchesSchema) {
  std::string committed = read_file(std::string(RLVR_SOURCE_DIR) + "/docs/CONFIG.md");
  EXPECT_EQ(committed, config_docs_markdown())
      << "docs/CONFIG.md is out of date: run `build/rlvr config docs > docs/CONFIG.md`";
  for (const auto& key : config_keys()) {
    EXPECT_NE(committed.find("`" + key + "`"), std::string::npos) << key << " is not documented";
  }
}

TEST(Config, ClosestMatchOnlySuggestsPlausibleTypos) {
  std::vector<std::string> keys{"learning_rate", "seed", "name"};
  EXPECT_EQ(closest_match("learnig_rate", keys), "learning_rate");
  EXPECT_EQ(closest_match("sede", keys), "seed");
  EXPECT_EQ(closest_match("completely_else", keys), std::nullopt);
}

}  // namespace
}  // namespace rlvr::core
