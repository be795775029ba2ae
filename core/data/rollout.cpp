// Rollout records: validation and the JSONL form (see rollout.h).
#include "core/data/rollout.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/data/jsonl.h"
#include "core/error.h"

namespace rlvr::core {

int64_t RolloutSample::min_version() const {
  return versions.empty() ? 0 : *std::min_element(versions.begin(), versions.end());
}

std::string RolloutSample::describe() const {
  return fmt::format("prompt {} sample {} (actor {})", prompt_index, sample_index, actor_id);
}

std::optional<std::string> rollout_problem(const RolloutSample& s, const RolloutLimits& limits) {
  if (s.prompt_index < 0) return fmt::format("prompt_index: {}; expected >= 0", s.prompt_index);
  if (s.sample_index < 0) return fmt::format("sample_index: {}; expected >= 0", s.sample_index);
  if (s.actor_id < 0) return fmt::format("actor_id: {}; expected >= 0", s.actor_id);
  if (s.prompt_ids.empty()) return std::string("prompt_ids: empty; expected the prompt's token ids");
  if (s.completion_ids.empty()) {
    return std::string("completion_ids: empty; expected at least one generated token");
  }
  const int64_t P = static_cast<int64_t>(s.prompt_ids.size());
  const int64_t T = static_cast<int64_t>(s.completion_ids.size());
  if (limits.max_positions > 0 && P + T > limits.max_positions) {
    return fmt::format("completion_ids: {} prompt + {} completion tokens; expected at most {} (the model's "
                       "max_position_embeddings)", P, T, limits.max_positions);
  }
  if (limits.max_completion_tokens > 0 && T > limits.max_completion_tokens) {
    return fmt::format("completion_ids: {} tokens; expected at most {} (generation.max_new_tokens)", T,
                       limits.max_completion_tokens);
  }
  auto check_ids = [&](const std::vector<int32_t>& ids, const char* field) -> std::optional<std::string> {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || (limits.vocab_size > 0 && ids[i] >= limits.vocab_size)) {
        return fmt::format("{}[{}]: token id {}; expected an id in [0, {})", field, i, ids[i], limits.vocab_size);
      }
    }
    return std::nullopt;
  };
  if (auto p = check_ids(s.prompt_ids, "prompt_ids")) return p;
  if (auto p = check_ids(s.completion_ids, "completion_ids")) return p;
  if (s.logprobs.size() != s.completion_ids.size()) {
    return fmt::format("logprobs: {} values for {} completion tokens; expected one per token", s.logprobs.size(),
                       s.completion_ids.size());
  }
  for (size_t i = 0; i < s.logprobs.size(); ++i) {
    // A log-probability is <= 0; allow float rounding just above it.
    if (!std::isfinite(s.logprobs[i]) || s.logprobs[i] > 1e-3f) {
      return fmt::format("logprobs[{}]: {}; expected a finite log-probability <= 0", i, s.logprobs[i]);
    }
  }
  if (s.versions.size() != 1 && s.versions.size() != s.completion_ids.size()) {
    return fmt::format("versions: {} values for {} completion tokens; expected one value or one per token",
                       s.versions.size(), s.completion_ids.size());
  }
  for (size_t i = 0; i < s.versions.size(); ++i) {
    if (s.versions[i] < 0 || s.versions[i] > limits.max_version) {
      return fmt::format("versions[{}]: {}; expected a policy version in [0, {}]", i, s.versions[i],
                         limits.max_version);
    }
  }
  if (s.finish_reason != "eos" && s.finish_reason != "stop" && s.finish_reason != "length") {
    return fmt::format("finish_reason: '{}'; expected eos, stop or length", excerpt(s.finish_reason));
  }
  if (!(s.score >= 0.0 && s.score <= 1.0)) return fmt::format("score: {}; expected a number in [0, 1]", s.score);
  return std::nullopt;
}

void validate_rollout(const RolloutSample& s, const RolloutLimits& limits) {
  if (auto problem = rollout_problem(s, limits)) throw Error(fmt::format("{}: {}", s.describe(), *problem));
}

nlohmann::json rollout_to_json(const RolloutSample& s) {
  nlohmann::ordered_json j;
  j["prompt_index"] = s.prompt_index;
  j["sample_index"] = s.sample_index;
  j["actor_id"] = s.actor_id;
  j["dataset"] = s.dataset;
  j["prompt_ids"] = s.prompt_ids;
  j["completion_ids"] = s.completion_ids;
  j["logprobs"] = s.logprobs;
  j["versions"] = s.versions;
  j["finish_reason"] = s.finish_reason;
  j["score"] = s.score;
  j["answer_found"] = s.answer_found;
  j["verifier_error"] = s.verifier_error;
  j["reason"] = s.reason;
  return nlohmann::json(j);
}

namespace {

const nlohmann::json& member(const nlohmann::json& j, const char* key, const char* expected) {
  auto it = j.find(key);
  RLVR_CHECK(it != j.end(), "field '{}' is missing; expected {}", key, expected);
  return *it;
}

int64_t get_int(const nlohmann::json& j, const char* key) {
  const auto& v = member(j, key, "an integer");
  RLVR_CHECK(v.is_number_integer(), "field '{}': expected an integer, got {}", key, excerpt(v.dump()));
  return v.get<int64_t>();
}

template <class T>
std::vector<T> get_numbers(const nlohmann::json& j, const char* key, bool integers) {
  const auto& v = member(j, key, "a list of numbers");
  RLVR_CHECK(v.is_array(), "field '{}': expected a list, got {}", key, v.type_name());
  std::vector<T> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const auto& e = v[i];
    if (integers) {
      RLVR_CHECK(e.is_number_integer(), "field '{}[{}]': expected an integer, got {}", key, i, excerpt(e.dump()));
      const int64_t x = e.get<int64_t>();
      RLVR_CHECK(x >= static_cast<int64_t>(std::numeric_limits<T>::lowest()) &&
                     x <= static_cast<int64_t>(std::numeric_limits<T>::max()),
                 "field '{}[{}]': {} is out of range", key, i, x);
      out.push_back(static_cast<T>(x));
    } else {
      RLVR_CHECK(e.is_number(), "field '{}[{}]': expected a number, got {}", key, i, excerpt(e.dump()));
      out.push_back(static_cast<T>(e.get<double>()));
    }
  }
  return out;
}

}  // namespace

RolloutSample rollout_from_json(const nlohmann::json& j) {
  RLVR_CHECK(j.is_object(), "expected a JSON object per rollout, got {}", j.type_name());
  RolloutSample s;
  s.prompt_index = get_int(j, "prompt_index");
  s.sample_index = get_int(j, "sample_index");
  s.actor_id = j.contains("actor_id") ? get_int(j, "actor_id") : 0;
  const auto& ds = member(j, "dataset", "the verifier name");
  RLVR_CHECK(ds.is_string(), "field 'dataset': expected a string, got {}", excerpt(ds.dump()));
  s.dataset = ds.get<std::string>();
  s.prompt_ids = get_numbers<int32_t>(j, "prompt_ids", true);
  s.completion_ids = get_numbers<int32_t>(j, "completion_ids", true);
  s.logprobs = get_numbers<float>(j, "logprobs", false);
  s.versions = get_numbers<int64_t>(j, "versions", true);
  const auto& fr = member(j, "finish_reason", "eos, stop or length");
  RLVR_CHECK(fr.is_string(), "field 'finish_reason': expected a string, got {}", excerpt(fr.dump()));
  s.finish_reason = fr.get<std::string>();
  const auto& score = member(j, "score", "a number in [0, 1]");
  RLVR_CHECK(score.is_number(), "field 'score': expected a number, got {}", excerpt(score.dump()));
  s.score = score.get<double>();
  for (auto [key, field] : {std::pair<const char*, bool*>{"answer_found", &s.answer_found},
                            std::pair<const char*, bool*>{"verifier_error", &s.verifier_error}}) {
    auto it = j.find(key);
    if (it == j.end()) continue;
    RLVR_CHECK(it->is_boolean(), "field '{}': expected true or false, got {}", key, excerpt(it->dump()));
    *field = it->get<bool>();
  }
  if (auto it = j.find("reason"); it != j.end() && it->is_string()) s.reason = it->get<std::string>();
  return s;
}

std::vector<RolloutSample> read_rollouts(const std::string& path) {
  std::vector<RolloutSample> out;
  read_jsonl(
      path, BadRowPolicy::kStop,
      [&](int64_t, const nlohmann::json& row) { out.push_back(rollout_from_json(row)); },
      "fix or remove the line: replay never trains on a partial record");
  return out;
}

}  // namespace rlvr::core
