// Fuzz target: the built-in 'ifeval' verifier (see fuzz/verifier_target.h for input and properties).
#include "fuzz/verifier_target.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rlvr::fuzz::quiet_logging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return rlvr::fuzz::verify_one("ifeval", data, size);
}
