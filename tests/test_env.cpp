// Linked into every test binary: the environment every test starts from, unless the caller set
// it. RLVR_CPU_BF16=off keeps run.dtype auto at float32 (learner/precision.h), so that tests
// comparing numbers against float32 references, or one run against another, do not depend on
// whether the CI machine has fast bf16 (or on a probe near its threshold). Tests of the bf16
// choice set the variable themselves; the rlvr processes a test starts inherit it.
#include <cstdlib>

namespace {

const bool kTestEnvironment = [] {
  ::setenv("RLVR_CPU_BF16", "off", /*overwrite=*/0);
  return true;
}();

}  // namespace
