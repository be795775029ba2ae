#include "sft_dpo/losses.h"

#include <algorithm>

#include <torch/torch.h>

#include "core/error.h"

namespace rlvr::sft_dpo {
namespace {

struct RowRef {
  const std::vector<int32_t>* ids;
  const std::vector<uint8_t>* mask;
  const std::vector<int32_t>* segments;  // may be null/empty
};

Batch collate(const std::vector<RowRef>& rows, c10::Device device) {
  RLVR_ASSERT(!rows.empty());
  size_t T = 0;
  for (const auto& r : rows) T = std::max(T, r.ids->size());
  const auto B = static_cast<int64_t>(rows.size());
  const auto TT = static_cast<int64_t>(T);
  bool packed = false;
  for (const auto& r : rows) packed = packed || (r.segments && !r.segments->empty());
  at::Tensor ids = torch::zeros({B, TT}, torch::kInt64);
  at::Tensor attn = torch::zeros({B, TT}, torch::kInt64);
  at::Tensor labels = torch::full({B, TT}, -100, torch::kInt64);
  at::Tensor segs = packed ? torch::zeros({B, TT}, torch::kInt64) : at::Tensor();
  auto ida = ids.accessor<int64_t, 2>();
  auto ata = attn.accessor<int64_t, 2>();
  auto lba = labels.accessor<int64_t, 2>();
  Batch batch;
  for (int64_t b = 0; b < B; ++b) {
    const auto& r = rows[static_cast<size_t>(b)];
    const size_t n = r.ids->size();
    const bool has_seg = r.segments && !r.segments->empty();
    for (size_t t = 0; t < n; ++t) {
      ida[b][static_cast<int64_t>(t)] = (*r.ids)[t];
      ata[b][static_cast<int64_t>(t)] = 1;
      if (t + 1 < n && (*r.mask)[t + 1] && (!has_seg || (*r.segments)[t + 1] == (*r.segments)[t])) {
        lba[b][static_cast<int64_t>(t)] = (*r.ids)[t + 1];
        ++batch.num_targets;
      }
    }
    batch.num_tokens += static_cast<int64_t>(n);
    if (packed) {
      auto sa = segs.accessor<int64_t, 2>();
      // Padding gets its own segment id (never attended to anyway: attention_mask is 0).
      int64_t last = has_seg ? (*r.segments)[n - 1] + 1 : 1;
      for (size_t t = 0; t < T; ++t) sa[b][static_cast<int64_t>(t)] = t < n ? (has_seg ? (*r.segments)[t] : 0) : last;
    }
  }
  batch.input_ids = ids.to(device);
  batch.attention_mask = attn.to(device);
  batch.labels = labels.to(device);
  if (packed) batch.segment_ids = segs.to(device);
  return batch;
}

at::Tensor forward_logits(core::CausalLMImpl& model, const Batch& batch) {
  core::ForwardOptions opts;
  opts.attention_mask = batch.attention_mask;
  opts.segment_ids = batch.segment_ids;
  return model.forward(batch.input_ids, opts);
}

}  // namespace

Batch collate_rows(const std::vector<const TrainRow*>& rows, c10::Device device) {
  std::vector<RowRef> refs;
  for (const TrainRow* r : rows) refs.push_back({&r->ids, &r->loss_mask, &r->segment_ids});
  return collate(refs, device);
}

Batch collate_pairs(const std::vector<const PreferencePair*>& pairs, c10::Device device) {
  std::vector<RowRef> refs;
  for (const PreferencePair* p : pairs) refs.push_back({&p->chosen.ids, &p->chosen.loss_mask, nullptr});
  for (const PreferencePair* p : pairs) refs.push_back({&p->rejected.ids, &p->rejected.loss_mask, nullptr});
  return collate(refs, device);
}

at::Tensor label_logps(const at::Tensor& logits, const at::Tensor& labels) {
  at::Tensor valid = labels.ne(-100);
  at::Tensor safe = labels.clamp_min(0);
  at::Tensor logp = torch::log_softmax(logits.to(torch::kFloat), -1).gather(-1, safe.unsqueeze(-1)).squeeze(-1);
  return logp * valid.to(torch::kFloat);
}

at::Tensor sft_loss_sum(core::CausalLMImpl& model, const Batch& batch) {
  at::Tensor logits = forward_logits(model, batch);
  const int64_t V = logits.size(-1);
  return torch::nn::functional::cross_entropy(
      logits.to(torch::kFloat).reshape({-1, V}), batch.labels.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kSum));
}

SequenceLogps sequence_logps(core::CausalLMImpl& model, const Batch& batch) {
  at::Tensor logits = forward_logits(model, batch);
  SequenceLogps out;
  out.sums = label_logps(logits, batch.labels).sum(-1);
  out.counts = batch.labels.ne(-100).sum(-1).to(torch::kFloat);
  return out;
}

bool dpo_uses_reference(const core::DpoConfig& config) { return config.loss != "simpo"; }
bool dpo_uses_average(const core::DpoConfig& config) { return config.loss != "sigmoid"; }

DpoTerms dpo_loss(const core::DpoConfig& config, const at::Tensor& policy_chosen_sums,
                  const at::Tensor& policy_rejected_sums, const at::Tensor& chosen_counts,
                  const at::Tensor& rejected_counts, const at::Tensor& ref_chosen_sums,
                  const at::Tensor& ref_rejected_sums) {
  const bool avg = dpo_uses_average(config);
  at::Tensor pc = avg ? policy_chosen_sums / chosen_counts : policy_chosen_sums;
  at::Tensor pr = avg ? policy_rejected_sums / rejected_counts : policy_rejected_sums;
  const double beta = config.beta, ls = config.label_smoothing;
  DpoTerms out;
  if (config.loss == "simpo") {
    at::Tensor logits = (pc - pr) - config.gamma / beta;
    out.losses = -torch::log_sigmoid(beta * logits) * (1 - ls) - torch::log_sigmoid(-beta * logits) * ls;
    out.chosen_rewards = (beta * pc).detach();
    out.rejected_rewards = (beta * pr).detach();
  } else {
    TORCH_CHECK(ref_chosen_sums.defined() && ref_rejected_sums.defined(), "dpo loss ", config.loss,
                " needs reference log-probs");
    at::Tensor rc = avg ? ref_chosen_sums / chosen_counts : ref_chosen_sums;
    at::Tensor rr = avg ? ref_rejected_sums / rejected_counts : ref_rejected_sums;
    at::Tensor logits = (pc - pr) - (rc - rr);
    if (config.loss == "ipo") {
      out.losses = (logits - 1.0 / (2.0 * beta)).pow(2);
    } else {
      out.losses = -torch::log_sigmoid(beta * logits) * (1 - ls) - torch::log_sigmoid(-beta * logits) * ls;
    }
    out.chosen_rewards = (beta * (pc - rc)).detach();
    out.rejected_rewards = (beta * (pr - rr)).detach();
  }
  out.chosen_logps = pc.detach();
  out.rejected_logps = pr.detach();
  return out;
}

at::Tensor dpo_step_loss_share(const core::DpoConfig& config, const DpoTerms& terms,
                               const at::Tensor& policy_chosen_sums, int64_t step_pairs,
                               int64_t step_chosen_tokens) {
  RLVR_ASSERT(step_pairs >= 1 && step_chosen_tokens >= 1);
  at::Tensor loss = terms.losses.sum() / static_cast<double>(step_pairs);
  if (config.rpo_alpha > 0) {
    loss = loss + config.rpo_alpha * (-policy_chosen_sums.sum()) / static_cast<double>(step_chosen_tokens);
  }
  return loss;
}

}  // namespace rlvr::sft_dpo
