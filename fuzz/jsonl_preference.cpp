// Fuzz target: DPO preference files (TULU `chosen`/`rejected` conversations and TRL
// `prompt`/`chosen`/`rejected` rows): core/data/jsonl.h parse_preference_row, and the DPO dataset
// loader sft_dpo/data.h load_preference_dataset (torch-free: sft_dpo/data.cpp is compiled into
// this target) with the tiny tokenizer.
//
// Input: the file's bytes. Bad rows: clean rlvr::Error (kStop) or skipped and counted (kSkip).
#include <cstdint>
#include <string>

#include "core/data/jsonl.h"
#include "fuzz/fuzz_util.h"
#include "fuzz/tiny_tokenizer.h"
#include "sft_dpo/data.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rlvr::fuzz::quiet_logging();
  (void)rlvr::fuzz::tiny_tokenizer();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rlvr;
  const std::string path = fuzz::scratch().write("pairs.jsonl", fuzz::as_view(data, size));
  auto on_row = [](int64_t line, const nlohmann::json& row) {
    core::PreferenceExample ex = core::parse_preference_row(row, line);
    RLVR_FUZZ_EXPECT(!ex.chosen.empty() && !ex.rejected.empty(), "an accepted pair without a response");
  };
  core::JsonlStats skip;
  fuzz::expect_clean([&] { skip = core::read_jsonl(path, core::BadRowPolicy::kSkip, on_row); });
  bool stop_ok = fuzz::expect_clean([&] { (void)core::read_jsonl(path, core::BadRowPolicy::kStop, on_row); });
  RLVR_FUZZ_EXPECT(stop_ok == (skip.skipped == 0), "kStop and kSkip disagree about bad rows");
  for (const char* tmpl : {"tulu", "chatml"}) {
    sft_dpo::TokenizeSettings settings;
    settings.chat_template = tmpl;
    settings.max_seq_len = 48;
    settings.on_bad_row = core::BadRowPolicy::kSkip;
    fuzz::expect_clean([&] {
      sft_dpo::PreferenceDataset ds = sft_dpo::load_preference_dataset(path, fuzz::tiny_tokenizer(), settings);
      for (const auto& p : ds.pairs) {
        for (const auto* seq : {&p.chosen, &p.rejected}) {
          RLVR_FUZZ_EXPECT(seq->ids.size() == seq->loss_mask.size(), "ids and loss_mask differ in length");
          RLVR_FUZZ_EXPECT(static_cast<int64_t>(seq->ids.size()) <= settings.max_seq_len,
                           "sequence longer than max_seq_len");
        }
      }
    });
  }
  return 0;
}
