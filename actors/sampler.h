// The sampling engine of the RL actors, `rlvr generate` and `rlvr eval`: batched generation with
// a KV cache, continuous batching, GRPO groups sharing their prompt's prefill, EOS and stop-string
// stopping, per-sample reproducible randomness and behaviour log-probabilities.
//
// How a generate() call runs (docs/GENERATION.md has the full story):
//   * The work list is every (prompt, sample) pair, prompt-major. `batch_size` rows decode
//     together, one token per row per step (CausalLM::decode_step).
//   * Continuous batching: when a row finishes, the next pair takes its row at once. Its prompt
//     is prefilled in a small side cache (several new prompts in one batched call) and its
//     keys/values are copied into the row, right-aligned at the shared cache length; the row's
//     older slots are masked. The n samples of a prompt share one prefill. Once the work list
//     is empty, finished rows are dropped from the batch. With continuous batching off, a new
//     batch starts only when every row of the previous one finished (static batching).
//   * The cache is compacted (slots every live row no longer needs are cut from the front)
//     when it is full or holds `compact_slack` dead slots, so attention stays short.
//   * Random numbers come from (seed, prompt index, sample index, token step) only, so a sample
//     is the same whatever batch size, order or neighbours it was decoded with (up to float
//     rounding of batched kernels).
// Thread-safety: a Sampler is used by one thread at a time (it drives a model, which is not
// thread-safe). Not copyable.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/sampling.h"

namespace rlvr::core {
struct CausalLMImpl;
class Tokenizer;
}  // namespace rlvr::core

namespace rlvr::actors {

// Engine options (config keys generation.batch_size, generation.continuous_batching).
struct SamplerOptions {
  int64_t batch_size = 32;          // rows decoded together. Default 32.
  bool continuous_batching = true;  // refill finished rows at once. Default true.
  int64_t compact_slack = 64;       // compact when this many dead slots lead the cache. Default 64.
};

enum class FinishReason { kEos, kStop, kLength };
// "eos", "stop", "length".
const char* finish_reason_name(FinishReason reason);

// One finished sample.
struct Sample {
  int64_t prompt_index = 0;
  int64_t sample_index = 0;
  // Generated ids, including the EOS token or the tokens that completed a stop string.
  std::vector<int32_t> token_ids;
  // Behaviour log-prob of each generated token (core/model/logprobs.h), same length.
  std::vector<float> logprobs;
  // Decoded generated text without special tokens, cut before the stop string (vLLM's default
  // include_stop_str_in_output=false). Empty when the sampler has no tokenizer.
  std::string text;
  FinishReason finish_reason = FinishReason::kLength;
  std::string stop_string;       // the stop string that matched (finish kStop)
  int64_t policy_version = 0;    // weights version when the sample started (its prompt's prefill)
  // The weights version that produced each generated token (same length as token_ids). All equal
  // unless hooks.before_decode_step swapped the weights while the sample ran (in-flight updates).
  std::vector<int64_t> token_versions;
  int64_t prompt_tokens = 0;
  double start_s = 0, end_s = 0; // seconds since generate() began: row start and finish
};

// What the last generate() call did.
struct GenerateStats {
  int64_t prompts = 0, samples = 0;
  int64_t generated_tokens = 0;  // over all samples
  int64_t prefill_tokens = 0;    // prompt tokens run through the model (shared prefills once)
  int64_t decode_steps = 0;      // decode_step calls
  int64_t row_steps = 0;         // rows x steps, including idle rows of static batches
  int64_t compactions = 0;
  double prefill_s = 0, decode_s = 0, total_s = 0;
  // Where the rest of total_s goes, and the drain at the end: refill_s starts samples in rows
  // (copying a prefilled prompt into the cache, shifting it for a longer prompt; prefill_s not
  // included), compact_s drops finished rows and cuts unused slots; tail_* count the decode steps
  // after the last sample started, when the batch can only shrink (part of decode_s).
  double refill_s = 0, compact_s = 0, tail_s = 0;
  int64_t tail_steps = 0, tail_row_steps = 0;
};

struct Progress {
  int64_t samples_done = 0, samples_total = 0, generated_tokens = 0;
  double elapsed_s = 0;
};

// Optional callbacks of generate(); both run on the calling thread. An exception thrown by a
// callback ends generate() and propagates to its caller.
struct GenerateHooks {
  std::function<void(const Sample&)> on_sample;        // each sample as it finishes
  std::function<void(const Progress&)> on_progress;    // after each decode step
  // false: finished samples are handed only to on_sample and generate() returns an empty
  // vector, so memory does not grow with the number of samples (streaming writers).
  bool keep_results = true;
  // Called before every model call (each prefill of new prompts and each decode step); returns
  // the policy version of the weights the model holds from now on. The callback may replace the
  // model's weights in place first (PipelineRL-style in-flight updates: running samples keep
  // their KV cache and continue with the new weights; their tokens record the version that
  // produced them). Unset: the version stays generate()'s policy_version.
  std::function<int64_t()> before_model_call;
};

class Sampler {
 public:
  // `model` is shared (the actor swaps weights in place between generate() calls); `tokenizer`
  // is not owned and may be null (then no text is produced and stop strings are refused).
  // Throws rlvr::Error for batch_size < 1 or compact_slack < 1.
  Sampler(std::shared_ptr<core::CausalLMImpl> model, const core::Tokenizer* tokenizer,
          SamplerOptions options = {});
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Samples params.n completions of each prompt (token ids, already chat-formatted). Returns
  // them ordered by (prompt index, sample index) (nothing when hooks.keep_results is false);
  // every sample carries `policy_version`.
  // Throws rlvr::Error for invalid params, an empty prompt, a token id outside the
  // vocabulary, or a prompt that leaves no room below max_position_embeddings (naming the
  // prompt index). Runs under NoGradGuard with the model in eval mode.
  std::vector<Sample> generate(const std::vector<std::vector<int32_t>>& prompts, const SamplingParams& params,
                               int64_t policy_version = 0, const GenerateHooks& hooks = {});

  const GenerateStats& last_stats() const;
  const SamplerOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rlvr::actors
