// The architecture of a Llama-family decoder, read from and written to a Hugging Face
// `config.json` (LlamaConfig / Qwen2Config fields). Torch-free: tools and other components can
// include it cheaply.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlvr::core {

// Hyper-parameters of a decoder-only transformer of the Llama family (Llama 2/3, Qwen2,
// SmolLM, TinyLlama, ...). Field names equal the config.json keys. A plain value type;
// thread-compatible.
// RoPE frequency scaling (config.json `rope_scaling`), with transformers' formulas
// (modeling_rope_utils.py): linear divides the frequencies by `factor`; dynamic (NTK) raises the
// base with the sequence length once it passes max_position_embeddings; llama3 (Llama 3.1/3.2)
// blends scaled and unscaled frequencies by wavelength; yarn ramps between interpolation and
// extrapolation and scales cos/sin by an attention factor.
struct RopeScaling {
  std::string type;                         // "" (none), linear, dynamic, llama3, yarn
  double factor = 1.0;                      // all types
  double low_freq_factor = 1.0;             // llama3
  double high_freq_factor = 4.0;            // llama3
  int64_t original_max_position_embeddings = 0;  // llama3 (required), yarn (optional)
  double beta_fast = 32.0, beta_slow = 1.0;  // yarn
  double attention_factor = 0.0;            // yarn; 0: from mscale / mscale_all_dim (below)
  // yarn, as transformers: without attention_factor, when mscale and mscale_all_dim are both
  // non-zero the cos/sin scale is m(factor, mscale) / m(factor, mscale_all_dim), else
  // m(factor, 1), with m(s, k) = 0.1 k ln(s) + 1 (1 for s <= 1).
  double mscale = 0.0, mscale_all_dim = 0.0;
  bool truncate = true;                     // yarn: floor/ceil the correction range (default true)
  nlohmann::json json;                      // the object as given (null: none), written back unchanged
};

struct TransformerConfig {
  std::string model_type = "llama";                          // llama, qwen2, qwen3 or mistral
  std::vector<std::string> architectures = {"LlamaForCausalLM"};
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;        // default: num_attention_heads (multi-head attention)
  int64_t head_dim = 128;                  // default: hidden_size / num_attention_heads
  // Whether config.json named head_dim (Llama 3.2 and Qwen3 do). It is then written back even when it
  // equals hidden_size / num_attention_heads, so a round trip keeps the file's keys. Default false.
  bool head_dim_in_json = false;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  double initializer_range = 0.02;
  bool tie_word_embeddings = false;
  bool attention_bias = false;             // llama: bias on q/k/v/o; qwen2: always q/k/v, never o
  bool mlp_bias = false;                   // llama only
  std::string hidden_act = "silu";
  std::string torch_dtype = "float32";     // float32 | bfloat16 | float16: dtype on disk
  std::vector<int64_t> bos_token_id;       // empty: none; HF allows an int or a list
  std::vector<int64_t> eos_token_id;       // empty: none; Llama 3 uses a list
  std::vector<int64_t> pad_token_id;       // empty: none
  RopeScaling rope_scaling;
  nlohmann::json extra = nlohmann::json::object();  // unknown keys, written back unchanged

  // The longest sequence (positions 0 .. max_positions()-1) the model accepts: max_position_embeddings,
  // or for linear, dynamic and yarn scaling factor x the original context when that is longer.
  int64_t max_positions() const;
  // qwen3: RMSNorm of each query and key head (q_norm, k_norm) before the rotary embedding.
  bool qk_norm() const { return model_type == "qwen3"; }
  // Whether q/k/v (resp. o) projections carry a bias for this model_type.
  bool qkv_bias() const { return model_type == "qwen2" ? true : attention_bias; }
  bool o_bias() const { return model_type == "qwen2" ? false : attention_bias; }
  // Number of parameters computed from the architecture alone (no weights needed): tied embeddings
  // counted once, q/k/v (and o) biases per model_type, qwen3's q_norm/k_norm, every RMSNorm. This is
  // the figure publishers state (Llama-3.1-8B: 8,030,261,248). Hugging Face's safetensors "total" is
  // larger for tied checkpoints that also store lm_head.weight (Qwen3-0.6B: + vocab x hidden).
  int64_t num_parameters() const;
  // The embedding matrices: embed_tokens, plus lm_head when not tied (vocab_size x hidden_size each).
  int64_t num_embedding_parameters() const;
  // num_parameters() - num_embedding_parameters(): Qwen's model cards call it "Non-Embedding".
  int64_t num_non_embedding_parameters() const { return num_parameters() - num_embedding_parameters(); }
  // Throws rlvr::Error naming `source` and the field when a value is out of range or the
  // combination is inconsistent (heads not dividing hidden_size, kv heads not dividing heads).
  void validate(const std::string& source) const;
};

// Parses a config.json object. `source` (a path) is used in error messages. Unknown keys are kept
// in `extra`. Throws rlvr::Error naming source and field on a wrong type, a missing required
// field, an unsupported model_type/hidden_act/rope_scaling, or a failed validate().
TransformerConfig transformer_config_from_json(const nlohmann::json& j, const std::string& source);

// Reads and parses `path` (a config.json). Throws rlvr::Error naming the file on any failure.
TransformerConfig load_transformer_config(const std::string& path);

// The config.json object transformers writes for this config (keys sorted, extra merged).
nlohmann::json transformer_config_to_json(const TransformerConfig& config);

// Writes config.json atomically (core/fs.h). Throws rlvr::Error on I/O failure.
void save_transformer_config(const TransformerConfig& config, const std::string& path);

}  // namespace rlvr::core
