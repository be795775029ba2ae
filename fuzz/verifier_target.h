// The body of the verifier fuzz targets (fuzz/verifier_<name>.cpp): one built-in verifier's
// verify() on a completion and a ground truth (verifiers/verifier.h).
//
// Input: the ground truth up to the first '\n', the completion after it (the corpora hold real
// rows of the verifier tests in this form). The verifier is called with the ground truth as given
// and, as RewardScorer::score does, after unwrap_ground_truth. Properties (the Verifier
// contract): verify() never throws (an escaping exception is a crash here), the score is finite
// and in [0, 1], and an error scores 0.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz/fuzz_util.h"
#include "verifiers/text.h"
#include "verifiers/verifier.h"

namespace rlvr::fuzz {

inline void check_verify_result(const verifiers::VerifyResult& r) {
  RLVR_FUZZ_EXPECT(std::isfinite(r.score) && r.score >= 0.0 && r.score <= 1.0,
                   "score " + std::to_string(r.score) + " outside [0, 1]");
  RLVR_FUZZ_EXPECT(!r.error || r.score == 0.0, "an error with a non-zero score");
}

inline int verify_one(const char* name, const uint8_t* data, size_t size) {
  // Small bound, so the bounded-input paths are reached with fuzzer-sized inputs too.
  static const std::unique_ptr<verifiers::Verifier> bounded = [name] {
    verifiers::VerifierOptions o;
    o.max_input_bytes = 512;
    return verifiers::make_verifier(name, o);
  }();
  static const std::unique_ptr<verifiers::Verifier> verifier = verifiers::make_verifier(name);
  const std::string_view bytes = as_view(data, size);
  const size_t nl = bytes.find('\n');
  verifiers::VerifyInput input;
  input.ground_truth = std::string(bytes.substr(0, nl));
  input.response = nl == std::string_view::npos ? std::string() : std::string(bytes.substr(nl + 1));
  check_verify_result(verifier->verify(input));
  check_verify_result(bounded->verify(input));
  std::string unwrapped = verifiers::unwrap_ground_truth(input.ground_truth);
  if (unwrapped != input.ground_truth) {
    input.ground_truth = std::move(unwrapped);
    check_verify_result(verifier->verify(input));
  }
  return 0;
}

}  // namespace rlvr::fuzz
