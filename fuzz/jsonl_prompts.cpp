// Fuzz target: RLVR prompt files (`messages`, `ground_truth`, `dataset`) and the prompt files of
// `rlvr generate`/`rlvr eval`: core/data/jsonl.h parse_prompt_row, and actors/prompts.h
// load_prompts (torch-free: actors/prompts.cpp is compiled into this target) with the tiny
// tokenizer, with and without require_ground_truth.
//
// Input: the file's bytes. Bad rows: clean rlvr::Error (kStop) or skipped and counted (kSkip).
#include <cstdint>
#include <string>

#include "actors/prompts.h"
#include "core/data/jsonl.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/tiny_tokenizer.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rlvr::fuzz::quiet_logging();
  (void)rlvr::fuzz::tiny_tokenizer();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rlvr;
  const std::string path = fuzz::scratch().write("prompts.jsonl", fuzz::as_view(data, size));
  auto on_row = [](int64_t line, const nlohmann::json& row) {
    core::PromptExample ex = core::parse_prompt_row(row, line);
    RLVR_FUZZ_EXPECT(!ex.messages.empty(), "an accepted prompt without messages");
  };
  core::JsonlStats skip;
  fuzz::expect_clean([&] { skip = core::read_jsonl(path, core::BadRowPolicy::kSkip, on_row); });
  bool stop_ok = fuzz::expect_clean([&] { (void)core::read_jsonl(path, core::BadRowPolicy::kStop, on_row); });
  RLVR_FUZZ_EXPECT(stop_ok == (skip.skipped == 0), "kStop and kSkip disagree about bad rows");
  for (bool require : {true, false}) {
    actors::PromptOptions options;
    options.chat_template = require ? "tulu" : "chatml";
    options.require_ground_truth = require;
    options.on_bad_row = core::BadRowPolicy::kSkip;
    fuzz::expect_clean([&] {
      actors::PromptSet set = actors::load_prompts(path, fuzz::tiny_tokenizer(), options);
      for (const auto& row : set.rows) {
        RLVR_FUZZ_EXPECT(!row.ids.empty() && !row.messages.empty(), "a prompt row without tokens or messages");
        (void)row.fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
    });
  }
  return 0;
}
