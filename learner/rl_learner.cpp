// The RL learner step (see rl_learner.h; formulas in rl_losses.h and docs/RL.md).
//
// Layout inside a step: B samples, each prompt + completion. Per-token tensors are [B, T] with T
// the longest completion of the batch (completion token t of sample i is predicted by the model's
// output at position P_i - 1 + t of the sample's full sequence). Micro-batches are packed
// right-padded ([b, L] tokens with an attention mask) and narrowed to their own longest completion.
#include "learner/rl_learner.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>

#include <torch/torch.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/model/checkpoint.h"
#include "core/model/logprobs.h"
#include "core/model/transformer.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "learner/optimizer.h"
#include "learner/precision.h"
#include "learner/distributed.h"
#include "learner/rl_losses.h"
#include "learner/run_outputs.h"
#include "learner/train_state.h"

namespace rlvr::learner {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::pair<std::string, at::Tensor>> named_params(torch::nn::Module& m) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : m.named_parameters()) out.emplace_back(item.key(), item.value());
  return out;
}

// A micro-batch of samples, packed for one forward pass.
struct Packed {
  at::Tensor tokens;     // [b, L] int64: prompt + completion, right-padded with 0
  at::Tensor attention;  // [b, L] int64: 1 real, 0 padding
  at::Tensor positions;  // [b, T] int64: the position predicting completion token t (0 on padding)
  at::Tensor targets;    // [b, T] int64: completion ids (0 on padding)
  at::Tensor mask;       // [b, T] bool
  int64_t T = 0;
};

Packed pack(const std::vector<core::RolloutSample>& samples, const std::vector<int64_t>& idx, c10::Device device) {
  int64_t L = 0, T = 0;
  for (int64_t i : idx) {
    const auto& s = samples[static_cast<size_t>(i)];
    L = std::max<int64_t>(L, static_cast<int64_t>(s.prompt_ids.size() + s.completion_ids.size()));
    T = std::max<int64_t>(T, static_cast<int64_t>(s.completion_ids.size()));
  }
  const int64_t b = static_cast<int64_t>(idx.size());
  auto opts = at::TensorOptions().dtype(at::kLong);
  at::Tensor tokens = at::zeros({b, L}, opts), attention = at::zeros({b, L}, opts);
  at::Tensor positions = at::zeros({b, T}, opts), targets = at::zeros({b, T}, opts);
  at::Tensor mask = at::zeros({b, T}, at::TensorOptions().dtype(at::kBool));
  auto tok = tokens.accessor<int64_t, 2>();
  auto att = attention.accessor<int64_t, 2>();
  auto pos = positions.accessor<int64_t, 2>();
  auto tgt = targets.accessor<int64_t, 2>();
  auto msk = mask.accessor<bool, 2>();
  for (int64_t r = 0; r < b; ++r) {
    const auto& s = samples[static_cast<size_t>(idx[static_cast<size_t>(r)])];
    const int64_t P = static_cast<int64_t>(s.prompt_ids.size());
    int64_t j = 0;
    for (int32_t t : s.prompt_ids) tok[r][j] = t, att[r][j] = 1, ++j;
    for (int32_t t : s.completion_ids) tok[r][j] = t, att[r][j] = 1, ++j;
    for (int64_t t = 0; t < static_cast<int64_t>(s.completion_ids.size()); ++t) {
      pos[r][t] = P - 1 + t;
      tgt[r][t] = s.completion_ids[static_cast<size_t>(t)];
      msk[r][t] = true;
    }
  }
  return {tokens.to(device), attention.to(device), positions.to(device), targets.to(device), mask.to(device), T};
}

// Hidden states at the completion positions: [b, T, H].
at::Tensor completion_hidden(core::TransformerTrunkImpl& trunk, const Packed& p) {
  core::ForwardOptions fo;
  fo.attention_mask = p.attention;
  at::Tensor hidden = trunk.forward(p.tokens, fo);
  return hidden.gather(1, p.positions.unsqueeze(-1).expand({-1, -1, hidden.size(2)}));
}

at::Tensor completion_logits(core::CausalLMImpl& model, const Packed& p) {
  return model.logits(completion_hidden(*model.model, p));
}

at::Tensor completion_values(core::CriticImpl& critic, const Packed& p) {
  return critic.score->forward(completion_hidden(*critic.model, p)).squeeze(-1).to(at::kFloat);
}

// Rows `idx` of a [B, T] tensor, narrowed to `T` columns.
at::Tensor rows(const at::Tensor& full, const at::Tensor& idx, int64_t T) {
  return full.index_select(0, idx).narrow(1, 0, T);
}

std::vector<std::vector<int64_t>> split(const std::vector<int64_t>& v, int64_t parts) {
  std::vector<std::vector<int64_t>> out;
  const int64_t n = static_cast<int64_t>(v.size());
  int64_t at = 0;
  for (int64_t k = 0; k < parts; ++k) {
    const int64_t size = n / parts + (k < n % parts ? 1 : 0);
    if (size == 0) continue;
    out.emplace_back(v.begin() + at, v.begin() + at + size);
    at += size;
  }
  return out;
}

std::vector<std::vector<int64_t>> chunks(const std::vector<int64_t>& v, int64_t size) {
  std::vector<std::vector<int64_t>> out;
  for (size_t i = 0; i < v.size(); i += static_cast<size_t>(size)) {
    out.emplace_back(v.begin() + static_cast<std::ptrdiff_t>(i),
                     v.begin() + static_cast<std::ptrdiff_t>(std::min(v.size(), i + static_cast<size_t>(size))));
  }
  return out;
}

double masked_mean(const at::Tensor& x, const at::Tensor& m) {
  const double n = m.sum().item<double>();
  return n > 0 ? torch::where(m, x, torch::zeros_like(x)).sum().item<double>() / n : 0.0;
}

double masked_max(const at::Tensor& x, const at::Tensor& m) {
  if (m.sum().item<int64_t>() == 0) return 0.0;
  return torch::where(m, x, torch::full_like(x, -std::numeric_limits<float>::infinity())).max().item<double>();
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct RlLearner::Impl {
  core::Config config;
  const core::RlConfig& rl;
  Precision precision;
  int64_t total_steps = 0;
  int64_t version = 0;
  int64_t trained_tokens = 0;
  std::string tokenizer_path;
  core::CausalLM policy{nullptr};
  core::CausalLM reference{nullptr};
  core::Critic critic{nullptr};
  std::unique_ptr<Optimizer> optimizer, critic_optimizer;
  rl::GroupMode group_mode = rl::GroupMode::kGrpo;
  bool gae = false;
  rl::KlEstimator kl_estimator = rl::KlEstimator::kK3;
  rl::OffPolicy off_policy = rl::OffPolicy::kNone;
  rl::LossAgg loss_agg = rl::LossAgg::kTokenMean;
  std::map<std::string, double> reward_scale;
  DataParallel* dp = nullptr;  // not owned; null with one rank

  Impl(const core::Config& c, int64_t steps, DataParallel* d) : config(c), rl(config.rl), total_steps(steps), dp(d) {}

  // The micro-batches of `v` (chunks of micro_batch_size) this rank computes, and the index of the
  // first of them among all: a contiguous share, so the ranks together form the same micro-batches.
  std::pair<std::vector<std::vector<int64_t>>, int64_t> my_chunks(const std::vector<int64_t>& v) const {
    std::vector<std::vector<int64_t>> all = chunks(v, rl.micro_batch_size);
    if (dp == nullptr) return {all, 0};
    const auto [b, e] = rank_slice(static_cast<int64_t>(all.size()), dp->rank(), dp->world_size());
    return {std::vector<std::vector<int64_t>>(all.begin() + b, all.begin() + e), b};
  }
  std::vector<at::Tensor> params(torch::nn::Module& m) const {
    std::vector<at::Tensor> out;
    for (auto& item : m.named_parameters()) out.push_back(item.value());
    return out;
  }

  double temperature() const { return config.generation.temperature; }
  double horizon() const { return static_cast<double>(config.generation.max_new_tokens); }
  bool kl_on() const { return rl.kl.coef > 0; }

  double shaped_reward(const core::RolloutSample& s) const;
  RlStepResult step(const std::vector<core::RolloutSample>& samples);
};

RlLearner::RlLearner(const core::Config& config, int64_t total_steps, DataParallel* dp)
    : impl_(std::make_unique<Impl>(config, total_steps, dp)) {
  Impl& m = *impl_;
  const auto& rl = m.rl;
  RLVR_CHECK(!config.model.path.empty(), "model.path is empty; expected the policy checkpoint to train");
  RLVR_CHECK(total_steps >= 1, "the RL run has {} learner steps; expected at least 1", total_steps);
  m.gae = rl.advantage == "gae";
  if (!m.gae) m.group_mode = rl::parse_group_mode(rl.advantage);
  m.kl_estimator = rl::parse_kl_estimator(rl.kl.estimator);
  m.off_policy = rl::parse_off_policy(rl.off_policy);
  m.loss_agg = rl::parse_loss_agg(rl.loss_agg);
  for (size_t i = 0; i < rl.rewards.scales.size(); ++i) {
    const auto& sc = rl.rewards.scales[i];
    RLVR_CHECK(!sc.dataset.empty(), "rl.rewards.scales[{}].dataset: empty; expected a verifier name", i);
    RLVR_CHECK(m.reward_scale.emplace(sc.dataset, sc.scale).second,
               "rl.rewards.scales[{}].dataset: '{}' appears twice", i, sc.dataset);
  }
  m.precision = resolve_precision(config.run);
  use_rank0_precision(m.precision, dp);
  m.tokenizer_path = config.model.tokenizer.empty() ? config.model.path + "/tokenizer.json" : config.model.tokenizer;
  try {
    m.policy = core::load_causal_lm(config.model.path, m.precision.device, c10::kFloat);
    m.policy->train();
    const int64_t per_step = rl.ppo_epochs * rl.num_minibatches;
    m.optimizer = std::make_unique<Optimizer>(named_params(*m.policy), config.optim, total_steps * per_step);
    if (m.kl_on()) {
      const std::string ref_dir = rl.reference_path.empty() ? config.model.path : rl.reference_path;
      m.reference = core::load_causal_lm(ref_dir, m.precision.device, c10::kFloat);
      m.reference->eval();
      for (auto& p : m.reference->parameters()) p.set_requires_grad(false);
      RLVR_CHECK(m.reference->config().vocab_size == m.policy->config().vocab_size,
                 "rl.reference_path {}: vocab_size {} differs from the policy's {}", ref_dir,
                 m.reference->config().vocab_size, m.policy->config().vocab_size);
    }
    if (m.gae) {
      const std::string critic_dir = rl.critic_path.empty() ? config.model.path : rl.critic_path;
      m.critic = core::load_critic(critic_dir, m.precision.device, c10::kFloat);
      m.critic->train();
      core::OptimConfig copt = config.optim;
      if (rl.critic_learning_rate > 0) copt.learning_rate = rl.critic_learning_rate;
      m.critic_optimizer = std::make_unique<Optimizer>(named_params(*m.critic), copt, total_steps * per_step);
    }
    if (dp != nullptr) {
      // Every rank starts from rank 0's weights (they loaded the same files; this makes it certain).
      dp->broadcast_(m.params(*m.policy), "the initial policy weights");
      if (m.critic) dp->broadcast_(m.params(*m.critic), "the initial critic weights");
    }
  } catch (const c10::Error& e) {
    throw Error(fmt::format("RL learner: cannot load the models: {}", e.what_without_backtrace()));
  }
}

RlLearner::~RlLearner() = default;

int64_t RlLearner::version() const { return impl_->version; }

core::RolloutLimits RlLearner::limits() const {
  core::RolloutLimits l;
  l.vocab_size = impl_->policy->config().vocab_size;
  l.max_positions = impl_->policy->config().max_positions();
  l.max_version = impl_->version;
  l.max_completion_tokens = impl_->config.generation.max_new_tokens;
  return l;
}

double RlLearner::Impl::shaped_reward(const core::RolloutSample& s) const {
  auto it = reward_scale.find(s.dataset);
  const double scale = it == reward_scale.end() ? 1.0 : it->second;
  double r = config.verifiers.verification_reward * scale * s.score;
  if (s.finish_reason == "length") r += rl.rewards.non_stop_penalty;
  const int64_t buffer = rl.rewards.length_penalty_buffer;
  if (rl.rewards.length_penalty > 0 && buffer > 0) {
    const int64_t start = config.generation.max_new_tokens - buffer;
    const int64_t T = static_cast<int64_t>(s.completion_ids.size());
    if (T > start) {
      r -= rl.rewards.length_penalty * std::min(1.0, static_cast<double>(T - start) / static_cast<double>(buffer));
    }
  }
  return r;
}

RlStepResult RlLearner::step(const std::vector<core::RolloutSample>& samples) {
  try {
    return impl_->step(samples);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("RL learner step {}: {}", impl_->version + 1, e.what_without_backtrace()));
  }
}

RlStepResult RlLearner::Impl::step(const std::vector<core::RolloutSample>& samples) {
  const auto t_start = Clock::now();
  RLVR_CHECK(!samples.empty(), "RL learner step {}: the rollout batch is empty", version + 1);
  core::RolloutLimits lim;
  lim.vocab_size = policy->config().vocab_size;
  lim.max_positions = policy->config().max_positions();
  lim.max_version = version;
  lim.max_completion_tokens = config.generation.max_new_tokens;
  for (const auto& s : samples) core::validate_rollout(s, lim);

  const int64_t B = static_cast<int64_t>(samples.size());
  const auto device = precision.device;
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  int64_t Tmax = 0;
  for (const auto& s : samples) Tmax = std::max<int64_t>(Tmax, static_cast<int64_t>(s.completion_ids.size()));

  // --- Rewards and the per-token inputs recorded by the actors ---
  std::vector<double> reward(static_cast<size_t>(B));
  std::vector<uint8_t> include(static_cast<size_t>(B), 1);
  at::Tensor behaviour = at::zeros({B, Tmax}, f32);
  at::Tensor mask = at::zeros({B, Tmax}, at::TensorOptions().dtype(at::kBool));
  // Tokens produced by the weights the learner holds now: there the behaviour and learner
  // log-probs come from the same weights and must agree up to float noise.
  at::Tensor current = at::zeros({B, Tmax}, at::TensorOptions().dtype(at::kBool));
  {
    auto beh = behaviour.accessor<float, 2>();
    auto msk = mask.accessor<bool, 2>();
    auto cur = current.accessor<bool, 2>();
    for (int64_t i = 0; i < B; ++i) {
      const auto& s = samples[static_cast<size_t>(i)];
      reward[static_cast<size_t>(i)] = shaped_reward(s);
      if (s.verifier_error && rl.rewards.skip_verifier_errors) include[static_cast<size_t>(i)] = 0;
      for (size_t t = 0; t < s.completion_ids.size(); ++t) {
        beh[i][static_cast<int64_t>(t)] = s.logprobs[t];
        msk[i][static_cast<int64_t>(t)] = true;
        cur[i][static_cast<int64_t>(t)] = s.version_of(t) == version;
      }
    }
  }
  behaviour = behaviour.to(device);
  mask = mask.to(device);
  current = current.to(device);

  // --- The learner's view before any update: proximal log-probs, entropy, reference, values ---
  at::Tensor proximal = at::zeros({B, Tmax}, f32.device(device));
  at::Tensor entropy0 = at::zeros({B, Tmax}, f32.device(device));
  at::Tensor ref_logp, old_values;
  if (kl_on()) ref_logp = at::zeros({B, Tmax}, f32.device(device));
  if (gae) old_values = at::zeros({B, Tmax}, f32.device(device));
  {
    torch::NoGradGuard no_grad;
    AutocastGuard autocast(precision);
    std::vector<int64_t> all(static_cast<size_t>(B));
    std::iota(all.begin(), all.end(), 0);
    auto [mine, first] = my_chunks(all);
    int64_t at_row = first * rl.micro_batch_size;
    for (const auto& mb : mine) {
      Packed p = pack(samples, mb, device);
      const int64_t b = static_cast<int64_t>(mb.size());
      at::Tensor logits = completion_logits(*policy, p);
      proximal.narrow(0, at_row, b).narrow(1, 0, p.T).copy_(core::behaviour_logprobs(logits, p.targets, temperature()));
      entropy0.narrow(0, at_row, b).narrow(1, 0, p.T).copy_(rl::entropy_from_logits(logits, temperature()));
      if (kl_on()) {
        at::Tensor ref_logits = completion_logits(*reference, p);
        ref_logp.narrow(0, at_row, b).narrow(1, 0, p.T).copy_(
            core::behaviour_logprobs(ref_logits, p.targets, temperature()));
      }
      if (gae) old_values.narrow(0, at_row, b).narrow(1, 0, p.T).copy_(completion_values(*critic, p));
      at_row += b;
    }
  }
  if (dp != nullptr) {
    // Each rank filled its rows (the rest are zeros): the sum is the whole batch on every rank.
    dp->sum_({proximal, entropy0, ref_logp, old_values},
             fmt::format("the proximal log-probs of step {}", version + 1));
  }

  // --- Advantages ---
  at::Tensor kl_k1, kl_k3;
  if (kl_on()) {
    kl_k1 = rl::kl_estimate(proximal, ref_logp, mask, rl::KlEstimator::kK1);
    kl_k3 = rl::kl_estimate(proximal, ref_logp, mask, rl::KlEstimator::kK3);
  }
  const bool kl_in_reward = kl_on() && rl.kl.in == "reward";
  std::vector<double> group_reward = reward;
  if (kl_in_reward && !gae) {
    at::Tensor per_sample = kl_k1.sum(1).to(at::kCPU, at::kDouble);
    for (int64_t i = 0; i < B; ++i) group_reward[static_cast<size_t>(i)] -= rl.kl.coef * per_sample[i].item<double>();
  }
  std::vector<int64_t> group_ids(static_cast<size_t>(B));
  for (int64_t i = 0; i < B; ++i) group_ids[static_cast<size_t>(i)] = samples[static_cast<size_t>(i)].prompt_index;
  at::Tensor include_t = at::tensor(std::vector<int64_t>(include.begin(), include.end())).to(at::kBool);
  // For gae the group statistics only count zero-signal groups (the advantages come from GAE).
  rl::GroupAdvantages ga =
      rl::group_advantages(at::tensor(group_reward, at::TensorOptions().dtype(at::kDouble)), group_ids, include_t,
                           gae ? rl::GroupMode::kGrpo : group_mode, rl.std_normalize);
  if (rl.drop_zero_signal_groups) {
    auto zs = ga.zero_signal.accessor<bool, 1>();
    for (int64_t i = 0; i < B; ++i) {
      if (zs[i]) include[static_cast<size_t>(i)] = 0;
    }
  }
  at::Tensor sample_in = at::tensor(std::vector<int64_t>(include.begin(), include.end())).to(at::kBool).to(device);
  at::Tensor tmask = mask & sample_in.unsqueeze(1);
  at::Tensor advantages, returns;
  if (!gae) {
    advantages = (ga.advantages.to(device, at::kFloat).unsqueeze(1).expand({B, Tmax}).contiguous()) * tmask;
  } else {
    at::Tensor token_rewards = at::zeros({B, Tmax}, f32.device(device));
    if (kl_in_reward) token_rewards = token_rewards - rl.kl.coef * kl_k1;
    for (int64_t i = 0; i < B; ++i) {
      const int64_t T = static_cast<int64_t>(samples[static_cast<size_t>(i)].completion_ids.size());
      token_rewards[i][T - 1] += reward[static_cast<size_t>(i)];
    }
    rl::Gae g = rl::gae(token_rewards, old_values, mask, rl.gamma, rl.lam);
    advantages = g.advantages * tmask;
    returns = g.returns;
  }
  if (rl.whiten_advantages) advantages = rl::whiten(advantages, tmask);

  // Decoupled PPO drops tokens whose behaviour weight exceeds the cap; it is known before any
  // update, so the minibatch normalizers below count only the tokens the loss will use.
  at::Tensor policy_mask = tmask;
  if (off_policy == rl::OffPolicy::kDecoupled && rl.is_cap > 0) {
    at::Tensor w = torch::where(mask, (proximal - behaviour).exp(), torch::ones_like(proximal));
    policy_mask = tmask & w.le(rl.is_cap);
  }

  // --- PPO epochs x minibatches ---
  std::vector<int64_t> trained;
  for (int64_t i = 0; i < B; ++i) {
    if (include[static_cast<size_t>(i)]) trained.push_back(i);
  }
  double loss_sum = 0, pg_sum = 0, kl_sum = 0, value_sum = 0, grad_norm_sum = 0, critic_norm_sum = 0, lr = 0;
  int64_t opt_steps = 0;
  double clip_low_n = 0, clip_high_n = 0, loss_tokens = 0, ratio_sum = 0, ratio_max = 0;
  double weight_sum = 0, truncated_n = 0, weight_tokens = 0;
  for (int64_t epoch = 0; epoch < rl.ppo_epochs; ++epoch) {
    std::vector<int64_t> order = trained;
    // The shuffle depends only on (seed, version, epoch): a resumed run draws the same order.
    std::mt19937_64 rng(static_cast<uint64_t>(config.run.seed) * 0x9E3779B97F4A7C15ULL +
                        static_cast<uint64_t>(version) * 1000003ULL + static_cast<uint64_t>(epoch));
    std::shuffle(order.begin(), order.end(), rng);
    for (const auto& mb : split(order, rl.num_minibatches)) {
      at::Tensor mb_idx = at::tensor(mb).to(device);
      at::Tensor mb_policy_mask = policy_mask.index_select(0, mb_idx);
      const double pol_tokens = mb_policy_mask.sum().item<double>();
      const double pol_seqs = mb_policy_mask.any(1).sum().item<double>();
      const double val_tokens = tmask.index_select(0, mb_idx).sum().item<double>();
      const double val_seqs = static_cast<double>(mb.size());
      if (pol_tokens == 0 && val_tokens == 0) continue;
      double mb_loss = 0;
      bool bad_loss = false;  // a non-finite loss on this rank (all ranks stop together)
      for (const auto& micro : my_chunks(mb).first) {
        Packed p = pack(samples, micro, device);
        at::Tensor idx = at::tensor(micro).to(device);
        at::Tensor m_t = rows(tmask, idx, p.T);
        at::Tensor a_t = rows(advantages, idx, p.T);
        at::Tensor loss;
        {
          AutocastGuard autocast(precision);
          at::Tensor logits = completion_logits(*policy, p);
          at::Tensor logp = core::behaviour_logprobs(logits, p.targets, temperature());
          rl::PolicyLoss pl = rl::policy_loss(logp, rows(behaviour, idx, p.T), rows(proximal, idx, p.T), a_t, m_t,
                                              rl.clip_low, rl.clip_high, off_policy, rl.is_cap);
          loss = rl::aggregate(pl.per_token, pl.mask, loss_agg, pol_tokens, pol_seqs, horizon());
          pg_sum += loss.item<double>();
          if (kl_on() && rl.kl.in == "loss") {
            at::Tensor k = rl::kl_estimate(logp, rows(ref_logp, idx, p.T), pl.mask, kl_estimator);
            at::Tensor term = rl.kl.coef * rl::aggregate(k, pl.mask, loss_agg, pol_tokens, pol_seqs, horizon());
            kl_sum += term.item<double>();
            loss = loss + term;
          }
          if (rl.entropy_coef > 0) {
            at::Tensor h = rl::entropy_from_logits(logits, temperature());
            loss = loss - rl.entropy_coef * rl::aggregate(h, pl.mask, loss_agg, pol_tokens, pol_seqs, horizon());
          }
          // Statistics over the tokens the loss used.
          clip_low_n += (pl.clipped_low & pl.mask).sum().item<double>();
          clip_high_n += (pl.clipped_high & pl.mask).sum().item<double>();
          loss_tokens += pl.mask.sum().item<double>();
          ratio_sum += torch::where(pl.mask, pl.ratio, torch::zeros_like(pl.ratio)).sum().item<double>();
          ratio_max = std::max(ratio_max, masked_max(pl.ratio, pl.mask));
          weight_sum += torch::where(m_t, pl.weight, torch::zeros_like(pl.weight)).sum().item<double>();
          truncated_n += (pl.truncated & m_t).sum().item<double>();
          weight_tokens += m_t.sum().item<double>();
        }
        const double lv = loss.item<double>();
        if (!std::isfinite(lv)) {
          bad_loss = true;
          break;
        }
        mb_loss += lv;
        if (pol_tokens > 0) loss.backward();
        if (gae && val_tokens > 0) {
          AutocastGuard autocast(precision);
          at::Tensor values = completion_values(*critic, p);
          at::Tensor vl = rl::value_loss(values, rows(old_values, idx, p.T), rows(returns, idx, p.T), m_t, rl.value_clip);
          at::Tensor closs = rl.value_coef * rl::aggregate(vl, m_t, loss_agg, val_tokens, val_seqs, horizon());
          const double cv = closs.item<double>();
          if (!std::isfinite(cv)) {
            bad_loss = true;
            break;
          }
          value_sum += cv;
          closs.backward();
        }
      }
      if (dp != nullptr) {
        at::Tensor flag = torch::tensor({bad_loss ? 1.0 : 0.0}, torch::kDouble);
        dp->sum_({flag}, fmt::format("the loss check of step {}", version + 1));
        bad_loss = flag.item<double>() > 0;
      }
      RLVR_CHECK(!bad_loss,
                 "RL learner step {}: the policy or value loss is not finite (epoch {}, a minibatch of {} samples); "
                 "expected a finite loss (lower optim.learning_rate, check the rollouts' log-probs)",
                 version + 1, epoch + 1, mb.size());
      if (dp != nullptr) {
        if (pol_tokens > 0) dp->sum_gradients(params(*policy), fmt::format("the policy gradients of step {}", version + 1));
        if (gae && val_tokens > 0) {
          dp->sum_gradients(params(*critic), fmt::format("the critic gradients of step {}", version + 1));
        }
      }
      if (pol_tokens > 0) {
        OptimizerStepStats st = optimizer->step();
        grad_norm_sum += st.grad_norm;
        lr = st.lr;
      }
      if (gae && val_tokens > 0) critic_norm_sum += critic_optimizer->step().grad_norm;
      loss_sum += mb_loss;
      ++opt_steps;
    }
  }
  ++version;
  if (dp != nullptr) {
    // The loss statistics are this rank's shares: sum them (and take the largest ratio).
    std::vector<double*> sums = {&loss_sum, &pg_sum,      &kl_sum,      &value_sum, &clip_low_n, &clip_high_n,
                                 &loss_tokens, &ratio_sum, &weight_sum, &truncated_n, &weight_tokens};
    std::vector<double> v;
    for (double* x : sums) v.push_back(*x);
    at::Tensor t = torch::tensor(v, torch::kDouble);
    dp->sum_({t}, fmt::format("the loss statistics of step {}", version));
    for (size_t i = 0; i < sums.size(); ++i) *sums[i] = t[static_cast<int64_t>(i)].item<double>();
    at::Tensor mx = torch::tensor({ratio_max}, torch::kDouble);
    dp->max_(mx, fmt::format("the largest ratio of step {}", version));
    ratio_max = mx.item<double>();
  }

  // --- Metrics ---
  RlStepResult out;
  auto& mt = out.metrics;
  const double inv_steps = opt_steps > 0 ? 1.0 / static_cast<double>(opt_steps) : 0.0;
  out.loss = loss_sum * inv_steps;
  mt["loss/policy"] = out.loss;
  mt["loss/pg"] = pg_sum * inv_steps;
  if (kl_on() && rl.kl.in == "loss") mt["loss/kl"] = kl_sum * inv_steps;
  if (gae) {
    mt["loss/value"] = value_sum * inv_steps;
    mt["critic/grad_norm"] = critic_norm_sum * inv_steps;
  }
  mt["grad_norm"] = grad_norm_sum * inv_steps;
  mt["lr"] = lr;
  mt["optimizer_steps"] = static_cast<double>(opt_steps);
  // Rewards and accuracy per data set (all samples, as generated).
  std::map<std::string, std::pair<double, double>> per_ds;  // dataset -> (reward sum, correct)
  std::map<std::string, int64_t> per_ds_n;
  double reward_sum = 0, correct = 0, no_eos = 0, len_sum = 0, len_max = 0, stale_sum = 0, stale_max = 0;
  int64_t verifier_errors = 0;
  for (int64_t i = 0; i < B; ++i) {
    const auto& s = samples[static_cast<size_t>(i)];
    const double r = reward[static_cast<size_t>(i)];
    const bool ok = s.score >= 1.0 - 1e-9;
    reward_sum += r;
    correct += ok;
    per_ds[s.dataset].first += r;
    per_ds[s.dataset].second += ok;
    ++per_ds_n[s.dataset];
    no_eos += s.finish_reason == "length";
    const double T = static_cast<double>(s.completion_ids.size());
    len_sum += T;
    len_max = std::max(len_max, T);
    const double stale = static_cast<double>(version - 1 - s.min_version());
    stale_sum += stale;
    stale_max = std::max(stale_max, stale);
    verifier_errors += s.verifier_error;
  }
  const double invB = 1.0 / static_cast<double>(B);
  mt["reward/mean"] = reward_sum * invB;
  mt["accuracy"] = correct * invB;
  for (const auto& [ds, v] : per_ds) {
    const double n = static_cast<double>(per_ds_n[ds]);
    mt["reward/" + ds] = v.first / n;
    mt["accuracy/" + ds] = v.second / n;
  }
  mt["length/mean"] = len_sum * invB;
  mt["length/max"] = len_max;
  mt["no_eos_fraction"] = no_eos * invB;
  mt["staleness/mean"] = stale_sum * invB;
  mt["staleness/max"] = stale_max;
  mt["samples"] = static_cast<double>(B);
  mt["samples/trained"] = static_cast<double>(trained.size());
  mt["samples/verifier_errors"] = static_cast<double>(verifier_errors);
  mt["groups"] = static_cast<double>(ga.groups);
  mt["groups/zero_signal_fraction"] =
      ga.groups > 0 ? static_cast<double>(ga.zero_signal_groups) / static_cast<double>(ga.groups) : 0.0;
  mt["advantage/mean"] = masked_mean(advantages, tmask);
  {
    const double mean = mt["advantage/mean"];
    at::Tensor centered = advantages - mean;
    mt["advantage/std"] = std::sqrt(masked_mean(centered * centered, tmask));
  }
  mt["entropy"] = masked_mean(entropy0, mask);
  if (kl_on()) {
    mt["kl/k1"] = masked_mean(kl_k1, mask);
    mt["kl/k3"] = masked_mean(kl_k3, mask);
  }
  // Behaviour vs learner log-probs on the tokens made by the current weights (float noise with one
  // model implementation on both sides), and on all tokens (adds the policy change of stale ones).
  at::Tensor mismatch = (behaviour - proximal).abs();
  at::Tensor on_policy = mask & current;
  mt["logprob_mismatch/mean"] = masked_mean(mismatch, on_policy);
  mt["logprob_mismatch/max"] = masked_max(mismatch, on_policy);
  mt["logprob_mismatch/on_policy_tokens"] = on_policy.sum().item<double>();
  mt["logprob_shift/mean"] = masked_mean(mismatch, mask);
  mt["logprob_shift/max"] = masked_max(mismatch, mask);
  mt["clip/low_fraction"] = loss_tokens > 0 ? clip_low_n / loss_tokens : 0.0;
  mt["clip/high_fraction"] = loss_tokens > 0 ? clip_high_n / loss_tokens : 0.0;
  mt["ratio/mean"] = loss_tokens > 0 ? ratio_sum / loss_tokens : 0.0;
  mt["ratio/max"] = ratio_max;
  mt["is_weight/mean"] = weight_tokens > 0 ? weight_sum / weight_tokens : 0.0;
  mt["is_weight/truncated_fraction"] = weight_tokens > 0 ? truncated_n / weight_tokens : 0.0;
  const int64_t step_tokens = tmask.sum().item<int64_t>();
  trained_tokens += step_tokens;
  out.trained_tokens = step_tokens;
  const double seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  mt["time/step_s"] = seconds;
  mt["tokens"] = static_cast<double>(step_tokens);
  mt["tokens_per_second"] = seconds > 0 ? static_cast<double>(step_tokens) / seconds : 0.0;

  out.samples.resize(static_cast<size_t>(B));
  at::Tensor adv_cpu = advantages.to(at::kCPU);
  at::Tensor ga_cpu = ga.advantages.to(at::kCPU, at::kDouble);
  for (int64_t i = 0; i < B; ++i) {
    auto& o = out.samples[static_cast<size_t>(i)];
    o.reward = reward[static_cast<size_t>(i)];
    o.trained = include[static_cast<size_t>(i)] != 0;
    const int64_t T = static_cast<int64_t>(samples[static_cast<size_t>(i)].completion_ids.size());
    o.advantage = gae ? adv_cpu[i].narrow(0, 0, T).mean().item<double>() : ga_cpu[i].item<double>();
    if (!o.trained) o.advantage = 0;
  }
  return out;
}

// --- Checkpoints and the final model ----------------------------------------------------------

std::string RlLearner::save_checkpoint(const nlohmann::json& cursor, const nlohmann::json& run_fingerprint,
                                       const std::map<std::string, std::string>& extra_files) {
  Impl& m = *impl_;
  TrainProgress p;
  p.step = m.version;
  p.total_steps = m.total_steps;
  p.tokens = m.trained_tokens;
  p.extra = {{"optimizer_steps", m.optimizer->steps_taken()}, {"cursor", cursor}};
  if (m.critic) p.extra["critic_optimizer_steps"] = m.critic_optimizer->steps_taken();
  p.run = run_fingerprint;
  auto write_critic = [&m, &extra_files](const std::string& dir) {
    for (const auto& [name, contents] : extra_files) core::write_file_atomic(dir + "/" + name, contents);
    if (!m.critic) return;
    core::save_checkpoint(*m.critic, m.critic->config(), dir + "/critic");
    core::write_file_atomic(dir + "/critic/optimizer.bin", m.critic_optimizer->save());
  };
  return save_training_checkpoint(m.config.run.output_dir + "/checkpoints", *m.policy, m.policy->config(),
                                  *m.optimizer, p, m.rl.keep_checkpoints, write_critic);
}

nlohmann::json RlLearner::load_checkpoint(const std::string& dir) {
  Impl& m = *impl_;
  TrainProgress p = load_training_checkpoint(dir, *m.policy, *m.optimizer);
  const bool has_critic = fs::exists(dir + "/critic/config.json");
  RLVR_CHECK(has_critic == static_cast<bool>(m.critic),
             "{}: {} a critic but rl.advantage is {}; expected the checkpoint of an RL run with the same advantage", dir,
             has_critic ? "holds" : "has no", m.rl.advantage);
  if (m.critic) {
    core::load_weights(*m.critic, dir + "/critic");
    m.critic_optimizer->load(core::read_file(dir + "/critic/optimizer.bin"), dir + "/critic/optimizer.bin");
    const int64_t expected = p.extra.value("critic_optimizer_steps", int64_t{-1});
    RLVR_CHECK(m.critic_optimizer->steps_taken() == expected,
               "{}: critic optimizer state is at step {}, state.json says {}", dir, m.critic_optimizer->steps_taken(),
               expected);
  }
  m.version = p.step;
  m.trained_tokens = p.tokens;
  return p.extra.contains("cursor") ? p.extra["cursor"] : nlohmann::json();
}

core::WeightsBlob RlLearner::policy_weights() { return core::pack_weights(*impl_->policy); }

std::vector<core::WeightsEntry> RlLearner::policy_manifest() { return core::weights_manifest(*impl_->policy); }

std::string RlLearner::save_final() {
  Impl& m = *impl_;
  const std::string out_dir = m.config.run.output_dir;
  const core::Tokenizer tokenizer = core::Tokenizer::from_file(m.tokenizer_path);
  const core::ChatFormat format = core::ChatFormat::resolve(tokenizer, m.config.model.chat_template, m.config.model.path);
  HandOff hand_off;
  hand_off.chat_format = &format;
  hand_off.source_dir = m.config.model.path;
  std::string final_dir = save_final_model(*m.policy, m.policy->config(), m.tokenizer_path, out_dir, hand_off);
  if (m.critic) {
    // The critic beside the policy (not inside final/, which stays a plain Hugging Face model).
    const std::string tmp = fmt::format("{}/.final-critic.tmp-{}", out_dir, ::getpid());
    std::error_code ec;
    fs::remove_all(tmp, ec);
    core::save_checkpoint(*m.critic, m.critic->config(), tmp);
    core::replace_dir_atomic(tmp, out_dir + "/final-critic");
  }
  return final_dir;
}

}  // namespace rlvr::learner
