// The RL learner's math (see rl_losses.h and docs/RL.md, "Formulas").
//
// Masking discipline: every input is first replaced by 0 at masked positions (torch::where, not a
// multiplication, so garbage, inf or NaN in padding cannot leak), the formula is applied, and the
// result is set to 0 at masked positions again. Zeroing before the formula keeps exp() finite and
// the backward pass free of 0 * inf at padding; zeroing after makes the documented 0 exact.
#include "learner/rl_losses.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>
#include <torch/torch.h>

#include "core/error.h"

namespace rlvr::learner::rl {
namespace {

std::string shape_of(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  return fmt::format("[{}]", fmt::join(t.sizes().vec(), ", "));
}

// Throws unless `t` is defined and has exactly the shape of `like`.
void check_same_shape(const char* fn, const char* name, const at::Tensor& t, const char* like_name,
                      const at::Tensor& like) {
  RLVR_CHECK(t.defined(), "{}: {} is undefined; expected a tensor of shape {} like {}", fn, name, shape_of(like),
             like_name);
  RLVR_CHECK(t.sizes() == like.sizes(), "{}: {} has shape {}; expected {} (the shape of {})", fn, name, shape_of(t),
             shape_of(like), like_name);
}

// Throws unless `t` is a defined [B, T] tensor.
void check_2d(const char* fn, const char* name, const at::Tensor& t) {
  RLVR_CHECK(t.defined(), "{}: {} is undefined; expected a [B, T] tensor", fn, name);
  RLVR_CHECK(t.dim() == 2, "{}: {} has shape {}; expected [B, T] (2 dimensions)", fn, name, shape_of(t));
}

void check_floating(const char* fn, const char* name, const at::Tensor& t) {
  RLVR_CHECK(at::isFloatingType(t.scalar_type()), "{}: {} has dtype {}; expected a floating-point tensor", fn, name,
             std::string(c10::toString(t.scalar_type())));
}

// The mask as bool on the device of `like`: nonzero means a real token.
at::Tensor as_bool(const at::Tensor& mask, const at::Tensor& like) {
  at::Tensor m = mask.scalar_type() == at::kBool ? mask : mask.ne(0);
  return m.to(like.device());
}

// `x` with masked positions replaced by 0 (a where, so NaN or inf there cannot leak).
at::Tensor zero_masked(const at::Tensor& x, const at::Tensor& m) { return torch::where(m, x, torch::zeros_like(x)); }

// The normalizer check of aggregate(): a non-positive normalizer is only valid for an empty mask.
bool empty_normalizer(const char* name, double value, const at::Tensor& m) {
  RLVR_CHECK(std::isfinite(value), "aggregate: {} is {}; expected a finite number", name, value);
  if (value > 0) return false;
  const int64_t tokens = m.sum().item<int64_t>();
  RLVR_CHECK(tokens == 0,
             "aggregate: {} is {} but the mask has {} tokens; expected the minibatch's count (> 0, at least the "
             "micro-batch's)",
             name, value, tokens);
  return true;
}

}  // namespace

// --- Advantages -------------------------------------------------------------------------------

GroupAdvantages group_advantages(const at::Tensor& rewards, const std::vector<int64_t>& group_ids,
                                 const at::Tensor& include, GroupMode mode, bool std_normalize, double eps) {
  RLVR_CHECK(rewards.defined() && rewards.dim() == 1, "group_advantages: rewards has shape {}; expected [B]",
             shape_of(rewards));
  const int64_t B = rewards.size(0);
  RLVR_CHECK(static_cast<int64_t>(group_ids.size()) == B,
             "group_advantages: {} group ids for {} rewards; expected one group id per sample", group_ids.size(), B);
  RLVR_CHECK(include.defined() && include.dim() == 1 && include.size(0) == B,
             "group_advantages: include has shape {}; expected [{}] (one flag per reward)", shape_of(include), B);
  at::Tensor r = rewards.detach().to(at::kCPU, at::kDouble).contiguous();
  at::Tensor inc = (include.scalar_type() == at::kBool ? include : include.ne(0)).to(at::kCPU).contiguous();
  const double* rv = r.data_ptr<double>();
  const bool* iv = inc.data_ptr<bool>();

  // Included members of each group, in sample order (std::map: a deterministic group order).
  std::map<int64_t, std::vector<int64_t>> groups;
  for (int64_t i = 0; i < B; ++i) {
    if (!iv[i]) continue;
    RLVR_CHECK(std::isfinite(rv[i]), "group_advantages: rewards[{}] (group {}) is {}; expected a finite number", i,
               group_ids[static_cast<size_t>(i)], rv[i]);
    groups[group_ids[static_cast<size_t>(i)]].push_back(i);
  }

  std::vector<float> adv(static_cast<size_t>(B), 0.0f);
  std::vector<uint8_t> zero(static_cast<size_t>(B), 0);
  GroupAdvantages out;
  for (const auto& entry : groups) {
    const std::vector<int64_t>& members = entry.second;
    ++out.groups;
    const auto n = static_cast<double>(members.size());
    double sum = 0, lo = rv[members[0]], hi = rv[members[0]];
    for (int64_t i : members) {
      sum += rv[i];
      lo = std::min(lo, rv[i]);
      hi = std::max(hi, rv[i]);
    }
    if (members.size() == 1 || hi - lo <= 1e-9) {
      ++out.zero_signal_groups;
      for (int64_t i : members) zero[static_cast<size_t>(i)] = 1;
      continue;  // advantages stay exactly 0
    }
    const double mean = sum / n;
    if (mode == GroupMode::kGrpo) {
      double ss = 0;
      for (int64_t i : members) ss += (rv[i] - mean) * (rv[i] - mean);
      const double denom = std_normalize ? std::sqrt(ss / n) + eps : 1.0;
      for (int64_t i : members) adv[static_cast<size_t>(i)] = static_cast<float>((rv[i] - mean) / denom);
    } else {
      for (int64_t i : members) adv[static_cast<size_t>(i)] = static_cast<float>(rv[i] - (sum - rv[i]) / (n - 1));
    }
  }
  out.advantages = torch::tensor(adv, torch::kFloat).to(rewards.device());
  out.zero_signal = torch::tensor(std::vector<int64_t>(zero.begin(), zero.end()), torch::kInt64)
                        .to(at::kBool)
                        .to(rewards.device());
  return out;
}

Gae gae(const at::Tensor& token_rewards, const at::Tensor& values, const at::Tensor& mask, double gamma, double lam) {
  check_2d("gae", "token_rewards", token_rewards);
  check_floating("gae", "token_rewards", token_rewards);
  check_same_shape("gae", "values", values, "token_rewards", token_rewards);
  check_same_shape("gae", "mask", mask, "token_rewards", token_rewards);
  torch::NoGradGuard no_grad;
  const at::Tensor m = as_bool(mask, token_rewards);
  const at::Tensor r = zero_masked(token_rewards.detach(), m);
  const at::Tensor v = zero_masked(values.detach().to(token_rewards.scalar_type()), m);
  const int64_t T = token_rewards.size(1);
  // Walk backwards; `next_value` and `next_adv` belong to the next masked token of each row (0 after
  // the last one), so masked positions are skipped rather than treated as zero-reward steps.
  at::Tensor next_value = torch::zeros({token_rewards.size(0)}, r.options());
  at::Tensor next_adv = torch::zeros_like(next_value);
  std::vector<at::Tensor> cols(static_cast<size_t>(T));
  for (int64_t t = T - 1; t >= 0; --t) {
    const at::Tensor mt = m.select(1, t);
    const at::Tensor vt = v.select(1, t);
    const at::Tensor delta = r.select(1, t) + gamma * next_value - vt;
    const at::Tensor a = delta + (gamma * lam) * next_adv;
    cols[static_cast<size_t>(t)] = torch::where(mt, a, torch::zeros_like(a));
    next_adv = torch::where(mt, a, next_adv);
    next_value = torch::where(mt, vt, next_value);
  }
  Gae out;
  out.advantages = T > 0 ? torch::stack(cols, 1) : torch::zeros_like(r);
  out.returns = zero_masked(out.advantages + v, m);
  return out;
}

at::Tensor whiten(const at::Tensor& x, const at::Tensor& mask, double eps) {
  check_2d("whiten", "x", x);
  check_floating("whiten", "x", x);
  check_same_shape("whiten", "mask", mask, "x", x);
  const at::Tensor m = as_bool(mask, x);
  const at::Tensor n = m.sum().to(x.scalar_type()).clamp_min(1);
  const at::Tensor xm = zero_masked(x, m);
  const at::Tensor mean = xm.sum() / n;
  const at::Tensor centered = zero_masked(xm - mean, m);
  const at::Tensor var = centered.pow(2).sum() / n;
  return zero_masked(centered * torch::rsqrt(var + eps), m);
}

// --- KL and entropy ---------------------------------------------------------------------------

at::Tensor kl_estimate(const at::Tensor& logp, const at::Tensor& ref_logp, const at::Tensor& mask,
                       KlEstimator estimator) {
  check_2d("kl_estimate", "logp", logp);
  check_floating("kl_estimate", "logp", logp);
  check_same_shape("kl_estimate", "ref_logp", ref_logp, "logp", logp);
  check_same_shape("kl_estimate", "mask", mask, "logp", logp);
  const at::Tensor m = as_bool(mask, logp);
  const at::Tensor lp = zero_masked(logp, m);
  const at::Tensor ref = zero_masked(ref_logp.detach().to(logp.scalar_type()), m);
  at::Tensor k;
  if (estimator == KlEstimator::kK1) {
    k = lp - ref;
  } else {
    const at::Tensor x = ref - lp;  // log(ref / pi) of the sampled token
    k = torch::exp(x) - x - 1;
  }
  return zero_masked(k, m);
}

at::Tensor entropy_from_logits(const at::Tensor& logits, double temperature) {
  RLVR_CHECK(logits.defined() && logits.dim() == 3, "entropy_from_logits: logits has shape {}; expected [B, T, V]",
             shape_of(logits));
  check_floating("entropy_from_logits", "logits", logits);
  RLVR_CHECK(logits.size(2) > 0, "entropy_from_logits: logits has shape {}; expected a non-empty vocabulary (V > 0)",
             shape_of(logits));
  const double tau = temperature > 0 ? temperature : 1.0;
  const at::Tensor z = tau == 1.0 ? logits : logits / tau;
  const at::Tensor lp = torch::log_softmax(z, -1);
  return -(torch::exp(lp) * lp).sum(-1);
}

// --- Policy and value losses ------------------------------------------------------------------

PolicyLoss policy_loss(const at::Tensor& logp, const at::Tensor& behaviour_logp, const at::Tensor& proximal_logp,
                       const at::Tensor& advantages, const at::Tensor& mask, double clip_low, double clip_high,
                       OffPolicy off_policy, double is_cap) {
  check_2d("policy_loss", "logp", logp);
  check_floating("policy_loss", "logp", logp);
  check_same_shape("policy_loss", "behaviour_logp", behaviour_logp, "logp", logp);
  if (off_policy != OffPolicy::kNone) check_same_shape("policy_loss", "proximal_logp", proximal_logp, "logp", logp);
  check_same_shape("policy_loss", "advantages", advantages, "logp", logp);
  check_same_shape("policy_loss", "mask", mask, "logp", logp);
  RLVR_CHECK(clip_low >= 0 && clip_low <= 1 && clip_high >= 0,
             "policy_loss: clip_low {} / clip_high {}; expected 0 <= clip_low <= 1 and clip_high >= 0", clip_low,
             clip_high);
  const auto dtype = logp.scalar_type();
  const at::Tensor m = as_bool(mask, logp);
  const at::Tensor lp = zero_masked(logp, m);
  const at::Tensor beh = zero_masked(behaviour_logp.detach().to(dtype), m);
  const at::Tensor adv = zero_masked(advantages.detach().to(dtype), m);
  const bool capped = is_cap > 0;

  at::Tensor log_rho, w, dropped_or_capped;
  at::Tensor used = m;
  if (off_policy == OffPolicy::kNone) {
    log_rho = lp - beh;
    w = torch::ones_like(lp);
    dropped_or_capped = torch::zeros_like(m);
  } else {
    const at::Tensor prox = zero_masked(proximal_logp.detach().to(dtype), m);
    log_rho = lp - prox;
    const at::Tensor raw = torch::exp(prox - beh);  // pi_prox / pi_behaviour
    dropped_or_capped = capped ? torch::logical_and(m, raw > is_cap) : torch::zeros_like(m);
    if (off_policy == OffPolicy::kTis) {
      w = capped ? torch::clamp_max(raw, is_cap) : raw;
    } else {
      w = raw;
      used = torch::logical_and(m, torch::logical_not(dropped_or_capped));
    }
  }
  // The loss sees the ratio and weight only at the tokens it uses: a dropped token's w may be inf, and
  // zeroing first keeps its loss and gradient exactly 0 instead of 0 * inf.
  const at::Tensor rho = torch::exp(zero_masked(log_rho, used));
  const at::Tensor surrogate = torch::min(rho * adv, torch::clamp(rho, 1.0 - clip_low, 1.0 + clip_high) * adv);
  const at::Tensor w_used = zero_masked(w, used);

  PolicyLoss out;
  out.per_token = zero_masked(-w_used * surrogate, used);
  out.ratio = zero_masked(torch::exp(log_rho.detach()), m);  // also reported at dropped tokens
  out.weight = zero_masked(w, m);
  out.mask = used;
  const at::Tensor rho_d = rho.detach();
  out.clipped_low = torch::logical_and(used, torch::logical_and(adv < 0, rho_d < 1.0 - clip_low));
  out.clipped_high = torch::logical_and(used, torch::logical_and(adv > 0, rho_d > 1.0 + clip_high));
  out.truncated = dropped_or_capped;
  return out;
}

at::Tensor value_loss(const at::Tensor& values, const at::Tensor& old_values, const at::Tensor& returns,
                      const at::Tensor& mask, double clip) {
  check_2d("value_loss", "values", values);
  check_floating("value_loss", "values", values);
  check_same_shape("value_loss", "old_values", old_values, "values", values);
  check_same_shape("value_loss", "returns", returns, "values", values);
  check_same_shape("value_loss", "mask", mask, "values", values);
  const auto dtype = values.scalar_type();
  const at::Tensor m = as_bool(mask, values);
  const at::Tensor v = zero_masked(values, m);
  const at::Tensor g = zero_masked(returns.detach().to(dtype), m);
  at::Tensor sq = (v - g).pow(2);
  if (clip > 0) {
    const at::Tensor old = zero_masked(old_values.detach().to(dtype), m);
    const at::Tensor v_clip = old + torch::clamp(v - old, -clip, clip);
    sq = torch::max(sq, (v_clip - g).pow(2));
  }
  return zero_masked(0.5 * sq, m);
}

// --- Aggregation ------------------------------------------------------------------------------

at::Tensor aggregate(const at::Tensor& per_token, const at::Tensor& mask, LossAgg mode, double total_tokens,
                     double total_seqs, double horizon) {
  check_2d("aggregate", "per_token", per_token);
  check_floating("aggregate", "per_token", per_token);
  check_same_shape("aggregate", "mask", mask, "per_token", per_token);
  const at::Tensor m = as_bool(mask, per_token);
  const at::Tensor L = zero_masked(per_token, m);
  switch (mode) {
    case LossAgg::kTokenMean:
      if (empty_normalizer("total_tokens", total_tokens, m)) return L.sum() * 0.0;
      return L.sum() / total_tokens;
    case LossAgg::kSeqMeanTokenMean: {
      if (empty_normalizer("total_seqs", total_seqs, m)) return L.sum() * 0.0;
      const at::Tensor counts = m.sum(1).to(per_token.scalar_type()).clamp_min(1);
      return (L.sum(1) / counts).sum() / total_seqs;
    }
    case LossAgg::kSeqMeanTokenSumNorm:
      RLVR_CHECK(std::isfinite(horizon) && horizon > 0,
                 "aggregate: horizon is {}; expected generation.max_new_tokens (> 0) for seq-mean-token-sum-norm",
                 horizon);
      if (empty_normalizer("total_seqs", total_seqs, m)) return L.sum() * 0.0;
      return L.sum() / (total_seqs * horizon);
  }
  RLVR_ASSERT(false && "unhandled LossAgg");
  return {};
}

// --- Config names -----------------------------------------------------------------------------

GroupMode parse_group_mode(const std::string& name) {
  if (name == "grpo") return GroupMode::kGrpo;
  if (name == "rloo") return GroupMode::kRloo;
  throw Error(fmt::format("group advantage mode '{}' is not one of: grpo, rloo", name));
}

KlEstimator parse_kl_estimator(const std::string& name) {
  if (name == "k1") return KlEstimator::kK1;
  if (name == "k3") return KlEstimator::kK3;
  throw Error(fmt::format("KL estimator '{}' is not one of: k1, k3", name));
}

OffPolicy parse_off_policy(const std::string& name) {
  if (name == "none") return OffPolicy::kNone;
  if (name == "tis") return OffPolicy::kTis;
  if (name == "decoupled") return OffPolicy::kDecoupled;
  throw Error(fmt::format("off-policy correction '{}' is not one of: none, tis, decoupled", name));
}

LossAgg parse_loss_agg(const std::string& name) {
  if (name == "token-mean") return LossAgg::kTokenMean;
  if (name == "seq-mean-token-mean") return LossAgg::kSeqMeanTokenMean;
  if (name == "seq-mean-token-sum-norm") return LossAgg::kSeqMeanTokenSumNorm;
  throw Error(fmt::format("loss aggregation '{}' is not one of: token-mean, seq-mean-token-mean, "
                          "seq-mean-token-sum-norm",
                          name));
}

}  // namespace rlvr::learner::rl
