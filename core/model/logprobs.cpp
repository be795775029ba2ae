// Behaviour log-probabilities (see logprobs.h).
#include "core/model/logprobs.h"

#include <torch/torch.h>

#include "core/error.h"

namespace rlvr::core {

at::Tensor behaviour_logprobs(const at::Tensor& logits, const at::Tensor& tokens, double temperature) {
  RLVR_CHECK(temperature >= 0, "behaviour_logprobs: temperature must be >= 0, got {}", temperature);
  RLVR_CHECK(logits.defined() && tokens.defined() && logits.dim() == tokens.dim() + 1,
             "behaviour_logprobs: logits must be [..., vocab] and tokens [...]");
  for (int64_t d = 0; d < tokens.dim(); ++d) {
    RLVR_CHECK(logits.size(d) == tokens.size(d), "behaviour_logprobs: logits {} and tokens {} disagree",
               c10::str(logits.sizes()), c10::str(tokens.sizes()));
  }
  const double tau = behaviour_temperature(temperature);
  at::Tensor x = logits.to(at::kFloat);
  if (tau != 1.0) x = x / tau;
  at::Tensor lp = at::log_softmax(x, -1);
  return lp.gather(-1, tokens.to(at::kLong).unsqueeze(-1)).squeeze(-1);
}

}  // namespace rlvr::core
