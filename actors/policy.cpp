// Policy loading (see policy.h).
#include "actors/policy.h"

#include <torch/torch.h>

#include "core/error.h"
#include "core/model/checkpoint.h"
#include "core/model/transformer.h"

namespace rlvr::actors {

LoadedPolicy load_policy(const std::string& dir, const std::string& device, const std::string& dtype) {
  c10::Device dev(c10::kCPU);
  try {
    dev = c10::Device(device);
  } catch (const c10::Error&) {
    throw Error(fmt::format("unknown device '{}'; expected cpu, cuda or cuda:N", device));
  }
  RLVR_CHECK(!dev.is_cuda() || torch::cuda::is_available(),
             "device '{}' requested but this LibTorch build has no usable CUDA device", device);
  const c10::ScalarType type = core::dtype_from_name(dtype, "dtype");
  LoadedPolicy out;
  try {
    core::CausalLM lm = core::load_causal_lm(dir, dev, type);
    lm->eval();
    out.config = lm->config();
    out.model = lm.ptr();
  } catch (const c10::Error& e) {
    throw Error(fmt::format("{}: cannot load the model: {}", dir, e.what_without_backtrace()));
  }
  return out;
}

}  // namespace rlvr::actors
