// On-policy preference pairs (`rlvr data pairs`): which of a prompt's scored samples becomes
// the chosen and which the rejected response of a DPO row, and the row itself. Torch-free.
//
// A sample is classified (classify_sample) as
//   * correct:   score >= 1 (the verifier's maximum), an answer was found, and the sample
//                finished on its own (EOS or a stop string; finish_reason eos|stop);
//   * wrong:     finished, answer found, score < 1;
//   * no_answer: finished, but the verifier found no answer (a format failure);
//   * truncated: hit max_new_tokens / the context (finish_reason length), whatever its score;
//   * empty:     no text at all (a DPO row cannot hold an empty response);
//   * unscored:  the verifier could not score it (VerifyResult::error; not the model's fault).
// Chosen candidates are the correct samples; rejected candidates are wrong, no_answer and
// truncated samples whose text differs from the chosen one. empty and unscored samples are
// never used. With RejectedPick::kWrongFirst (the default) the rejected sample comes from the
// first non-empty tier of wrong, then no_answer, then truncated: a wrong-but-well-formed
// response isolates "the answer is wrong" from "the format is broken", and a truncated response
// is stored without its missing end (the chat template closes the turn when DPO renders it), so
// it is the weakest signal. kUniform draws from all rejected candidates alike.
// Picks within a set are uniform and depend only on (seed, prompt key): reproducible whatever
// order the samples finished in.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/prompts.h"
#include "actors/sampler.h"

namespace rlvr::actors {

// One sample with its verifier result.
struct ScoredSample {
  int64_t sample_index = 0;
  std::string text;
  FinishReason finish_reason = FinishReason::kLength;
  int64_t num_tokens = 0;
  double score = 0.0;         // in [0, 1]
  bool answer_found = false;
  bool verifier_error = false;
  std::string reason;         // the verifier's reason
};

enum class SampleClass { kCorrect, kWrong, kNoAnswer, kTruncated, kEmpty, kUnscored };
// "correct", "wrong", "no_answer", "truncated", "empty", "unscored".
const char* sample_class_name(SampleClass c);
SampleClass classify_sample(const ScoredSample& s);

enum class RejectedPick { kWrongFirst, kUniform };
// Parses "wrong-first" / "uniform". Throws rlvr::Error naming `flag` otherwise.
RejectedPick parse_rejected_pick(const std::string& text, const std::string& flag = "--rejected-pick");

// Why a prompt gave no pair.
enum class PairSkip {
  kNone,         // a pair was chosen
  kAllCorrect,   // no usable rejected sample (every usable sample was correct)
  kNoneCorrect,  // no correct sample (every sample wrong, malformed, empty or unscored)
};
// "" (kNone), "all_correct", "none_correct".
const char* pair_skip_name(PairSkip s);

struct PairChoice {
  PairSkip skip = PairSkip::kNone;
  int64_t chosen = -1, rejected = -1;  // indices into the samples given (when skip is kNone)
  SampleClass rejected_class = SampleClass::kWrong;
  int64_t counts[6] = {0, 0, 0, 0, 0, 0};  // samples per SampleClass, indexed by its value
};

// Chooses the pair among `samples` (one prompt's samples, any order). `key` identifies the prompt
// (its row index in the file) so that the draw is the same for it whatever else is in the file.
// Never throws.
PairChoice choose_pair(const std::vector<ScoredSample>& samples, uint64_t seed, int64_t key, RejectedPick pick);

// The DPO row (TÜLU 3 layout, what sft_dpo::load_preference_dataset reads):
//   {"chosen": [prompt messages..., {"role": "assistant", "content": <chosen text>}],
//    "rejected": [prompt messages..., {"role": "assistant", "content": <rejected text>}],
//    "dataset", "ground_truth" (as in the prompt row), "line" (of the prompt file),
//    "chosen_score", "rejected_score", "rejected_class", "chosen_sample", "rejected_sample",
//    "chosen_finish_reason", "rejected_finish_reason", "rejected_reason", "n", "num_correct"}.
// REQUIRES: `choice.skip == kNone` and its indices are valid for `samples`.
nlohmann::json preference_row(const PromptRow& row, const std::vector<ScoredSample>& samples,
                              const PairChoice& choice);

}  // namespace rlvr::actors
