// Rollout records: what an actor produced for one sample, as the learner trains on it. Torch-free,
// because the wire protocol (actors -> learner) and the learner's rollouts.jsonl both carry them.
//
// One record = the prompt's token ids, the completion's token ids, the behaviour log-prob and the
// policy version of every completion token, how the sample ended, the verifier's verdict, the
// data set, the group (prompt index + sample index) and the actor. docs/RL.md documents the JSONL
// form ("rollouts.jsonl"):
//
//   {"prompt_index": 12, "sample_index": 3, "actor_id": 0, "dataset": "gsm8k",
//    "prompt_ids": [...], "completion_ids": [...], "logprobs": [...], "versions": [7],
//    "finish_reason": "eos", "score": 1.0, "answer_found": true, "verifier_error": false,
//    "reason": "correct"}
//
// `versions` holds one value (every token came from that policy version) or one per completion
// token (weights changed while the sample was being generated). Writers may add fields (the
// learner adds "step", "reward", "advantage"); readers ignore fields they do not know.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace rlvr::core {

// One sample. Plain value type.
struct RolloutSample {
  int64_t prompt_index = 0;  // the prompt (its group): samples of one prompt share it
  int64_t sample_index = 0;  // the sample within its group
  int64_t actor_id = 0;      // the actor that generated it
  std::string dataset;       // verifier name of the prompt row
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> completion_ids;
  std::vector<float> logprobs;    // behaviour log-prob of each completion token
  std::vector<int64_t> versions;  // policy version: one value, or one per completion token
  std::string finish_reason;      // "eos" | "stop" | "length"
  double score = 0;               // verifier score in [0, 1]
  bool answer_found = false;
  bool verifier_error = false;    // the verifier could not score it (score is 0 and meaningless)
  std::string reason;             // the verifier's explanation

  // The version that produced completion token `t`. REQUIRES: validated.
  int64_t version_of(size_t t) const { return versions.size() == 1 ? versions[0] : versions[t]; }
  // The oldest version among the tokens (staleness is measured from it). REQUIRES: validated.
  int64_t min_version() const;
  // "prompt 12 sample 3 (actor 0)" for messages.
  std::string describe() const;
};

// What a record must fit: the model's vocabulary and context, and the learner's version.
struct RolloutLimits {
  int64_t vocab_size = 0;               // token ids must be in [0, vocab_size)
  int64_t max_positions = 0;            // prompt + completion tokens must be <= this
  int64_t max_version = INT64_MAX;      // no token may come from a version the learner never had
  int64_t max_completion_tokens = 0;    // 0: no bound beyond max_positions
};

// The first problem of `s` as "<field>: <what is wrong>; expected <what>", or nullopt when the
// record is consistent and fits `limits`: non-empty prompt and completion, ids in range, one
// log-prob per completion token (finite, <= 1e-3), versions one or per token and in
// [0, max_version], known finish_reason, score in [0, 1], non-negative indices.
std::optional<std::string> rollout_problem(const RolloutSample& s, const RolloutLimits& limits);

// Throws rlvr::Error "<sample>: <problem>" (see rollout_problem).
void validate_rollout(const RolloutSample& s, const RolloutLimits& limits);

// The JSONL form. rollout_from_json throws rlvr::Error naming the field for a missing field or a
// value of the wrong type (it does not check limits: call validate_rollout).
nlohmann::json rollout_to_json(const RolloutSample& s);
RolloutSample rollout_from_json(const nlohmann::json& j);

// Reads a rollouts.jsonl file. A bad line is an error "<path>:<line>: ..." (no row is silently
// dropped). Throws rlvr::Error when the file cannot be read.
std::vector<RolloutSample> read_rollouts(const std::string& path);

}  // namespace rlvr::core
