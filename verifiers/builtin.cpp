// The list of built-in verifiers. Add a built-in here (one line) so the linker keeps it.
#include "verifiers/gsm8k.h"
#include "verifiers/ifeval.h"
#include "verifiers/ifeval_old.h"
#include "verifiers/math.h"
#include "verifiers/verifier.h"

namespace rlvr::verifiers::detail {
namespace {

template <class T>
VerifierFactory factory() {
  return [](const VerifierOptions& o) { return std::unique_ptr<Verifier>(new T(o)); };
}

}  // namespace

std::vector<std::pair<std::string, VerifierFactory>> builtin_verifiers() {
  return {
      {"gsm8k", factory<Gsm8kVerifier>()},
      {"math", factory<MathVerifier>()},
      {"ifeval", factory<IfevalVerifier>()},
      {"ifeval_old", factory<IfevalOldVerifier>()},
  };
}

}  // namespace rlvr::verifiers::detail
