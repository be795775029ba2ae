// Batches as tensors and the SFT / DPO losses.
//
// SFT (open-instruct, sum-then-normalize): loss = sum over every target token of the optimizer
// step of -log p(token) / (number of target tokens of the step). Each micro-batch contributes
// its summed NLL divided by the step's total, so grad accumulation 4x1 equals 1x4.
//
// DPO (per pair; logps are sums over response tokens, or averages for dpo_norm, ipo, simpo):
//   d       = (pi_c - pi_r) - (ref_c - ref_r)
//   sigmoid, dpo_norm: -(1-ls) logsigmoid(beta d) - ls logsigmoid(-beta d)
//   ipo:              (d - 1/(2 beta))^2
//   simpo:            d' = (pi_c - pi_r) - gamma/beta (no reference);
//                     -(1-ls) logsigmoid(beta d') - ls logsigmoid(-beta d')
//   rewards: beta (pi - ref) (simpo: beta pi); loss of a step = mean over its pairs
//   + rpo_alpha x (NLL of the chosen responses, summed over the step's chosen tokens / their count).
// See docs/TRAINING.md for the sources (TRL dpo_trainer.py, open-instruct dpo_utils.py).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/config/config.h"
#include "core/model/transformer.h"
#include "sft_dpo/data.h"

namespace rlvr::sft_dpo {

// One micro-batch on a device. Rows are right-padded with token 0 (masked out).
struct Batch {
  at::Tensor input_ids;       // [B, T] int64
  at::Tensor attention_mask;  // [B, T] int64, 1 real / 0 padding
  at::Tensor segment_ids;     // [B, T] int64 for packed rows; undefined otherwise
  at::Tensor labels;          // [B, T] int64: labels[b, t] = ids[b, t+1] when a target, else -100
  int64_t num_targets = 0;    // labels != -100
  int64_t num_tokens = 0;     // real tokens
};

// SFT rows -> batch.
Batch collate_rows(const std::vector<const TrainRow*>& rows, c10::Device device);
// Preference pairs -> batch of 2B rows: the chosen sequences, then the rejected ones.
Batch collate_pairs(const std::vector<const PreferencePair*>& pairs, c10::Device device);

// log p(label) per position [B, T] in float32 (0 where the label is -100).
at::Tensor label_logps(const at::Tensor& logits, const at::Tensor& labels);

// Sum over the batch's targets of -log p (float32 scalar, differentiable).
at::Tensor sft_loss_sum(core::CausalLMImpl& model, const Batch& batch);

// Per-row sums of target log-probs [B] (float32, differentiable) and target counts [B].
struct SequenceLogps {
  at::Tensor sums;
  at::Tensor counts;
};
SequenceLogps sequence_logps(core::CausalLMImpl& model, const Batch& batch);

// Whether `config.loss` needs reference log-probs / uses per-token averages.
bool dpo_uses_reference(const core::DpoConfig& config);
bool dpo_uses_average(const core::DpoConfig& config);

// Per-pair DPO terms [B] from summed log-probs and token counts. `ref_*` are ignored (may be
// undefined) for simpo.
struct DpoTerms {
  at::Tensor losses;            // differentiable
  at::Tensor chosen_rewards;    // detached
  at::Tensor rejected_rewards;  // detached
  at::Tensor chosen_logps;      // the (sum or average) log-probs the loss used, detached
  at::Tensor rejected_logps;
};
DpoTerms dpo_loss(const core::DpoConfig& config, const at::Tensor& policy_chosen_sums,
                  const at::Tensor& policy_rejected_sums, const at::Tensor& chosen_counts,
                  const at::Tensor& rejected_counts, const at::Tensor& ref_chosen_sums,
                  const at::Tensor& ref_rejected_sums);

// A micro-batch's share of its optimizer step's DPO loss (float32 scalar, differentiable):
//   sum(terms.losses) / step_pairs
//   + rpo_alpha x (-sum(policy_chosen_sums)) / step_chosen_tokens      (when rpo_alpha > 0)
// i.e. the mean per-pair loss plus TRL's rpo_alpha x the chosen responses' NLL per token, both
// taken over the whole step. Summed over the step's micro-batches it is the step loss whatever
// the split. REQUIRES: step_pairs >= 1, step_chosen_tokens >= 1.
at::Tensor dpo_step_loss_share(const core::DpoConfig& config, const DpoTerms& terms,
                               const at::Tensor& policy_chosen_sums, int64_t step_pairs,
                               int64_t step_chosen_tokens);

}  // namespace rlvr::sft_dpo
