// generation_config.json: reading, precedence against config keys, and errors; and
// Config::explicit_keys as the loader fills it.
#include "core/config/generation_defaults.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config/loader.h"
#include "core/error.h"
#include "tests/test_util.h"

namespace rlvr::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Llama-3.1-8B-Instruct's generation_config.json (as published on the Hub).
constexpr const char* kLlama31Instruct = R"({
  "bos_token_id": 128000,
  "do_sample": true,
  "eos_token_id": [128001, 128008, 128009],
  "temperature": 0.6,
  "top_p": 0.9,
  "transformers_version": "4.42.3"
})";

// Qwen2.5-7B-Instruct's generation_config.json.
constexpr const char* kQwen25Instruct = R"({
  "bos_token_id": 151643,
  "pad_token_id": 151643,
  "do_sample": true,
  "eos_token_id": [151645, 151643],
  "repetition_penalty": 1.05,
  "temperature": 0.7,
  "top_p": 0.8,
  "top_k": 20,
  "transformers_version": "4.37.0"
})";

TEST(GenerationDefaults, ReadsEosIdsAndSamplingValues) {
  testing::TempDir dir;
  dir.write("generation_config.json", kQwen25Instruct);
  auto g = read_generation_config(dir.path());
  ASSERT_TRUE(g);
  EXPECT_EQ(g->path, dir.path() + "/generation_config.json");
  EXPECT_THAT(g->eos_token_id, ElementsAre(151645, 151643));
  EXPECT_THAT(g->bos_token_id, ElementsAre(151643));
  EXPECT_DOUBLE_EQ(*g->temperature, 0.7);
  EXPECT_DOUBLE_EQ(*g->top_p, 0.8);
  EXPECT_EQ(*g->top_k, 20);
  EXPECT_FALSE(g->max_new_tokens);
  EXPECT_TRUE(*g->do_sample);
  EXPECT_THAT(g->unsupported, ElementsAre("repetition_penalty=1.05"));
  EXPECT_THAT(checkpoint_eos_ids(dir.path()), ElementsAre(151645, 151643));

  testing::TempDir none;
  EXPECT_FALSE(read_generation_config(none.path()));
  EXPECT_FALSE(read_generation_config(""));
  EXPECT_TRUE(checkpoint_eos_ids(none.path()).empty());
  dir.write("generation_config.json", R"({"eos_token_id": 2})");
  EXPECT_THAT(checkpoint_eos_ids(dir.path()), ElementsAre(2));
}

TEST(GenerationDefaults, TheConfigsOwnKeysWin) {
  testing::TempDir dir;
  dir.write("generation_config.json", kLlama31Instruct);
  Config c;
  c.explicit_keys = {"generation.top_p", "run.seed"};
  c.generation.top_p = 0.5;
  const auto applied = apply_generation_defaults(c, *read_generation_config(dir.path()));
  EXPECT_THAT(applied, ElementsAre("generation.temperature=0.6"));
  EXPECT_DOUBLE_EQ(c.generation.temperature, 0.6);
  EXPECT_DOUBLE_EQ(c.generation.top_p, 0.5);
  EXPECT_EQ(c.generation.top_k, 0);  // not in the file: the schema default stays
  EXPECT_EQ(c.generation.max_new_tokens, 256);
}

TEST(GenerationDefaults, DoSampleFalseMeansGreedyUnlessTheConfigSetsATemperature) {
  testing::TempDir dir;
  dir.write("generation_config.json", R"({"do_sample": false, "temperature": 0.9, "max_new_tokens": 64})");
  Config c;
  apply_generation_defaults(c, *read_generation_config(dir.path()));
  EXPECT_DOUBLE_EQ(c.generation.temperature, 0.0);
  EXPECT_EQ(c.generation.max_new_tokens, 64);
  Config set;
  set.explicit_keys = {"generation.temperature"};
  set.generation.temperature = 1.0;
  apply_generation_defaults(set, *read_generation_config(dir.path()));
  EXPECT_DOUBLE_EQ(set.generation.temperature, 1.0);
}

TEST(GenerationDefaults, LoadConfigAppliesTheModelsFileToKeysTheYamlDoesNotSet) {
  testing::TempDir dir;
  dir.write("model/generation_config.json", kLlama31Instruct);
  const std::string yaml = "model:\n  path: " + dir.path() + "/model\ngeneration:\n  top_p: 0.95\n";
  Config c = load_config_text(yaml, "run.yaml");
  EXPECT_DOUBLE_EQ(c.generation.temperature, 0.6);
  EXPECT_DOUBLE_EQ(c.generation.top_p, 0.95);
  EXPECT_EQ(c.explicit_keys, (std::set<std::string>{"model.path", "generation.top_p"}));
  Config over = load_config_text(yaml, "run.yaml", {"generation.temperature=1.0"});
  EXPECT_DOUBLE_EQ(over.generation.temperature, 1.0);
  EXPECT_TRUE(over.explicit_keys.count("generation.temperature"));
}

TEST(GenerationDefaults, ExplicitKeysListLeavesAndListsNotBase) {
  testing::TempDir dir;
  dir.write("base.yaml", "run:\n  seed: 3\n");
  const std::string path = dir.write("run.yaml",
                                     "base: base.yaml\ngeneration:\n  stop: [\"x\"]\nverifiers:\n  external:\n"
                                     "    - name: a\n      command: [\"true\"]\n");
  Config c = load_config(path);
  EXPECT_EQ(c.explicit_keys,
            (std::set<std::string>{"run.seed", "generation.stop", "verifiers.external"}));
}

TEST(GenerationDefaults, BadFilesNameTheFileAndTheField) {
  testing::TempDir dir;
  const std::string file = dir.path() + "/generation_config.json";
  auto msg = [&](const std::string& text) {
    dir.write("generation_config.json", text);
    return testing::error_message([&] { read_generation_config(dir.path()); });
  };
  EXPECT_THAT(msg("{not json"), HasSubstr(file + ": not valid JSON"));
  EXPECT_THAT(msg("[1, 2]"), HasSubstr(file + ": expected a JSON object"));
  EXPECT_THAT(msg(R"({"temperature": "hot"})"), HasSubstr(file + ": temperature must be a number"));
  EXPECT_THAT(msg(R"({"top_p": 1.5})"), HasSubstr(file + ": top_p = 1.5 is out of range; expected 1e-09 to 1"));
  EXPECT_THAT(msg(R"({"top_k": 2.5})"), HasSubstr(file + ": top_k must be an integer"));
  EXPECT_THAT(msg(R"({"eos_token_id": [1, "x"]})"),
              HasSubstr(file + ": eos_token_id must be a non-negative integer or a list of them"));
  EXPECT_THAT(msg(R"({"do_sample": "yes"})"), HasSubstr(file + ": do_sample must be true or false"));
  // The loader reports it too, instead of running with half-read defaults.
  const std::string yaml = "model:\n  path: " + dir.path() + "\n";
  dir.write("generation_config.json", R"({"max_new_tokens": 0})");
  EXPECT_THAT(testing::error_message([&] { load_config_text(yaml, "run.yaml"); }),
              HasSubstr(file + ": max_new_tokens = 0 is out of range"));
}

}  // namespace
}  // namespace rlvr::core
