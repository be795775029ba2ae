// Device, mixed precision, threads and seeding of a training run (shared by every mode).
//
// Master weights and optimizer state are always float32. run.dtype = bfloat16/float16 on a
// CUDA device turns on autocast (matmuls in the low-precision dtype, reductions and the loss
// in float32), as torch.autocast does; on the CPU the run computes in float32 and says so
// once in the log (CPU autocast is slower than float32 on these machines).
#pragma once

#include <cstdint>
#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "core/config/config.h"

namespace rlvr::learner {

struct Precision {
  c10::Device device = c10::kCPU;
  bool autocast = false;                       // autocast on `device`
  c10::ScalarType autocast_dtype = c10::kFloat;
  std::string describe() const;                // "cpu float32", "cuda bfloat16 autocast"
};

// Picks the device and precision for `run`. Throws rlvr::Error (naming run.device) when cuda is
// requested but LibTorch has no CUDA device.
Precision resolve_precision(const core::RunConfig& run);

// Seeds torch's default generators (CPU and, when present, CUDA) and sets the intra-op thread
// count (0 = every core, std::thread::hardware_concurrency()).
void seed_and_threads(int64_t seed, int64_t threads);

// Enables autocast for its lifetime when `precision.autocast`; a no-op otherwise. Not copyable.
class AutocastGuard {
 public:
  explicit AutocastGuard(const Precision& precision);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool prev_enabled_ = false;
  c10::ScalarType prev_dtype_ = c10::kFloat;
};

}  // namespace rlvr::learner
