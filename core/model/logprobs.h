// Behaviour log-probabilities: the one definition shared by the sampler (actors/sampler.h),
// which records them while generating, and the learner, which recomputes them from logits for
// importance ratios and KL terms. See docs/GENERATION.md, "Which log-probabilities".
//
// Definition: logprob(token) = log_softmax(logits / tau)[token] with tau = temperature when
// temperature > 0 and tau = 1 for greedy decoding (temperature 0). top-k and top-p truncation
// are NOT applied: the recorded value is the log-probability under the temperature-scaled
// full-vocabulary distribution (open-instruct's choice: its learner divides logits by the
// sampling temperature and takes log_softmax; vLLM's "processed" logprobs before truncation).
#pragma once

#include <ATen/core/Tensor.h>

namespace rlvr::core {

// tau for a sampling temperature: temperature when > 0, else 1 (greedy).
inline double behaviour_temperature(double temperature) { return temperature > 0 ? temperature : 1.0; }

// Log-probabilities of `tokens` under log_softmax(logits / tau) (see the file comment).
// logits: [..., V] (any float dtype; computed in float32), tokens: [...] int64 with the same
// leading shape. Returns float32 [...]. Differentiable (the learner calls it under autograd).
// Throws rlvr::Error for mismatched shapes or a negative temperature.
at::Tensor behaviour_logprobs(const at::Tensor& logits, const at::Tensor& tokens, double temperature);

}  // namespace rlvr::core
