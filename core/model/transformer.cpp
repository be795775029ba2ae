// Llama-family decoder: modules, masks, rotary embeddings, KV cache.
#include "core/model/transformer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/model/ops.h"

namespace rlvr::core {

namespace detail {
struct AttentionContext {
  at::Tensor cos, sin;     // [B, 1, T, D] in the activation dtype
  at::Tensor mask;         // additive, broadcastable to [B, KV, G, T, S]; undefined: none
  KVCache* cache = nullptr;
  int64_t start = 0;       // first cache slot written by this call
};
}  // namespace detail

namespace {

using detail::AttentionContext;

double lowest(c10::ScalarType t) {
  switch (t) {
    case at::kHalf: return -65504.0;
    case at::kBFloat16: return -3.3895313892515355e38;
    case at::kDouble: return std::numeric_limits<double>::lowest();
    default: return std::numeric_limits<float>::lowest();
  }
}

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t h = x.size(-1) / 2;
  return at::cat({x.narrow(-1, h, h).neg(), x.narrow(-1, 0, h)}, -1);
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return x * cos + rotate_half(x) * sin;
}

// The tensor as int64 token/position ids with shape [B, T]; `what` names it in errors.
void check_bt(const at::Tensor& t, int64_t B, int64_t T, const char* what) {
  RLVR_CHECK(t.dim() == 2 && t.size(0) == B && t.size(1) == T, "{} must have shape [{}, {}], got {}",
             what, B, T, c10::str(t.sizes()));
}

void check_tokens(const at::Tensor& tokens, int64_t vocab) {
  RLVR_CHECK(tokens.defined() && tokens.dim() == 2, "tokens must be a [batch, seq] tensor, got {}",
             tokens.defined() ? c10::str(tokens.sizes()) : std::string("undefined"));
  RLVR_CHECK(tokens.scalar_type() == at::kLong || tokens.scalar_type() == at::kInt,
             "tokens must be int64 or int32, got {}", c10::toString(tokens.scalar_type()));
  if (tokens.numel() == 0) return;
  auto mn = tokens.min().item<int64_t>(), mx = tokens.max().item<int64_t>();
  RLVR_CHECK(mn >= 0 && mx < vocab, "token id out of range [0, {}): found {}", vocab,
             mn < 0 ? mn : mx);
}

// transformers' inverse frequencies [head_dim / 2] (float32) for config.rope_scaling; `seq_len` is
// the length a dynamic-NTK base is computed for (ignored by the other types).
at::Tensor rope_inv_freq(const TransformerConfig& c, int64_t seq_len) {
  const int64_t D = c.head_dim;
  const auto& r = c.rope_scaling;
  const at::Tensor exponent = at::arange(0, D, 2, at::kLong).to(at::kFloat) / static_cast<double>(D);
  double base = c.rope_theta;
  if (r.type == "dynamic" && seq_len > c.max_position_embeddings) {
    const double n = static_cast<double>(seq_len), m = static_cast<double>(c.max_position_embeddings);
    base *= std::pow(r.factor * n / m - (r.factor - 1), static_cast<double>(D) / static_cast<double>(D - 2));
  }
  at::Tensor inv_freq = (1.0 / at::pow(base, exponent)).to(at::kFloat);
  if (r.type == "linear") return inv_freq / r.factor;
  if (r.type == "llama3") {
    const double old_len = static_cast<double>(r.original_max_position_embeddings);
    const double low_wavelen = old_len / r.low_freq_factor, high_wavelen = old_len / r.high_freq_factor;
    at::Tensor wavelen = 2 * M_PI / inv_freq;
    at::Tensor scaled = at::where(wavelen > low_wavelen, inv_freq / r.factor, inv_freq);
    at::Tensor smooth = (old_len / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
    at::Tensor smoothed = (1 - smooth) * scaled / r.factor + smooth * scaled;
    at::Tensor medium = wavelen.ge(high_wavelen).logical_and(wavelen.le(low_wavelen));
    return at::where(medium, smoothed, scaled);
  }
  if (r.type == "yarn") {
    const double dim = static_cast<double>(D);
    const double context = static_cast<double>(
        r.original_max_position_embeddings > 0 ? r.original_max_position_embeddings : c.max_position_embeddings);
    auto correction_dim = [&](double rotations) {
      return dim * std::log(context / (rotations * 2 * M_PI)) / (2 * std::log(c.rope_theta));
    };
    double low = correction_dim(r.beta_fast), high = correction_dim(r.beta_slow);
    if (r.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(0.0, low);
    high = std::min(dim - 1, high);
    if (low == high) high += 0.001;
    at::Tensor ramp = ((at::arange(D / 2, at::kLong).to(at::kFloat) - low) / (high - low)).clamp(0, 1);
    at::Tensor extrapolation = 1 - ramp;
    at::Tensor pos_freqs = at::pow(c.rope_theta, exponent).to(at::kFloat);
    at::Tensor inv_extra = 1.0 / pos_freqs, inv_inter = 1.0 / (r.factor * pos_freqs);
    return inv_inter * (1 - extrapolation) + inv_extra * extrapolation;
  }
  return inv_freq;
}

// The factor yarn applies to cos and sin (1 for the other types).
double rope_attention_factor(const TransformerConfig& c) {
  const auto& r = c.rope_scaling;
  if (r.type != "yarn") return 1.0;
  if (r.attention_factor > 0) return r.attention_factor;
  auto m = [&](double k) { return r.factor <= 1 ? 1.0 : 0.1 * k * std::log(r.factor) + 1.0; };
  if (r.mscale != 0 && r.mscale_all_dim != 0) return m(r.mscale) / m(r.mscale_all_dim);
  return m(1.0);
}

}  // namespace

// --- Modules ---

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
}

at::Tensor RMSNormImpl::forward(const at::Tensor& x) {
  if (x.scalar_type() == at::kFloat) {
    return x * at::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true).add_(eps)) * weight;
  }
  at::Tensor xf = x.to(at::kFloat);
  xf = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true).add_(eps));
  return weight * xf.to(x.scalar_type());
}

AttentionImpl::AttentionImpl(const TransformerConfig& c)
    : num_heads(c.num_attention_heads), num_kv_heads(c.num_key_value_heads), head_dim(c.head_dim) {
  const int64_t h = c.hidden_size;
  q_proj = register_module("q_proj", torch::nn::Linear(torch::nn::LinearOptions(h, num_heads * head_dim).bias(c.qkv_bias())));
  k_proj = register_module("k_proj", torch::nn::Linear(torch::nn::LinearOptions(h, num_kv_heads * head_dim).bias(c.qkv_bias())));
  v_proj = register_module("v_proj", torch::nn::Linear(torch::nn::LinearOptions(h, num_kv_heads * head_dim).bias(c.qkv_bias())));
  o_proj = register_module("o_proj", torch::nn::Linear(torch::nn::LinearOptions(num_heads * head_dim, h).bias(c.o_bias())));
  if (c.qk_norm()) {
    q_norm = register_module("q_norm", RMSNorm(head_dim, c.rms_norm_eps));
    k_norm = register_module("k_norm", RMSNorm(head_dim, c.rms_norm_eps));
  }
}

at::Tensor AttentionImpl::forward(const at::Tensor& x, const AttentionContext& ctx, int64_t layer) {
  const int64_t B = x.size(0), T = x.size(1), H = num_heads, KV = num_kv_heads, D = head_dim;
  const int64_t G = H / KV;
  at::Tensor q = detail::linear(x, q_proj->weight, q_proj->bias).view({B, T, H, D});
  at::Tensor k = detail::linear(x, k_proj->weight, k_proj->bias).view({B, T, KV, D});
  if (q_norm) {
    q = q_norm->forward(q);
    k = k_norm->forward(k);
  }
  q = q.transpose(1, 2);
  k = k.transpose(1, 2);
  at::Tensor v = detail::linear(x, v_proj->weight, v_proj->bias).view({B, T, KV, D}).transpose(1, 2);
  q = apply_rope(q, ctx.cos, ctx.sin);
  k = apply_rope(k, ctx.cos, ctx.sin);
  if (ctx.cache) {
    at::Tensor kc = ctx.cache->keys.select(0, layer), vc = ctx.cache->values.select(0, layer);
    kc.narrow(2, ctx.start, T).copy_(k);
    vc.narrow(2, ctx.start, T).copy_(v);
    k = kc.narrow(2, 0, ctx.start + T);
    v = vc.narrow(2, 0, ctx.start + T);
  }
  const int64_t S = k.size(2);
  // Grouped-query attention without repeating K/V: query heads h = kv * G + g share kv head kv.
  at::Tensor qg = q.reshape({B, KV, G * T, D});
  at::Tensor scores = at::matmul(qg, k.transpose(-1, -2)).mul_(1.0 / std::sqrt(static_cast<double>(D)));
  // Low-precision scores (bf16/fp16 weights, or autocast's bf16 matmul beside a float32 mask) are
  // masked and softmaxed in float32: adding float32's lowest to a bf16 tensor rounds to -inf, and a
  // row with every key masked (a padding query of a packed batch) would turn into NaN.
  const bool low_precision = scores.scalar_type() != at::kFloat;
  at::Tensor s = low_precision ? scores.to(at::kFloat) : scores;
  if (ctx.mask.defined()) s.view({B, KV, G, T, S}).add_(ctx.mask);
  at::Tensor probs = at::softmax(s, -1);
  if (low_precision) probs = probs.to(scores.scalar_type());
  at::Tensor out = at::matmul(probs, v).view({B, H, T, D}).transpose(1, 2).reshape({B, T, H * D});
  return detail::linear(out, o_proj->weight, o_proj->bias);
}

MlpImpl::MlpImpl(const TransformerConfig& c) {
  const int64_t h = c.hidden_size, i = c.intermediate_size;
  gate_proj = register_module("gate_proj", torch::nn::Linear(torch::nn::LinearOptions(h, i).bias(c.mlp_bias)));
  up_proj = register_module("up_proj", torch::nn::Linear(torch::nn::LinearOptions(h, i).bias(c.mlp_bias)));
  down_proj = register_module("down_proj", torch::nn::Linear(torch::nn::LinearOptions(i, h).bias(c.mlp_bias)));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) {
  at::Tensor g = detail::linear(x, gate_proj->weight, gate_proj->bias);
  at::Tensor u = detail::linear(x, up_proj->weight, up_proj->bias);
  return detail::linear(at::silu(g) * u, down_proj->weight, down_proj->bias);
}

DecoderLayerImpl::DecoderLayerImpl(const TransformerConfig& c) {
  self_attn = register_module("self_attn", Attention(c));
  mlp = register_module("mlp", Mlp(c));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const AttentionContext& ctx, int64_t layer) {
  at::Tensor h = x + self_attn->forward(input_layernorm->forward(x), ctx, layer);
  return h + mlp->forward(post_attention_layernorm->forward(h));
}

// --- Trunk ---

TransformerTrunkImpl::TransformerTrunkImpl(const TransformerConfig& c) : config_(c) {
  c.validate("model config");
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  const at::Tensor inv_freq = rope_inv_freq(c, c.max_position_embeddings);
  at::Tensor pos = at::arange(c.max_positions(), at::kLong).to(at::kFloat);
  at::Tensor emb = at::outer(pos, inv_freq).repeat({1, 2});
  const double scale = rope_attention_factor(c);
  rope_cos_ = emb.cos().mul_(scale);
  rope_sin_ = emb.sin().mul_(scale);
}

std::pair<at::Tensor, at::Tensor> TransformerTrunkImpl::rope_for(const at::Tensor& pos, const at::Tensor& like) {
  const int64_t B = pos.size(0), T = pos.size(1), D = config_.head_dim;
  if (config_.rope_scaling.type == "dynamic" && pos.numel() > 0) {
    const int64_t seq_len = pos.max().item<int64_t>() + 1;
    if (seq_len > config_.max_position_embeddings) {
      at::Tensor inv_freq = rope_inv_freq(config_, seq_len).to(pos.device());
      at::Tensor emb = (pos.to(at::kFloat).unsqueeze(-1) * inv_freq).repeat({1, 1, 2});
      return {emb.cos().to(like.scalar_type()).view({B, 1, T, D}), emb.sin().to(like.scalar_type()).view({B, 1, T, D})};
    }
  }
  ensure_rope_tables(like);
  return {rope_cos_cast_.index_select(0, pos.reshape({-1})).view({B, 1, T, D}),
          rope_sin_cast_.index_select(0, pos.reshape({-1})).view({B, 1, T, D})};
}

void TransformerTrunkImpl::ensure_rope_tables(const at::Tensor& like) {
  if (!rope_cos_cast_.defined() || rope_cos_cast_.device() != like.device() ||
      rope_cos_cast_.scalar_type() != like.scalar_type()) {
    rope_cos_cast_ = rope_cos_.to(like.device(), like.scalar_type());
    rope_sin_cast_ = rope_sin_.to(like.device(), like.scalar_type());
  }
}

at::Tensor TransformerTrunkImpl::run_layers(at::Tensor x, const AttentionContext& ctx) {
  for (size_t i = 0; i < layers->size(); ++i) {
    x = layers->ptr<DecoderLayerImpl>(i)->forward(x, ctx, static_cast<int64_t>(i));
  }
  return norm->forward(x);
}

at::Tensor TransformerTrunkImpl::forward(const at::Tensor& tokens_in, const ForwardOptions& opts) {
  check_tokens(tokens_in, config_.vocab_size);
  at::Tensor tokens = tokens_in.to(at::kLong);
  const int64_t B = tokens.size(0), T = tokens.size(1);
  RLVR_CHECK(T <= config_.max_positions(), "sequence length {} exceeds the model's {} positions", T,
             config_.max_positions());
  auto long_opts = tokens.options().dtype(at::kLong);
  at::Tensor real;
  if (opts.attention_mask.defined()) {
    check_bt(opts.attention_mask, B, T, "attention_mask");
    real = opts.attention_mask.to(tokens.device(), at::kLong).ne(0);
  }
  at::Tensor seg;
  if (opts.segment_ids.defined()) {
    check_bt(opts.segment_ids, B, T, "segment_ids");
    seg = opts.segment_ids.to(tokens.device(), at::kLong);
  }
  at::Tensor pos;
  if (opts.position_ids.defined()) {
    check_bt(opts.position_ids, B, T, "position_ids");
    pos = opts.position_ids.to(tokens.device(), at::kLong);
    if (pos.numel() > 0) {
      auto mn = pos.min().item<int64_t>(), mx = pos.max().item<int64_t>();
      RLVR_CHECK(mn >= 0 && mx < config_.max_positions(),
                 "position_ids must lie in [0, {}), found {}", config_.max_positions(),
                 mn < 0 ? mn : mx);
    }
  } else if (!real.defined() && !seg.defined()) {
    pos = at::arange(T, long_opts).unsqueeze(0).expand({B, T});
  } else {
    at::Tensor count = real.defined() ? real.to(at::kLong) : at::ones({B, T}, long_opts);
    at::Tensor cum = count.cumsum(1);  // real tokens up to and including t
    if (seg.defined() && T > 1) {
      // Index of the first token of t's segment, then subtract the count before it.
      at::Tensor idx = at::arange(T, long_opts).unsqueeze(0).expand({B, T});
      at::Tensor is_start = at::ones({B, T}, long_opts).to(at::kBool);
      is_start.narrow(1, 1, T - 1).copy_(seg.narrow(1, 1, T - 1).ne(seg.narrow(1, 0, T - 1)));
      at::Tensor start = std::get<0>(at::where(is_start, idx, at::zeros_like(idx)).cummax(1));
      at::Tensor before = at::where(start.gt(0), cum.gather(1, (start - 1).clamp_min(0)), at::zeros_like(cum));
      pos = (cum - before - 1).clamp_min(0);
    } else {
      pos = (cum - 1).clamp_min(0);
    }
  }
  at::Tensor x = embed_tokens->forward(tokens);
  AttentionContext ctx;
  std::tie(ctx.cos, ctx.sin) = rope_for(pos, x);
  const double low = lowest(x.scalar_type());
  at::Tensor allowed = at::ones({T, T}, tokens.options().dtype(at::kBool)).tril().unsqueeze(0);  // [1,T,T]
  if (real.defined()) allowed = allowed.logical_and(real.unsqueeze(1));                     // keys
  if (seg.defined()) allowed = allowed.logical_and(seg.unsqueeze(2).eq(seg.unsqueeze(1)));
  at::Tensor mask = at::zeros(allowed.sizes(), x.options()).masked_fill_(allowed.logical_not(), low);
  ctx.mask = mask.view({mask.size(0), 1, 1, T, T});
  return run_layers(x, ctx);
}

at::Tensor TransformerTrunkImpl::forward_cached(const at::Tensor& tokens_in, KVCache& cache,
                                                const at::Tensor& attention_mask) {
  torch::NoGradGuard no_grad;
  check_tokens(tokens_in, config_.vocab_size);
  at::Tensor tokens = tokens_in.to(at::kLong);
  const int64_t B = tokens.size(0), T = tokens.size(1);
  RLVR_CHECK(B == cache.batch_size(), "batch size {} does not match the KV cache's {}", B, cache.batch_size());
  RLVR_CHECK(cache.keys.size(0) == config_.num_hidden_layers && cache.keys.size(2) == config_.num_key_value_heads &&
                 cache.keys.size(4) == config_.head_dim,
             "KV cache was made for another model shape");
  RLVR_CHECK(cache.length() + T <= cache.max_len(),
             "KV cache full: {} slots used + {} new tokens > max_len {}", cache.length(), T, cache.max_len());
  const int64_t start = cache.length(), S = start + T;
  auto long_opts = tokens.options().dtype(at::kLong);
  at::Tensor x = embed_tokens->forward(tokens);
  const double low = lowest(x.scalar_type());
  AttentionContext ctx;
  ctx.cache = &cache;
  ctx.start = start;
  at::Tensor pos, added;
  if (attention_mask.defined()) {
    check_bt(attention_mask, B, T, "attention_mask");
    at::Tensor real = attention_mask.to(tokens.device(), at::kLong).ne(0);
    at::Tensor count = real.to(at::kLong);
    pos = (cache.next_positions_.unsqueeze(1) + count.cumsum(1) - 1).clamp_min(0);
    cache.slot_bias.narrow(1, start, T).copy_(
        at::zeros({B, T}, x.options()).masked_fill_(real.logical_not(), low));
    added = count.sum(1);
  } else {
    pos = cache.next_positions_.unsqueeze(1) + at::arange(T, long_opts).unsqueeze(0);
    cache.slot_bias.narrow(1, start, T).zero_();
  }
  std::tie(ctx.cos, ctx.sin) = rope_for(pos, x);
  at::Tensor key_bias = cache.slot_bias.narrow(1, 0, S).view({B, 1, 1, 1, S});
  if (T == 1) {
    ctx.mask = key_bias;
  } else {
    // Query t sits in slot start + t and sees slots s <= start + t.
    at::Tensor q_slot = at::arange(start, S, long_opts).unsqueeze(1);
    at::Tensor k_slot = at::arange(S, long_opts).unsqueeze(0);
    at::Tensor causal = at::zeros({T, S}, x.options()).masked_fill_(k_slot.gt(q_slot), low);
    ctx.mask = (key_bias + causal.view({1, 1, 1, T, S})).clamp_min(low);
  }
  at::Tensor h = run_layers(x, ctx);
  cache.length_ = S;
  if (added.defined()) {
    cache.next_positions_.add_(added);
  } else {
    cache.next_positions_.add_(T);
  }
  return h;
}

// --- Policy and critic ---

namespace {

void init_module_weights(torch::nn::Module& m, double stddev, uint64_t seed) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  for (auto& item : m.named_parameters()) {
    const std::string& name = item.key();
    at::Tensor& p = item.value();
    auto ends_with = [&](const std::string& suffix) {
      return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends_with("norm.weight")) {
      p.fill_(1.0);
    } else if (ends_with(".bias")) {
      p.zero_();
    } else {
      at::Tensor tmp = at::empty(p.sizes(), at::TensorOptions().dtype(at::kFloat));
      tmp.normal_(0.0, stddev, gen);
      p.copy_(tmp);
    }
  }
}

}  // namespace

CausalLMImpl::CausalLMImpl(const TransformerConfig& c) {
  model = register_module("model", TransformerTrunk(c));
  if (!c.tie_word_embeddings) {
    lm_head = register_module("lm_head", torch::nn::Linear(torch::nn::LinearOptions(c.hidden_size, c.vocab_size).bias(false)));
  }
}

at::Tensor CausalLMImpl::logits(const at::Tensor& hidden) {
  const at::Tensor& w = lm_head ? lm_head->weight : model->embed_tokens->weight;
  return detail::linear(hidden, w, {});
}

at::Tensor CausalLMImpl::forward(const at::Tensor& tokens, const ForwardOptions& opts) {
  return logits(model->forward(tokens, opts));
}

at::Tensor CausalLMImpl::forward_cached(const at::Tensor& tokens, KVCache& cache,
                                        const at::Tensor& attention_mask, bool last_only) {
  torch::NoGradGuard no_grad;
  at::Tensor h = model->forward_cached(tokens, cache, attention_mask);
  if (last_only) h = h.select(1, h.size(1) - 1);
  return logits(h);
}

at::Tensor CausalLMImpl::decode_step(const at::Tensor& tokens, KVCache& cache) {
  torch::NoGradGuard no_grad;
  RLVR_CHECK(tokens.dim() == 1, "decode_step: tokens must be [batch], got {}", c10::str(tokens.sizes()));
  at::Tensor h = model->forward_cached(tokens.view({-1, 1}), cache, {});
  return logits(h.select(1, 0));
}

KVCache CausalLMImpl::make_cache(int64_t batch_size, int64_t max_len) {
  const auto& w = model->embed_tokens->weight;
  return KVCache(config(), batch_size, max_len, w.options());
}

void CausalLMImpl::init_weights(uint64_t seed) { init_module_weights(*this, config().initializer_range, seed); }

CriticImpl::CriticImpl(const TransformerConfig& c) {
  model = register_module("model", TransformerTrunk(c));
  score = register_module("score", torch::nn::Linear(torch::nn::LinearOptions(c.hidden_size, 1).bias(false)));
}

at::Tensor CriticImpl::forward(const at::Tensor& tokens, const ForwardOptions& opts) {
  return detail::linear(model->forward(tokens, opts), score->weight, {}).squeeze(-1);
}

void CriticImpl::init_weights(uint64_t seed) { init_module_weights(*this, config().initializer_range, seed); }

// --- KV cache ---

KVCache::KVCache(const TransformerConfig& c, int64_t batch_size, int64_t max_len, at::TensorOptions options)
    : batch_size_(batch_size), max_len_(max_len) {
  RLVR_CHECK(batch_size >= 1, "KV cache batch size must be >= 1, got {}", batch_size);
  RLVR_CHECK(max_len >= 1 && max_len <= c.max_positions(),
             "KV cache max_len must be in [1, the model's {} positions], got {}", c.max_positions(),
             max_len);
  options = options.requires_grad(false);
  keys = at::zeros({c.num_hidden_layers, batch_size, c.num_key_value_heads, max_len, c.head_dim}, options);
  values = at::zeros_like(keys);
  slot_bias = at::full({batch_size, max_len}, lowest(c10::typeMetaToScalarType(options.dtype())), options);
  next_positions_ = at::zeros({batch_size}, options.dtype(at::kLong));
}

void KVCache::reset() {
  length_ = 0;
  slot_bias.fill_(lowest(slot_bias.scalar_type()));
  next_positions_.zero_();
}

void KVCache::select_rows(const at::Tensor& index) {
  RLVR_CHECK(index.defined() && index.dim() == 1 && index.numel() >= 1,
             "select_rows: index must be a non-empty 1-D tensor");
  at::Tensor idx = index.to(keys.device(), at::kLong);
  const at::Tensor host = idx.to(at::kCPU).contiguous();
  const int64_t n = host.numel();
  const int64_t* rows = host.data_ptr<int64_t>();
  const auto [lo, hi] = std::minmax_element(rows, rows + n);
  RLVR_CHECK(*lo >= 0 && *hi < batch_size_, "select_rows: row {} out of range [0, {})", *lo < 0 ? *lo : *hi,
             batch_size_);
  bool increasing = detail::in_place_row_drop_enabled();
  for (int64_t i = 1; i < n && increasing; ++i) increasing = rows[i] > rows[i - 1];
  if (increasing) {
    // Row i takes row rows[i] >= i; rows read later are above every row written so far.
    for (int64_t i = 0; i < n; ++i) {
      if (rows[i] == i) continue;
      for (at::Tensor* t : {&keys, &values}) {
        t->select(1, i).narrow(2, 0, length_).copy_(t->select(1, rows[i]).narrow(2, 0, length_));
      }
      slot_bias.select(0, i).copy_(slot_bias.select(0, rows[i]));
    }
    keys = keys.narrow(1, 0, n);
    values = values.narrow(1, 0, n);
    slot_bias = slot_bias.narrow(0, 0, n);
  } else {
    keys = keys.index_select(1, idx);
    values = values.index_select(1, idx);
    slot_bias = slot_bias.index_select(0, idx);
  }
  next_positions_ = next_positions_.index_select(0, idx);
  batch_size_ = n;
}

void KVCache::set_layout(int64_t length, const at::Tensor& next_positions) {
  RLVR_CHECK(length >= 0 && length <= max_len_, "set_layout: length {} outside [0, {}]", length, max_len_);
  RLVR_CHECK(next_positions.defined() && next_positions.dim() == 1 && next_positions.size(0) == batch_size_,
             "set_layout: next_positions must have shape [{}]", batch_size_);
  length_ = length;
  next_positions_ = next_positions.to(keys.device(), at::kLong).clone();
}

}  // namespace rlvr::core
