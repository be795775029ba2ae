// config.json <-> TransformerConfig.
#include "core/model/model_config.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "core/fs.h"

namespace rlvr::core {
namespace {

using nlohmann::json;

const char* type_name(const json& v) { return v.type_name(); }

int64_t get_int(const json& j, const char* key, const std::string& src, int64_t lo) {
  const json& v = j.at(key);
  if (!v.is_number_integer()) {
    throw Error(fmt::format("{}: field '{}' must be an integer, got {} {}", src, key,
                            type_name(v), v.dump()));
  }
  int64_t x = v.get<int64_t>();
  RLVR_CHECK(x >= lo, "{}: field '{}' must be >= {}, got {}", src, key, lo, x);
  return x;
}

double get_number(const json& j, const char* key, const std::string& src) {
  const json& v = j.at(key);
  if (!v.is_number()) {
    throw Error(fmt::format("{}: field '{}' must be a number, got {} {}", src, key, type_name(v),
                            v.dump()));
  }
  return v.get<double>();
}

bool get_bool(const json& j, const char* key, const std::string& src) {
  const json& v = j.at(key);
  if (!v.is_boolean()) {
    throw Error(fmt::format("{}: field '{}' must be true or false, got {}", src, key, v.dump()));
  }
  return v.get<bool>();
}

std::string get_string(const json& j, const char* key, const std::string& src) {
  const json& v = j.at(key);
  if (!v.is_string()) {
    throw Error(fmt::format("{}: field '{}' must be a string, got {} {}", src, key, type_name(v),
                            v.dump()));
  }
  return v.get<std::string>();
}

// HF token ids: null, an integer, or a list of integers.
std::vector<int64_t> get_ids(const json& j, const char* key, const std::string& src) {
  const json& v = j.at(key);
  std::vector<int64_t> out;
  if (v.is_null()) return out;
  if (v.is_number_integer()) return {v.get<int64_t>()};
  if (v.is_array()) {
    for (const auto& e : v) {
      RLVR_CHECK(e.is_number_integer(), "{}: field '{}' must be an integer or a list of integers, got {}",
                 src, key, v.dump());
      out.push_back(e.get<int64_t>());
    }
    return out;
  }
  throw Error(fmt::format("{}: field '{}' must be an integer or a list of integers, got {}", src,
                          key, v.dump()));
}

// config.json's rope_scaling (null, or an object with "rope_type" or the older "type").
RopeScaling parse_rope_scaling(const json& r, const std::string& src) {
  RopeScaling out;
  if (r.is_null()) return out;
  RLVR_CHECK(r.is_object(), "{}: field 'rope_scaling' must be null or an object, got {}", src, r.dump());
  const json* type = r.contains("rope_type") ? &r.at("rope_type") : r.contains("type") ? &r.at("type") : nullptr;
  RLVR_CHECK(type && type->is_string(), "{}: field 'rope_scaling' = {} has no 'rope_type' (or 'type') string", src,
             r.dump());
  out.type = type->get<std::string>();
  out.json = r;
  if (out.type == "default") {
    out.type.clear();
    return out;
  }
  RLVR_CHECK(out.type == "linear" || out.type == "dynamic" || out.type == "llama3" || out.type == "yarn",
             "{}: rope_scaling type '{}' is not supported; supported: default, linear, dynamic, llama3, yarn", src,
             out.type);
  // Every key a type reads (transformers' rope validation lists the same); another key would be
  // a setting rlvr silently ignores, so it is refused.
  static const std::map<std::string, std::set<std::string>> known_keys = {
      {"linear", {"factor"}},
      {"dynamic", {"factor"}},
      {"llama3", {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}},
      {"yarn",
       {"factor", "original_max_position_embeddings", "attention_factor", "beta_fast", "beta_slow", "mscale",
        "mscale_all_dim", "truncate"}}};
  for (auto it = r.begin(); it != r.end(); ++it) {
    if (it.key() == "rope_type" || it.key() == "type") continue;
    const auto& keys = known_keys.at(out.type);
    if (keys.count(it.key()) != 0) continue;
    std::string expected;
    for (const auto& k : keys) expected += (expected.empty() ? "" : ", ") + k;
    throw Error(fmt::format("{}: rope_scaling.{} is not a setting of rope_scaling type '{}' (expected: {})", src,
                            it.key(), out.type, expected));
  }
  auto number = [&](const char* key, bool required, double fallback) {
    if (!r.contains(key) || r.at(key).is_null()) {
      RLVR_CHECK(!required, "{}: rope_scaling ({}) needs '{}'", src, out.type, key);
      return fallback;
    }
    RLVR_CHECK(r.at(key).is_number() && std::isfinite(r.at(key).get<double>()),
               "{}: rope_scaling.{} must be a finite number, got {}", src, key, r.at(key).dump());
    return r.at(key).get<double>();
  };
  out.factor = number("factor", true, 1.0);
  RLVR_CHECK(out.factor >= 1.0 && out.factor <= 1024.0, "{}: rope_scaling.factor must be from 1 to 1024, got {}", src,
             out.factor);
  const bool llama3 = out.type == "llama3";
  out.low_freq_factor = number("low_freq_factor", llama3, 1.0);
  out.high_freq_factor = number("high_freq_factor", llama3, 4.0);
  const double original = number("original_max_position_embeddings", llama3, 0.0);
  RLVR_CHECK(original >= 0 && original <= (1 << 22) && original == std::floor(original),
             "{}: rope_scaling.original_max_position_embeddings must be a whole number of positions, got {}", src,
             original);
  out.original_max_position_embeddings = static_cast<int64_t>(original);
  if (llama3) {
    RLVR_CHECK(out.original_max_position_embeddings >= 1 && out.low_freq_factor > 0 &&
                   out.high_freq_factor > out.low_freq_factor,
               "{}: rope_scaling (llama3) needs original_max_position_embeddings >= 1 and 0 < low_freq_factor < "
               "high_freq_factor, got {}",
               src, r.dump());
  }
  if (out.type == "yarn") {
    // transformers reads `beta_fast or 32`: a 0 means the default.
    out.beta_fast = number("beta_fast", false, 32.0);
    out.beta_slow = number("beta_slow", false, 1.0);
    if (out.beta_fast == 0) out.beta_fast = 32.0;
    if (out.beta_slow == 0) out.beta_slow = 1.0;
    RLVR_CHECK(out.beta_fast > 0 && out.beta_slow > 0, "{}: rope_scaling.beta_fast and beta_slow must be > 0", src);
    out.attention_factor = number("attention_factor", false, 0.0);
    RLVR_CHECK(out.attention_factor >= 0, "{}: rope_scaling.attention_factor must be >= 0", src);
    out.mscale = number("mscale", false, 0.0);
    out.mscale_all_dim = number("mscale_all_dim", false, 0.0);
    if (r.contains("truncate") && !r.at("truncate").is_null()) {
      RLVR_CHECK(r.at("truncate").is_boolean(), "{}: rope_scaling.truncate must be true or false, got {}", src,
                 r.at("truncate").dump());
      out.truncate = r.at("truncate").get<bool>();
    }
  }
  return out;
}

json ids_to_json(const std::vector<int64_t>& ids) {
  if (ids.empty()) return nullptr;
  if (ids.size() == 1) return ids[0];
  return ids;
}

}  // namespace

int64_t TransformerConfig::max_positions() const {
  const auto& r = rope_scaling;
  if (r.type == "linear" || r.type == "dynamic" || r.type == "yarn") {
    const int64_t original =
        r.original_max_position_embeddings > 0 ? r.original_max_position_embeddings : max_position_embeddings;
    return std::max<int64_t>(max_position_embeddings, static_cast<int64_t>(std::floor(r.factor * static_cast<double>(original))));
  }
  return max_position_embeddings;
}

int64_t TransformerConfig::num_parameters() const {
  const int64_t h = hidden_size, q = num_attention_heads * head_dim, kv = num_key_value_heads * head_dim;
  int64_t attn = h * q + 2 * h * kv + q * h;
  if (qkv_bias()) attn += q + 2 * kv;
  if (o_bias()) attn += h;
  int64_t mlp = 3 * h * intermediate_size + (mlp_bias ? 2 * intermediate_size + h : 0);
  if (qk_norm()) attn += 2 * head_dim;
  int64_t layer = attn + mlp + 2 * h;
  return num_embedding_parameters() + num_hidden_layers * layer + h;
}

int64_t TransformerConfig::num_embedding_parameters() const {
  return vocab_size * hidden_size * (tie_word_embeddings ? 1 : 2);
}

void TransformerConfig::validate(const std::string& src) const {
  RLVR_CHECK(model_type == "llama" || model_type == "qwen2" || model_type == "qwen3" || model_type == "mistral",
             "{}: field 'model_type' is '{}'; supported: llama, qwen2, qwen3, mistral", src, model_type);
  RLVR_CHECK(vocab_size >= 1, "{}: field 'vocab_size' must be >= 1, got {}", src, vocab_size);
  RLVR_CHECK(hidden_size >= 1, "{}: field 'hidden_size' must be >= 1, got {}", src, hidden_size);
  RLVR_CHECK(intermediate_size >= 1, "{}: field 'intermediate_size' must be >= 1, got {}", src,
             intermediate_size);
  RLVR_CHECK(num_hidden_layers >= 1, "{}: field 'num_hidden_layers' must be >= 1, got {}", src,
             num_hidden_layers);
  RLVR_CHECK(num_attention_heads >= 1, "{}: field 'num_attention_heads' must be >= 1, got {}", src,
             num_attention_heads);
  RLVR_CHECK(num_key_value_heads >= 1 && num_attention_heads % num_key_value_heads == 0,
             "{}: field 'num_key_value_heads' ({}) must divide num_attention_heads ({})", src,
             num_key_value_heads, num_attention_heads);
  // Rotary tables of max_position_embeddings x head_dim are built at construction: bound both
  // (and their product) like the other dimensions, before anything is allocated.
  RLVR_CHECK(head_dim >= 2 && head_dim % 2 == 0 && head_dim <= 1024,
             "{}: field 'head_dim' is {}; expected an even number from 2 to 1024", src, head_dim);
  RLVR_CHECK(max_position_embeddings >= 1 && max_position_embeddings <= (int64_t{1} << 22),
             "{}: field 'max_position_embeddings' is {}; expected 1 to {}", src, max_position_embeddings,
             int64_t{1} << 22);
  RLVR_CHECK(max_positions() <= (int64_t{1} << 22) && max_positions() * head_dim <= (int64_t{1} << 29),
             "{}: rotary tables of {} positions x head_dim {} are implausibly large (limit 2^22 positions, 2^29 "
             "entries)", src, max_positions(), head_dim);
  RLVR_CHECK(rms_norm_eps > 0, "{}: field 'rms_norm_eps' must be > 0, got {}", src, rms_norm_eps);
  RLVR_CHECK(rope_theta > 0, "{}: field 'rope_theta' must be > 0, got {}", src, rope_theta);
  RLVR_CHECK(hidden_act == "silu", "{}: field 'hidden_act' is '{}'; supported: silu", src, hidden_act);
  RLVR_CHECK(torch_dtype == "float32" || torch_dtype == "bfloat16" || torch_dtype == "float16",
             "{}: field 'torch_dtype' is '{}'; supported: float32, bfloat16, float16", src,
             torch_dtype);
  // Keep the parameter count far from int64 overflow and allocation nonsense.
  RLVR_CHECK(vocab_size <= (int64_t{1} << 24) && hidden_size <= (int64_t{1} << 17) &&
                 intermediate_size <= (int64_t{1} << 19) && num_hidden_layers <= 1024 &&
                 num_attention_heads <= 1024,
             "{}: model dimensions are implausibly large (vocab_size {}, hidden_size {}, "
             "intermediate_size {}, num_hidden_layers {}, num_attention_heads {})",
             src, vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads);
}

TransformerConfig transformer_config_from_json(const json& j, const std::string& src) {
  RLVR_CHECK(j.is_object(), "{}: expected a JSON object, got {}", src, j.type_name());
  TransformerConfig c;
  std::set<std::string> known;
  auto has = [&](const char* key) {
    known.insert(key);
    return j.contains(key);
  };
  auto require = [&](const char* key) {
    RLVR_CHECK(has(key), "{}: missing required field '{}'", src, key);
  };
  if (has("model_type")) c.model_type = get_string(j, "model_type", src);
  if (has("architectures")) {
    const json& a = j.at("architectures");
    RLVR_CHECK(a.is_array(), "{}: field 'architectures' must be a list of strings", src);
    c.architectures.clear();
    for (const auto& e : a) {
      RLVR_CHECK(e.is_string(), "{}: field 'architectures' must be a list of strings", src);
      c.architectures.push_back(e.get<std::string>());
    }
  } else {
    c.architectures = {c.model_type == "qwen2"     ? "Qwen2ForCausalLM"
                       : c.model_type == "qwen3"   ? "Qwen3ForCausalLM"
                       : c.model_type == "mistral" ? "MistralForCausalLM"
                                                   : "LlamaForCausalLM"};
  }
  for (const char* key : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads"}) {
    require(key);
  }
  c.vocab_size = get_int(j, "vocab_size", src, 1);
  c.hidden_size = get_int(j, "hidden_size", src, 1);
  c.intermediate_size = get_int(j, "intermediate_size", src, 1);
  c.num_hidden_layers = get_int(j, "num_hidden_layers", src, 1);
  c.num_attention_heads = get_int(j, "num_attention_heads", src, 1);
  c.num_key_value_heads = c.num_attention_heads;
  if (has("num_key_value_heads") && !j.at("num_key_value_heads").is_null()) {
    c.num_key_value_heads = get_int(j, "num_key_value_heads", src, 1);
  }
  RLVR_CHECK(c.hidden_size % c.num_attention_heads == 0 ||
                 (j.contains("head_dim") && !j.at("head_dim").is_null()),
             "{}: hidden_size ({}) is not divisible by num_attention_heads ({}) and no head_dim is given",
             src, c.hidden_size, c.num_attention_heads);
  c.head_dim = c.hidden_size / c.num_attention_heads;
  if (has("head_dim") && !j.at("head_dim").is_null()) {
    c.head_dim = get_int(j, "head_dim", src, 1);
    c.head_dim_in_json = true;
  }
  if (has("max_position_embeddings")) {
    c.max_position_embeddings = get_int(j, "max_position_embeddings", src, 1);
  }
  if (has("rms_norm_eps")) c.rms_norm_eps = get_number(j, "rms_norm_eps", src);
  if (has("rope_theta")) c.rope_theta = get_number(j, "rope_theta", src);
  if (has("initializer_range")) c.initializer_range = get_number(j, "initializer_range", src);
  if (has("tie_word_embeddings")) c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", src);
  if (has("attention_bias")) c.attention_bias = get_bool(j, "attention_bias", src);
  if (has("mlp_bias")) c.mlp_bias = get_bool(j, "mlp_bias", src);
  if (has("hidden_act")) c.hidden_act = get_string(j, "hidden_act", src);
  if (has("torch_dtype") && !j.at("torch_dtype").is_null()) {
    c.torch_dtype = get_string(j, "torch_dtype", src);
  }
  if (has("bos_token_id")) c.bos_token_id = get_ids(j, "bos_token_id", src);
  if (has("eos_token_id")) c.eos_token_id = get_ids(j, "eos_token_id", src);
  if (has("pad_token_id")) c.pad_token_id = get_ids(j, "pad_token_id", src);
  if (has("rope_scaling")) c.rope_scaling = parse_rope_scaling(j.at("rope_scaling"), src);
  if (has("use_sliding_window")) {
    RLVR_CHECK(!get_bool(j, "use_sliding_window", src),
               "{}: field 'use_sliding_window' = true is not supported (attention over the whole context only)", src);
  }
  if (has("sliding_window") && !j.at("sliding_window").is_null()) {
    const int64_t window = get_int(j, "sliding_window", src, 1);
    // qwen2/qwen3 carry a window that applies only with use_sliding_window (refused above); for
    // mistral a window shorter than the context changes attention, which rlvr does not implement.
    if (c.model_type == "mistral") {
      RLVR_CHECK(window >= c.max_position_embeddings,
                 "{}: field 'sliding_window' is {}, shorter than max_position_embeddings {}: sliding-window attention "
                 "is not supported (set it to null or >= the context if the model was trained without it)",
                 src, window, c.max_position_embeddings);
    }
    c.extra["sliding_window"] = window;
  } else if (has("sliding_window")) {
    c.extra["sliding_window"] = nullptr;  // Qwen3 writes "sliding_window": null; keep the key
  }
  if (c.model_type == "qwen2" || c.model_type == "qwen3") {
    RLVR_CHECK(!c.mlp_bias, "{}: field 'mlp_bias' = true is not supported for {}", src, c.model_type);
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!known.count(it.key())) c.extra[it.key()] = it.value();
  }
  c.validate(src);
  return c;
}

TransformerConfig load_transformer_config(const std::string& path) {
  std::string text = read_file(path);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: invalid JSON: {}", path, e.what()));
  }
  return transformer_config_from_json(j, path);
}

json transformer_config_to_json(const TransformerConfig& c) {
  json j = c.extra.is_object() ? c.extra : json::object();
  j["model_type"] = c.model_type;
  j["architectures"] = c.architectures;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  if (c.head_dim_in_json || c.head_dim * c.num_attention_heads != c.hidden_size) j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = c.rope_scaling.type.empty() ? json(nullptr) : c.rope_scaling.json;
  j["initializer_range"] = c.initializer_range;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["hidden_act"] = c.hidden_act;
  j["torch_dtype"] = c.torch_dtype;
  j["bos_token_id"] = ids_to_json(c.bos_token_id);
  j["eos_token_id"] = ids_to_json(c.eos_token_id);
  if (!c.pad_token_id.empty()) j["pad_token_id"] = ids_to_json(c.pad_token_id);
  j["use_cache"] = true;
  if (c.model_type == "qwen2") {
    j["use_sliding_window"] = false;
  } else if (c.model_type == "qwen3") {
    j["use_sliding_window"] = false;
    j["attention_bias"] = c.attention_bias;
    j["attention_dropout"] = 0.0;
    j["head_dim"] = c.head_dim;
  } else {
    j["attention_bias"] = c.attention_bias;
    j["mlp_bias"] = c.mlp_bias;
    j["attention_dropout"] = 0.0;
  }
  return j;  // nlohmann::json objects are key-sorted, as transformers writes them
}

void save_transformer_config(const TransformerConfig& config, const std::string& path) {
  write_file_atomic(path, transformer_config_to_json(config).dump(2) + "\n");
}

}  // namespace rlvr::core
