// The Verifier interface and the registry that maps a data row's `dataset` field to one.
//
// A verifier scores a completion against a ground truth. Expected outcomes (no answer found,
// wrong answer, malformed ground truth) are values: score 0 and a reason, never an exception
// (STYLE 12). Verifiers are stateless or internally synchronised: verify() may be called from
// many threads at once. No LibTorch here.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace rlvr::verifiers {

// What a verifier sees. The strings are not owned by the verifier and must outlive the call.
struct VerifyInput {
  std::string prompt;        // the rendered prompt text (may be empty)
  std::string response;      // the completion text
  std::string ground_truth;  // ground truth as a string; JSON ground truths stay JSON text
};

// Three outcomes are distinct: correct or wrong (answer_found, score), a format failure
// (answer_found = false: no answer could be extracted), and an error (error = true: the response
// could not be scored at all). `error` is last so that `{score, answer_found, reason}` still
// initialises the first three.
struct VerifyResult {
  double score = 0.0;        // in [0, 1]
  bool answer_found = false; // false when no candidate answer could be extracted
  std::string reason;        // short, human readable: "correct", "no \\boxed{} answer", ...
  // True when the verifier could not score the response at all (an external process timed out,
  // crashed or replied badly; the input exceeded the bound the verifier checks it under; a
  // non-finite score). Not a wrong answer and not a format failure: callers count it
  // separately. score is 0.
  bool error = false;
};

// Options every verifier honours.
struct VerifierOptions {
  // The input bound (verifiers.max_input_bytes), a defence against pathological input that
  // must never turn a right answer into a wrong reward. Each verifier keeps what it needs:
  // gsm8k and math read the last max_input_bytes of the response after <think> removal (the
  // final answer is at the end); ifeval, ifeval_old and external verifiers need the whole text
  // and score a longer input 0 with error = true instead of checking a prefix.
  size_t max_input_bytes = size_t{4} << 20;  // 4 MiB
};

// A reward function. Implementations must be thread-safe, linear (or close) in the input
// size, and must never crash or hang on any text.
class Verifier {
 public:
  virtual ~Verifier() = default;
  // REQUIRES: nothing; any bytes are valid input. Never throws for bad text.
  virtual VerifyResult verify(const VerifyInput& input) const = 0;
};

// Creates a verifier from options.
using VerifierFactory = std::function<std::unique_ptr<Verifier>(const VerifierOptions&)>;

// Name -> factory. Built-ins come from detail::builtin_verifiers(); user code registers with
// RLVR_REGISTER_VERIFIER (in an executable's own sources) or register_verifier at any time.
// Thread-safe.
void register_verifier(const std::string& name, VerifierFactory factory);

// Creates the verifier named `name`; throws rlvr::Error listing the known names when absent.
std::unique_ptr<Verifier> make_verifier(const std::string& name, const VerifierOptions& options = {});

// Registered names, sorted.
std::vector<std::string> verifier_names();

namespace detail {
// The built-in verifiers (gsm8k, math, ifeval, ...), listed in verifiers/builtin.cpp.
std::vector<std::pair<std::string, VerifierFactory>> builtin_verifiers();
}  // namespace detail

// Self-registration for verifiers compiled into an executable or test (not into a static
// library, whose unreferenced objects the linker drops; built-ins use detail::builtin_verifiers).
struct VerifierRegistrar {
  VerifierRegistrar(const std::string& name, VerifierFactory factory) {
    register_verifier(name, std::move(factory));
  }
};

}  // namespace rlvr::verifiers

#define RLVR_VERIFIER_CONCAT_INNER(a, b) a##b
#define RLVR_VERIFIER_CONCAT(a, b) RLVR_VERIFIER_CONCAT_INNER(a, b)
// Registers `Class` (constructible from const VerifierOptions&) under `name`:
//   RLVR_REGISTER_VERIFIER("gsm8k", Gsm8kVerifier);
#define RLVR_REGISTER_VERIFIER(name, Class)                                            \
  static ::rlvr::verifiers::VerifierRegistrar RLVR_VERIFIER_CONCAT(rlvr_verifier_, __LINE__)( \
      name, [](const ::rlvr::verifiers::VerifierOptions& o) {                           \
        return std::unique_ptr<::rlvr::verifiers::Verifier>(new Class(o));              \
      })
