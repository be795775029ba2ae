#include "verifiers/reward.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/config/config.h"
#include "core/error.h"
#include "verifiers/external.h"
#include "verifiers/text.h"

namespace rlvr::verifiers {
namespace {

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

RewardScorer::RewardScorer(const core::VerifiersConfig& config, int num_threads)
    : verification_reward_(config.verification_reward) {
  RLVR_CHECK(config.max_input_bytes >= 1, "verifiers.max_input_bytes: {} (expected >= 1)",
             config.max_input_bytes);
  options_.max_input_bytes = static_cast<size_t>(config.max_input_bytes);
  register_external_verifiers(config);
  for (const auto& name : verifier_names()) {
    auto v = make_verifier(name, options_);
    if (auto* ext = dynamic_cast<ExternalVerifier*>(v.get())) ext->start();
    verifiers_.emplace(name, std::move(v));
  }
  pool_ = std::make_unique<ThreadPool>(num_threads);
}

RewardScorer::~RewardScorer() = default;

const Verifier* RewardScorer::find(std::string_view dataset) const {
  std::string name(dataset);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt == 1) {
      std::string lower = lowercase(name);
      if (lower == name) break;
      name = lower;
    }
    auto it = verifiers_.find(name);
    if (it != verifiers_.end()) return it->second.get();
    std::lock_guard<std::mutex> lock(late_mu_);
    auto lt = late_.find(name);
    if (lt != late_.end()) return lt->second.get();
    auto names = verifier_names();
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      try {
        auto v = make_verifier(name, options_);
        const Verifier* p = v.get();
        late_.emplace(name, std::move(v));
        return p;
      } catch (const std::exception&) {
        return nullptr;
      }
    }
  }
  return nullptr;
}

bool RewardScorer::has_verifier(std::string_view dataset) const { return find(dataset) != nullptr; }

Reward RewardScorer::score(std::string_view dataset, const VerifyInput& input) const {
  Reward out;
  const Verifier* v = find(dataset);
  if (v == nullptr) {
    out.known_dataset = false;
    out.reason = fmt::format("unknown dataset '{}' (known verifiers: {})", dataset,
                             fmt::join(verifier_names(), ", "));
    return out;
  }
  VerifyResult r;
  try {
    // The one place list ground truths are unwrapped, so every verifier sees `["5"]` as `5`.
    std::string truth = unwrap_ground_truth(input.ground_truth);
    if (truth.size() == input.ground_truth.size() && truth == input.ground_truth) {
      r = v->verify(input);
    } else {
      VerifyInput unwrapped{input.prompt, input.response, std::move(truth)};
      r = v->verify(unwrapped);
    }
  } catch (const std::exception& e) {
    // A verifier must not throw; a third-party one that does scores 0 instead of killing the run.
    r = VerifyResult{};
    r.reason = std::string("verifier error: ") + e.what();
    r.error = true;
  }
  if (!std::isfinite(r.score)) {
    // std::clamp passes NaN through; a non-finite score is a broken verifier, not a reward.
    r.reason = fmt::format("verifier returned a non-finite score ({}); scored 0{}{}", r.score,
                           r.reason.empty() ? "" : ": ", r.reason);
    r.score = 0.0;
    r.error = true;
  }
  out.score = std::clamp(r.score, 0.0, 1.0);
  out.reward = out.score * verification_reward_;
  out.answer_found = r.answer_found;
  out.error = r.error;
  out.reason = std::move(r.reason);
  return out;
}

std::vector<Reward> RewardScorer::score_batch(const std::vector<RewardRequest>& requests) const {
  std::vector<Reward> out(requests.size());
  pool_->parallel_for(requests.size(), [&](size_t i) {
    out[i] = score(requests[i].dataset, requests[i].input);
  });
  return out;
}

std::future<std::vector<Reward>> RewardScorer::score_batch_async(
    std::vector<RewardRequest> requests) const {
  return std::async(std::launch::async, [this, reqs = std::move(requests)] {
    return score_batch(reqs);
  });
}

}  // namespace rlvr::verifiers
