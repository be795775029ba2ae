#include "learner/precision.h"

#include <algorithm>
#include <thread>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "core/error.h"
#include "core/log.h"

namespace rlvr::learner {

std::string Precision::describe() const {
  std::string dev = device.is_cuda() ? "cuda" : "cpu";
  if (!autocast) return dev + " float32";
  return dev + " " + std::string(c10::toString(autocast_dtype)) + " autocast";
}

Precision resolve_precision(const core::RunConfig& run) {
  Precision p;
  if (run.device == "cuda") {
    RLVR_CHECK(torch::cuda::is_available(),
               "run.device: cuda requested but LibTorch reports no CUDA device; expected a CUDA build of "
               "LibTorch on a machine with a GPU (or run.device: cpu)");
    p.device = c10::Device(c10::kCUDA, 0);
  }
  if (run.dtype != "float32") {
    if (p.device.is_cuda()) {
      p.autocast = true;
      p.autocast_dtype = run.dtype == "bfloat16" ? c10::kBFloat16 : c10::kHalf;
    } else {
      RLVR_LOG_WARN("run.dtype {} on the CPU: computing in float32 (autocast is only used on cuda)", run.dtype);
    }
  }
  return p;
}

void seed_and_threads(int64_t seed, int64_t threads) {
  torch::manual_seed(static_cast<uint64_t>(seed));
  // run.threads 0 means every core. LibTorch's own default can be 1 (omp_get_max_threads()
  // reports 1 on some VMs even with 2 cores), so set it explicitly either way.
  int n = threads > 0 ? static_cast<int>(threads)
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
}

AutocastGuard::AutocastGuard(const Precision& precision) {
  if (!precision.autocast) return;
  active_ = true;
  prev_enabled_ = at::autocast::is_enabled();
  prev_dtype_ = at::autocast::get_autocast_gpu_dtype();
  at::autocast::set_autocast_gpu_dtype(precision.autocast_dtype);
  at::autocast::set_enabled(true);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_enabled(prev_enabled_);
  at::autocast::set_autocast_gpu_dtype(prev_dtype_);
}

}  // namespace rlvr::learner
