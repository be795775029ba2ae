// Token selection for one row of logits (temperature, top-k, top-p, greedy) and the
// counter-based random numbers that make every sample reproducible from
// (seed, prompt index, sample index, step) alone, whatever batch it was decoded in.
// Torch-free; pure functions, safe to call from any number of threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rlvr::actors {

// How tokens are drawn. A plain struct; field names equal the `generation` config keys.
struct SamplingParams {
  double temperature = 1.0;       // 0 = greedy (argmax); must be >= 0. Default 1.
  double top_p = 1.0;             // nucleus mass in (0, 1]; 1 = off. Default 1.
  int64_t top_k = 0;              // keep the k most likely tokens; 0 = off. Default 0.
  int64_t max_new_tokens = 256;   // generated tokens per sample (EOS included). Default 256.
  int64_t n = 1;                  // samples per prompt (a GRPO group). Default 1.
  uint64_t seed = 1;              // with (prompt index, sample index) fixes every draw. Default 1.
  std::vector<int32_t> stop_token_ids;  // EOS / end-of-turn ids: finish "eos". Default none.
  std::vector<std::string> stop;        // stop strings on the decoded text: finish "stop". Default none.

  // Throws rlvr::Error naming the field ("temperature", "top_p", ...) when a value is out of range.
  void validate() const;
  // Greedy decoding: temperature 0 or top_k 1.
  bool greedy() const { return temperature <= 0 || top_k == 1; }
};

// The stream of one sample: a 64-bit key derived from (seed, prompt index, sample index).
uint64_t sample_stream(uint64_t seed, int64_t prompt_index, int64_t sample_index);
// The uniform number in [0, 1) used for token `step` (0 = first generated token) of a stream.
double stream_uniform(uint64_t stream, int64_t step);

struct TokenChoice {
  int32_t token = 0;
  float logprob = 0;  // behaviour log-prob: log_softmax(logits / tau)[token] (core/model/logprobs.h)
};

// Reusable per-thread buffers of choose_token (avoids an allocation per row and step).
struct ChooseScratch {
  std::vector<int32_t> order;
  std::vector<double> weights;
};

// Picks a token from `logits` ([vocab] float32) with `params` and the uniform draw `u`:
// greedy takes the argmax (lowest id on ties); otherwise the logits are divided by the
// temperature, restricted to the top_k most likely tokens (ties: lower id first), then to the
// smallest most-likely prefix whose renormalized mass reaches top_p, and the token is found by
// inverse CDF with `u` (candidates in descending probability order, or in id order when no
// truncation applies). REQUIRES: params.validate() passed, vocab >= 1, 0 <= u < 1.
TokenChoice choose_token(const float* logits, int64_t vocab, const SamplingParams& params, double u,
                         ChooseScratch* scratch);

}  // namespace rlvr::actors
