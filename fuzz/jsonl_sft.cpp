// Fuzz target: SFT data files (JSONL rows with `messages`): core/data/jsonl.h read_jsonl +
// parse_sft_row, and the SFT dataset loader sft_dpo/data.h load_sft_dataset (torch-free:
// sft_dpo/data.cpp is compiled into this target) with the tiny tokenizer, tulu and chatml
// templates, truncation and packing.
//
// Input: the file's bytes. Every bad row must be a clean rlvr::Error (kStop) or a skipped,
// counted row (kSkip); the counts of the two policies must agree.
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
  const std::string path = fuzz::scratch().write("sft.jsonl", fuzz::as_view(data, size));
  auto on_row = [](int64_t line, const nlohmann::json& row) { (void)core::parse_sft_row(row, line); };
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
      sft_dpo::SftDataset ds = sft_dpo::load_sft_dataset(path, fuzz::tiny_tokenizer(), settings);
      for (const auto& r : ds.rows) {
        RLVR_FUZZ_EXPECT(r.ids.size() == r.loss_mask.size(), "ids and loss_mask differ in length");
        RLVR_FUZZ_EXPECT(static_cast<int64_t>(r.ids.size()) <= settings.max_seq_len, "row longer than max_seq_len");
        RLVR_FUZZ_EXPECT(r.num_targets > 0, "a kept row without targets");
      }
      (void)sft_dpo::pack_rows(ds.rows, settings.max_seq_len);
    });
  }
  return 0;
}
