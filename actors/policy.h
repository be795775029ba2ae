// Loading a policy checkpoint for sampling without making callers parse LibTorch headers
// (STYLE 19): tools and the actor loop get an opaque shared model handle.
#pragma once

#include <memory>
#include <string>

#include "core/model/model_config.h"

namespace rlvr::core {
struct CausalLMImpl;
}

namespace rlvr::actors {

struct LoadedPolicy {
  std::shared_ptr<core::CausalLMImpl> model;  // in eval mode
  core::TransformerConfig config;
};

// Loads the Hugging Face checkpoint in `dir` on `device` ("cpu", "cuda", "cuda:1") with compute
// dtype `dtype` ("float32", "bfloat16", "float16"). Throws rlvr::Error naming the directory,
// file or value on failure.
LoadedPolicy load_policy(const std::string& dir, const std::string& device = "cpu",
                         const std::string& dtype = "float32");

}  // namespace rlvr::actors
