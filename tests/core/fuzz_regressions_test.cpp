// Bugs found by the fuzz targets in fuzz/ (docs/FUZZING.md), one test each, on the committed
// regression inputs in tests/fuzz_regressions/<target>/ (which the fuzz ctest also replays).
// Some of them only fail under a sanitizer (tools/sanitize runs this suite under ASan + UBSan).
#include <string>

#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include "core/config/loader.h"
#include "core/config/pipeline.h"
#include "tests/test_util.h"

namespace rlvr::core {
namespace {

using ::testing::EndsWith;
using rlvr::testing::error_message;

std::string regression(const std::string& relative) {
  return std::string(RLVR_SOURCE_DIR) + "/tests/fuzz_regressions/" + relative;
}

// fuzz/config_yaml: the key check of every mapping kept a reference to `it->first` of a yaml-cpp
// map iterator, a member of a temporary: every later use of the key (its name, its position in
// the duplicate/unknown-key message) read a dead stack object (ASan: stack-use-after-scope).
TEST(FuzzRegressions, ConfigKeyCheckReadsALiveKeyNode) {
  const std::string path = regression("config_yaml/stack_use_after_scope_key_node.yaml");
  EXPECT_EQ(error_message([&] { load_config(path); }), path + ":3:3: duplicate key 'run.seed'");
  EXPECT_EQ(error_message([] { load_config_text("train:\n  batch_sise: 8\n", "t.yaml"); }),
            "t.yaml:2:3: unknown key 'batch_sise' in 'train'; did you mean 'batch_size'?");
}

// fuzz/config_yaml: a string value with bytes that are not UTF-8 was accepted, and
// config_to_yaml (`rlvr config show`) wrote it back with U+FFFD in their place: the shown config
// differed from the one used. Such values are now an error naming the key.
TEST(FuzzRegressions, ConfigStringValueMustBeUtf8) {
  const std::string path = regression("config_yaml/invalid_utf8_string_value.yaml");
  EXPECT_EQ(error_message([&] { load_config(path); }),
            path + ":8:15: train.train_file: the value is not valid UTF-8; expected UTF-8 text (save the file as UTF-8)");
  EXPECT_EQ(error_message([] { load_config_text("verifiers:\n  external:\n    - name: x\n      command: [a, b\xff]\n", "t.yaml"); }),
            "t.yaml:4:20: verifiers.external[0].command[1]: the value is not valid UTF-8; expected UTF-8 text "
            "(save the file as UTF-8)");
  // Valid UTF-8 beyond ASCII is kept and shown unchanged.
  Config c = load_config_text("run:\n  name: \"caf\xc3\xa9 \xe6\x97\xa5\"\n", "t.yaml");
  EXPECT_EQ(c.run.name, "caf\xc3\xa9 \xe6\x97\xa5");
  EXPECT_EQ(load_config_text(config_to_yaml(c), "shown.yaml").run.name, c.run.name);
}

// fuzz/pipeline_yaml: the same dangling key node, reached through the pipeline file's sections.
TEST(FuzzRegressions, PipelineKeyCheckReadsALiveKeyNode) {
  const std::string path = regression("pipeline_yaml/stack_use_after_scope_key_node.yaml");
  std::string message = error_message([&] { load_pipeline(path); });
  EXPECT_THAT(message, ::testing::StartsWith(path + ":")) << message;
}

}  // namespace
}  // namespace rlvr::core
