// generation_config.json defaults (see generation_defaults.h).
#include "core/config/generation_defaults.h"

#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

namespace rlvr::core {
namespace {

using nlohmann::json;

std::vector<int64_t> read_ids(const json& j, const std::string& path, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  auto one = [&](const json& v) -> int64_t {
    if (!v.is_number_integer() || v.get<int64_t>() < 0) {
      throw Error(fmt::format("{}: {} must be a non-negative integer or a list of them, got {}", path, key,
                              v.dump().substr(0, 40)));
    }
    return v.get<int64_t>();
  };
  if (it->is_array()) {
    std::vector<int64_t> ids;
    for (const json& v : *it) ids.push_back(one(v));
    return ids;
  }
  return {one(*it)};
}

std::optional<double> read_number(const json& j, const std::string& path, const char* key, double lo, double hi) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw Error(fmt::format("{}: {} must be a number, got {}", path, key, it->dump().substr(0, 40)));
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    throw Error(fmt::format("{}: {} = {} is out of range; expected {} to {}", path, key, v, lo, hi));
  }
  return v;
}

std::optional<int64_t> read_int(const json& j, const std::string& path, const char* key, int64_t lo, int64_t hi) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) {
    throw Error(fmt::format("{}: {} must be an integer, got {}", path, key, it->dump().substr(0, 40)));
  }
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) throw Error(fmt::format("{}: {} = {} is out of range; expected {} to {}", path, key, v, lo, hi));
  return v;
}

}  // namespace

std::optional<CheckpointGenerationConfig> read_generation_config(const std::string& checkpoint_dir) {
  namespace fs = std::filesystem;
  if (checkpoint_dir.empty()) return std::nullopt;
  const std::string path = (fs::path(checkpoint_dir) / "generation_config.json").string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  json j;
  try {
    j = json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON ({}); expected a JSON object", path, e.what()));
  }
  if (!j.is_object()) throw Error(fmt::format("{}: expected a JSON object", path));
  CheckpointGenerationConfig g;
  g.path = path;
  g.eos_token_id = read_ids(j, path, "eos_token_id");
  g.bos_token_id = read_ids(j, path, "bos_token_id");
  g.temperature = read_number(j, path, "temperature", 0, 100);
  g.top_p = read_number(j, path, "top_p", 1e-9, 1);
  g.top_k = read_int(j, path, "top_k", 0, int64_t{1} << 40);
  g.max_new_tokens = read_int(j, path, "max_new_tokens", 1, 1048576);
  if (auto it = j.find("do_sample"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) throw Error(fmt::format("{}: do_sample must be true or false, got {}", path, it->dump()));
    g.do_sample = it->get<bool>();
  }
  // Sampling controls the sampler does not implement, with their neutral values.
  const std::vector<std::pair<const char*, double>> neutral = {
      {"repetition_penalty", 1.0}, {"min_p", 0.0}, {"typical_p", 1.0}, {"epsilon_cutoff", 0.0},
      {"eta_cutoff", 0.0},         {"length_penalty", 1.0}, {"no_repeat_ngram_size", 0.0}, {"num_beams", 1.0}};
  for (const auto& [key, value] : neutral) {
    auto it = j.find(key);
    if (it != j.end() && it->is_number() && it->get<double>() != value) {
      g.unsupported.push_back(fmt::format("{}={}", key, it->dump()));
    }
  }
  return g;
}

std::vector<std::string> apply_generation_defaults(GenerationConfig& g, const CheckpointGenerationConfig& file,
                                                   const std::function<bool(const std::string& key)>& is_set) {
  std::vector<std::string> applied;
  if (!is_set("temperature")) {
    if (file.do_sample && !*file.do_sample) {
      g.temperature = 0.0;
      applied.push_back("generation.temperature=0 (do_sample false)");
    } else if (file.temperature) {
      g.temperature = *file.temperature;
      applied.push_back(fmt::format("generation.temperature={}", g.temperature));
    }
  }
  if (!is_set("top_p") && file.top_p) {
    g.top_p = *file.top_p;
    applied.push_back(fmt::format("generation.top_p={}", g.top_p));
  }
  if (!is_set("top_k") && file.top_k) {
    g.top_k = *file.top_k;
    applied.push_back(fmt::format("generation.top_k={}", g.top_k));
  }
  if (!is_set("max_new_tokens") && file.max_new_tokens) {
    g.max_new_tokens = *file.max_new_tokens;
    applied.push_back(fmt::format("generation.max_new_tokens={}", g.max_new_tokens));
  }
  return applied;
}

std::vector<std::string> apply_generation_defaults(Config& config, const CheckpointGenerationConfig& file) {
  return apply_generation_defaults(config.generation, file, [&](const std::string& key) {
    return config.explicit_keys.count("generation." + key) > 0;
  });
}

void log_generation_defaults(const CheckpointGenerationConfig& file, const std::vector<std::string>& applied) {
  if (!applied.empty()) RLVR_LOG_INFO("{}: sampling defaults {}", file.path, fmt::join(applied, ", "));
  if (!file.unsupported.empty()) {
    RLVR_LOG_WARN("{}: {} not supported by rlvr's sampler; ignored", file.path, fmt::join(file.unsupported, ", "));
  }
}

void apply_checkpoint_generation_defaults(Config& config) {
  const auto file = read_generation_config(config.model.path);
  if (file) log_generation_defaults(*file, apply_generation_defaults(config, *file));
}

std::vector<int64_t> checkpoint_eos_ids(const std::string& checkpoint_dir) {
  const auto file = read_generation_config(checkpoint_dir);
  return file ? file->eos_token_id : std::vector<int64_t>{};
}

}  // namespace rlvr::core
