// The Llama-family decoder as LibTorch modules: RMSNorm, grouped-query attention with rotary
// position embeddings, SwiGLU MLP, optional q/k/v bias (Qwen2), optional tied embeddings.
// Registration names equal the Hugging Face checkpoint keys, so `named_parameters()` of a
// CausalLM is exactly the key set of model.safetensors ("model.embed_tokens.weight",
// "model.layers.0.self_attn.q_proj.weight", ..., "model.norm.weight", "lm_head.weight"; no
// "lm_head.weight" when the embeddings are tied, as transformers saves it).
//
// Three ways to run the model:
//   forward(tokens, opts)            training/scoring: logits for every position; padding,
//                                    explicit position ids and packed sequences (document-level
//                                    causal masking via segment_ids) supported.
//   forward_cached(tokens, cache, m) batched prefill into a KVCache (rows may be left-padded).
//   decode_step(tokens, cache)       one new token per row; per-row positions come from the
//                                    cache. The RL actors' hot path: small-batch linears use a
//                                    weight-streaming kernel on CPU float32 (core/model/ops.h).
// Modules are not thread-safe: use one model per thread, or serialize calls.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "core/model/model_config.h"

namespace rlvr::core {

class KVCache;
namespace detail {
struct AttentionContext;  // positions, rotary tables, mask and cache of one forward call
}  // namespace detail

// Optional inputs of a full (non-cached) forward. All tensors are [batch, seq] on the model's
// device; undefined tensors take the defaults below.
struct ForwardOptions {
  // 1 for real tokens, 0 for padding (left or right). Default: all real. Padding keys are
  // never attended to; logits at padded positions are finite but meaningless.
  at::Tensor attention_mask;
  // Rotary positions (int64). Default: 0,1,2,... counting only real tokens (so left-padded
  // rows start at 0, as transformers' generate does), restarting at each new segment.
  at::Tensor position_ids;
  // Packed sequences: tokens attend only to earlier tokens with the same segment id (int64).
  // Default: one segment per row.
  at::Tensor segment_ids;
};

// Root-mean-square layer norm (computed in float32, as transformers does).
struct RMSNormImpl : torch::nn::Module {
  RMSNormImpl(int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x);

  at::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

// Grouped-query self-attention with rotary embeddings. Keys: q_proj, k_proj, v_proj, o_proj, and
// for qwen3 q_norm, k_norm (RMSNorm over each head's head_dim, before the rotary embedding).
struct AttentionImpl : torch::nn::Module {
  explicit AttentionImpl(const TransformerConfig& config);
  // x: [B, T, hidden]. `layer` selects the KV-cache slice when ctx has a cache.
  at::Tensor forward(const at::Tensor& x, const detail::AttentionContext& ctx, int64_t layer);

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // qwen3 only
  int64_t num_heads, num_kv_heads, head_dim;
};
TORCH_MODULE(Attention);

// SwiGLU feed-forward: down_proj(silu(gate_proj(x)) * up_proj(x)).
struct MlpImpl : torch::nn::Module {
  explicit MlpImpl(const TransformerConfig& config);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

// One pre-norm block. Keys: self_attn, mlp, input_layernorm, post_attention_layernorm.
struct DecoderLayerImpl : torch::nn::Module {
  explicit DecoderLayerImpl(const TransformerConfig& config);
  at::Tensor forward(const at::Tensor& x, const detail::AttentionContext& ctx, int64_t layer);

  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(DecoderLayer);

// The trunk ("model." in checkpoints): embed_tokens, layers, norm. Returns final-normed hidden
// states. Shared by the policy (CausalLM) and the critic.
struct TransformerTrunkImpl : torch::nn::Module {
  explicit TransformerTrunkImpl(const TransformerConfig& config);

  // tokens: [B, T] int64. Returns hidden states [B, T, hidden]. Throws rlvr::Error for tokens
  // outside the vocabulary, positions beyond config.max_positions() or mismatched shapes.
  at::Tensor forward(const at::Tensor& tokens, const ForwardOptions& opts = {});
  // Appends T tokens per row to `cache` and returns their hidden states [B, T, hidden].
  // attention_mask [B, T] (1 real, 0 pad) may be undefined (all real). REQUIRES:
  // cache.length() + T <= cache.max_len(); otherwise throws rlvr::Error (cache unchanged).
  at::Tensor forward_cached(const at::Tensor& tokens, KVCache& cache, const at::Tensor& attention_mask);

  const TransformerConfig& config() const { return config_; }

  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};

 private:
  at::Tensor run_layers(at::Tensor x, const detail::AttentionContext& ctx);
  // Rotary cos/sin tables [max_positions(), head_dim] in float32 on the CPU (rope_scaling applied),
  // and copies converted to the device/dtype last used.
  TransformerConfig config_;
  at::Tensor rope_cos_, rope_sin_, rope_cos_cast_, rope_sin_cast_;
  void ensure_rope_tables(const at::Tensor& like);
  // cos and sin [B, 1, T, D] of positions `pos` [B, T] for activations like `like`. Dynamic NTK
  // scaling computes them for the call's length (max position + 1) once it passes
  // max_position_embeddings, as transformers does for a forward pass.
  std::pair<at::Tensor, at::Tensor> rope_for(const at::Tensor& pos, const at::Tensor& like);
};
TORCH_MODULE(TransformerTrunk);

// The policy: trunk + LM head (lm_head, or the embedding matrix when tie_word_embeddings).
struct CausalLMImpl : torch::nn::Module {
  explicit CausalLMImpl(const TransformerConfig& config);

  // Logits [B, T, vocab] for every position (training, scoring, parity checks).
  at::Tensor forward(const at::Tensor& tokens, const ForwardOptions& opts = {});
  // Prefill / chunked append into `cache` (see TransformerTrunk::forward_cached). Returns the
  // logits of the last position of each row [B, vocab] when last_only, else [B, T, vocab].
  at::Tensor forward_cached(const at::Tensor& tokens, KVCache& cache,
                            const at::Tensor& attention_mask = {}, bool last_only = true);
  // One token per row (tokens: [B] int64) appended at each row's next position; returns logits
  // [B, vocab]. Run under torch::NoGradGuard for speed.
  at::Tensor decode_step(const at::Tensor& tokens, KVCache& cache);
  // Logits from trunk hidden states.
  at::Tensor logits(const at::Tensor& hidden);
  // A cache sized for this model on its device/dtype. Throws rlvr::Error if max_len exceeds
  // max_position_embeddings or batch_size < 1.
  KVCache make_cache(int64_t batch_size, int64_t max_len);
  // transformers' initialization: linear and embedding weights ~ N(0, initializer_range),
  // biases 0, norms 1. Deterministic for a seed, whatever the device.
  void init_weights(uint64_t seed);

  const TransformerConfig& config() const { return model->config(); }

  TransformerTrunk model{nullptr};
  torch::nn::Linear lm_head{nullptr};  // nullptr when tied
};
TORCH_MODULE(CausalLM);

// The PPO critic: the same trunk with a scalar value head ("score", no bias, as
// transformers' *ForSequenceClassification with num_labels=1 names it).
struct CriticImpl : torch::nn::Module {
  explicit CriticImpl(const TransformerConfig& config);
  // Values [B, T], one per position.
  at::Tensor forward(const at::Tensor& tokens, const ForwardOptions& opts = {});
  void init_weights(uint64_t seed);
  const TransformerConfig& config() const { return model->config(); }

  TransformerTrunk model{nullptr};
  torch::nn::Linear score{nullptr};
};
TORCH_MODULE(Critic);

// Preallocated keys/values for incremental decoding: keys/values are
// [layers, batch, kv_heads, max_len, head_dim] (layer-major so each layer's slice is
// contiguous). All rows share slot indices; a row's padding slots are masked out, and each row
// keeps its own next rotary position, so rows with different prompt lengths (left padding) decode
// together. Movable, not copyable; not thread-safe.
class KVCache {
 public:
  KVCache(const TransformerConfig& config, int64_t batch_size, int64_t max_len,
          at::TensorOptions options);
  KVCache(KVCache&&) = default;
  KVCache& operator=(KVCache&&) = default;
  KVCache(const KVCache&) = delete;
  KVCache& operator=(const KVCache&) = delete;

  int64_t batch_size() const { return batch_size_; }
  int64_t max_len() const { return max_len_; }
  // Slots filled so far (the same for every row).
  int64_t length() const { return length_; }
  // Next rotary position per row: [B] int64 (number of real tokens seen).
  const at::Tensor& next_positions() const { return next_positions_; }
  // Empties the cache for reuse (no reallocation).
  void reset();
  // Keeps only the rows `index` ([B'] int64, on any device), in that order, e.g. to drop
  // finished samples. Throws rlvr::Error for an out-of-range index. A strictly increasing index
  // (dropping rows, order kept) moves the kept rows' filled slots down in place and narrows the
  // batch dimension, so nothing is allocated (a fresh cache-sized tensor costs a page fault per
  // 4 KiB); any other index gathers into new tensors.
  void select_rows(const at::Tensor& index);
  // For callers that re-lay rows in keys/values/slot_bias themselves (continuous batching in
  // actors/sampler.cpp refills one row with a new prompt and shifts slots to compact the cache):
  // sets the number of filled slots and every row's next rotary position. REQUIRES:
  // 0 <= length <= max_len; next_positions: [batch] integers. Throws rlvr::Error otherwise.
  void set_layout(int64_t length, const at::Tensor& next_positions);

  // Storage used by the model.
  at::Tensor keys, values;     // [L, B, KV, max_len, D]
  at::Tensor slot_bias;        // [B, max_len] additive mask: 0 for real slots, lowest for padding

 private:
  friend struct TransformerTrunkImpl;
  int64_t batch_size_, max_len_, length_ = 0;
  at::Tensor next_positions_;
};

}  // namespace rlvr::core
