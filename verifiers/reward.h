// Rewards: dispatch by the data row's `dataset` field to a verifier, reward = score x
// verification_reward, and batch scoring on a thread pool. Used by `rlvr verify`, `rlvr eval`
// and the RL actors. No LibTorch.
#pragma once

#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "verifiers/thread_pool.h"
#include "verifiers/verifier.h"

namespace rlvr::core {
struct VerifiersConfig;
}

namespace rlvr::verifiers {

// One completion to score.
struct RewardRequest {
  std::string dataset;  // verifier name (open-instruct convention: "gsm8k", "math", "ifeval", ...)
  VerifyInput input;
};

struct Reward {
  double score = 0.0;        // in [0, 1]
  double reward = 0.0;       // score x verification_reward
  bool answer_found = false;
  bool known_dataset = true; // false when no verifier is registered under the dataset name
  bool error = false;        // the verifier could not score (VerifyResult::error); score is 0
  std::string reason;
};

// Thread-safe: score() and score_batch() may be called concurrently. Not copyable.
class RewardScorer {
 public:
  // Registers `config.external` verifiers, creates one instance of every registered verifier
  // (external ones start their processes) and a pool of `num_threads` threads (0 = all cores).
  // Throws rlvr::Error for a bad external entry or an external command that cannot start.
  explicit RewardScorer(const core::VerifiersConfig& config, int num_threads = 0);
  ~RewardScorer();
  RewardScorer(const RewardScorer&) = delete;
  RewardScorer& operator=(const RewardScorer&) = delete;

  // Scores one completion on the calling thread. The dataset name is looked up as given, then
  // lowercased ("MATH" -> "math"). A one-element list ground truth is unwrapped first
  // (unwrap_ground_truth in verifiers/text.h: `["5"]` -> `5`), for every verifier. An unknown
  // name is not an exception: score 0, known_dataset = false and a reason listing the known
  // names. A verifier that throws or returns a non-finite score gives score 0 and error = true.
  // Never throws.
  Reward score(std::string_view dataset, const VerifyInput& input) const;

  // Scores every request on the pool (and the calling thread); result i belongs to request i.
  std::vector<Reward> score_batch(const std::vector<RewardRequest>& requests) const;

  // score_batch on a background thread, so generation can continue meanwhile. The scorer must
  // outlive the future.
  std::future<std::vector<Reward>> score_batch_async(std::vector<RewardRequest> requests) const;

  // True when `dataset` (as given or lowercased) names a registered verifier.
  bool has_verifier(std::string_view dataset) const;

  double verification_reward() const { return verification_reward_; }
  int num_threads() const { return pool_->size(); }

 private:
  const Verifier* find(std::string_view dataset) const;

  double verification_reward_;
  VerifierOptions options_;
  std::unordered_map<std::string, std::unique_ptr<Verifier>> verifiers_;  // fixed after ctor
  mutable std::mutex late_mu_;  // verifiers registered after construction
  mutable std::unordered_map<std::string, std::unique_ptr<Verifier>> late_;
  std::unique_ptr<ThreadPool> pool_;
};

}  // namespace rlvr::verifiers
