// The RL learner's math on tensors: group advantages (GRPO, RLOO), GAE, whitening, KL estimators,
// the clipped PPO surrogate with off-policy correction, the clipped value loss, entropy and loss
// aggregation. Pure functions of their inputs (no model, no state); docs/RL.md states every formula
// and tests/fixtures/rl/make_reference.py recomputes each one independently with python3-torch.
//
// Layout: a batch of B samples is padded to T completion tokens. Per-token tensors are [B, T]
// float32 (float64 is accepted too: results follow the input dtype); `mask` is [B, T] with 1 on a
// sample's real completion tokens and 0 on padding (and on tokens excluded from the loss); bool or
// any numeric dtype (nonzero = real). Every function ignores masked positions (their outputs are 0,
// whatever the inputs hold there, inf and NaN included) and never produces NaN from them.
// Thread-safety: pure functions; safe to call concurrently on distinct tensors.
// Errors: a missing or mis-shaped tensor throws rlvr::Error naming the function, the argument, its
// shape and the expected one.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace rlvr::learner::rl {

// --- Advantages -------------------------------------------------------------------------------

// How a group's rewards become advantages (config rl.advantage).
enum class GroupMode { kGrpo, kRloo };

struct GroupAdvantages {
  at::Tensor advantages;        // [B] float32: one advantage per sample (0 for excluded samples)
  at::Tensor zero_signal;       // [B] bool: an included sample whose group has all-equal rewards
  int64_t groups = 0;           // groups with at least one included sample
  int64_t zero_signal_groups = 0;
};

// Sequence-level advantages of B samples with rewards `rewards` ([B]) in groups `group_ids`
// (samples with the same id form a group, in any order). `include` ([B] bool) marks the samples
// that count; excluded samples get advantage 0 and do not enter their group's statistics.
//   grpo:  A_i = (R_i - mean_g) / (std_g + eps) with std_g the population standard deviation
//          (ddof 0, as open-instruct); with std_normalize false, A_i = R_i - mean_g.
//   rloo:  A_i = R_i - (sum_{j in g, j != i} R_j) / (n_g - 1); 0 when n_g = 1.
// A group whose included rewards are all equal (max - min <= 1e-9; also any group of size 1) is a
// zero-signal group: its advantages are exactly 0. Computed in float64, returned in float32 on the
// device of `rewards`. Not differentiable. Throws rlvr::Error when the sizes disagree or an included
// reward is not finite (naming the sample and its group).
GroupAdvantages group_advantages(const at::Tensor& rewards, const std::vector<int64_t>& group_ids,
                                 const at::Tensor& include, GroupMode mode, bool std_normalize,
                                 double eps = 1e-8);

struct Gae {
  at::Tensor advantages;  // [B, T]
  at::Tensor returns;     // [B, T] = advantages + values
};

// Generalized advantage estimation (Schulman et al. 2016) per sample over its masked tokens
// t = 0 .. T_i - 1 (normally the mask of a sample is a prefix of ones):
//   delta_t = r_t + gamma * V_{t+1} - V_t   (V_{T_i} = 0: nothing follows the last token)
//   A_t = delta_t + gamma * lam * A_{t+1}   (A_{T_i} = 0)
// `token_rewards` and `values` are [B, T]; masked positions give 0. Should a mask have holes, "t + 1"
// is the row's next masked token: masked positions are skipped, their rewards and values unused (as
// verl does for multi-turn observation tokens). Not differentiable (inputs are detached).
Gae gae(const at::Tensor& token_rewards, const at::Tensor& values, const at::Tensor& mask, double gamma, double lam);

// (x - mean) / sqrt(var + eps) over all masked positions of the batch together, with the population
// variance; masked positions are 0 in the result (all of it when the mask is empty). Differentiable.
at::Tensor whiten(const at::Tensor& x, const at::Tensor& mask, double eps = 1e-8);

// --- KL and entropy ---------------------------------------------------------------------------

enum class KlEstimator { kK1, kK3 };

// Per-token estimate of KL(pi || ref) from the sampled token's log-probs (Schulman, "Approximating
// KL divergence"): k1 = logp - ref_logp; k3 = exp(ref_logp - logp) - (ref_logp - logp) - 1.
// Differentiable in `logp`. Masked positions are 0.
at::Tensor kl_estimate(const at::Tensor& logp, const at::Tensor& ref_logp, const at::Tensor& mask,
                       KlEstimator estimator);

// Entropy of softmax(logits / tau) per position: logits [B, T, V] -> [B, T]; tau = temperature
// when > 0, else 1 (the distribution behaviour log-probs come from). Differentiable. No mask: the
// caller masks or aggregates the result (aggregate() ignores masked positions).
at::Tensor entropy_from_logits(const at::Tensor& logits, double temperature);

// --- Policy and value losses ------------------------------------------------------------------

// Off-policy correction (config rl.off_policy).
enum class OffPolicy { kNone, kTis, kDecoupled };

struct PolicyLoss {
  at::Tensor per_token;     // [B, T]: L_t = -w_t * min(rho_t A_t, clip(rho_t, 1 - clip_low, 1 + clip_high) A_t)
  at::Tensor ratio;         // [B, T] rho_t (detached)
  at::Tensor weight;        // [B, T] w_t (detached; 1 with kNone; uncapped at dropped tokens)
  at::Tensor mask;          // [B, T] bool: the mask the loss used (kDecoupled drops tokens, see below)
  at::Tensor clipped_low;   // [B, T] bool: A_t < 0 and rho_t < 1 - clip_low (the clip is active)
  at::Tensor clipped_high;  // [B, T] bool: A_t > 0 and rho_t > 1 + clip_high
  at::Tensor truncated;     // [B, T] bool: the importance weight was capped (tis) or the token dropped (decoupled)
};
// ratio, weight and truncated are given at every position of the input mask (dropped tokens
// included, for the metrics) and 0 / false outside it; per_token, clipped_low and clipped_high are
// 0 / false outside `mask` (the used mask).

// The clipped surrogate (PPO, with DAPO's separate low/high clip), per token:
//   kNone:      rho = exp(logp - behaviour_logp),  w = 1
//   kTis:       rho = exp(logp - proximal_logp),   w = min(exp(proximal_logp - behaviour_logp), is_cap)
//               (truncated importance sampling; proximal = the learner's weights when the batch arrived)
//   kDecoupled: rho = exp(logp - proximal_logp),   w = exp(proximal_logp - behaviour_logp), and tokens
//               with w > is_cap are dropped from the mask (AReaL's decoupled PPO).
// is_cap <= 0: no cap (tis and decoupled). With kNone `proximal_logp` is unused and may be undefined.
// `advantages` is [B, T] (sequence advantages broadcast over tokens). Gradient flows only through
// `logp`. Masked positions are 0. Throws rlvr::Error for clip_low outside [0, 1] or clip_high < 0.
PolicyLoss policy_loss(const at::Tensor& logp, const at::Tensor& behaviour_logp, const at::Tensor& proximal_logp,
                       const at::Tensor& advantages, const at::Tensor& mask, double clip_low, double clip_high,
                       OffPolicy off_policy, double is_cap);

// Clipped value loss per token: V_clip = V_old + clamp(V - V_old, -clip, clip);
// L_t = 0.5 * max((V - G)^2, (V_clip - G)^2); clip <= 0 disables clipping (L_t = 0.5 (V - G)^2).
// Gradient flows through `values`. Masked positions are 0.
at::Tensor value_loss(const at::Tensor& values, const at::Tensor& old_values, const at::Tensor& returns,
                      const at::Tensor& mask, double clip);

// --- Aggregation ------------------------------------------------------------------------------

// How per-token losses become one number (config rl.loss_agg), verl's names:
//   kTokenMean:          sum_{i,t} L m / N_tokens
//   kSeqMeanTokenMean:   (1 / N_seqs) sum_i (sum_t L m / T_i)
//   kSeqMeanTokenSumNorm (Dr. GRPO): (1 / N_seqs) sum_i (sum_t L m) / horizon
enum class LossAgg { kTokenMean, kSeqMeanTokenMean, kSeqMeanTokenSumNorm };

// Aggregates `per_token` ([B, T]) over this micro-batch with the normalizers of the whole
// minibatch it belongs to (`total_tokens` masked tokens, `total_seqs` samples with at least one
// masked token), so that summing the results of a minibatch's micro-batches equals aggregating
// the minibatch at once. `horizon` is generation.max_new_tokens. Rows without masked tokens add 0.
// Differentiable in `per_token`. A normalizer of 0 is valid only for an empty mask (the result is 0);
// otherwise a non-positive or non-finite normalizer (or horizon, for kSeqMeanTokenSumNorm) throws
// rlvr::Error.
at::Tensor aggregate(const at::Tensor& per_token, const at::Tensor& mask, LossAgg mode, double total_tokens,
                     double total_seqs, double horizon);

// Config names -> enums; throw rlvr::Error quoting the name and listing the accepted ones (the
// caller adds the file and key).
GroupMode parse_group_mode(const std::string& name);        // "grpo" | "rloo"
KlEstimator parse_kl_estimator(const std::string& name);    // "k1" | "k3"
OffPolicy parse_off_policy(const std::string& name);        // "none" | "tis" | "decoupled"
LossAgg parse_loss_agg(const std::string& name);            // "token-mean" | "seq-mean-token-mean" | "seq-mean-token-sum-norm"

}  // namespace rlvr::learner::rl
