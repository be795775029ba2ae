// Device, mixed precision, threads and seeding of a training run (shared by every mode).
//
// Master weights and optimizer state are always float32. run.dtype bfloat16/float16 turns on
// autocast (matmuls in the low-precision dtype, reductions and the loss in float32), as
// torch.autocast does: on cuda either dtype, on the CPU bfloat16 (float16 falls back to float32
// with a warning). run.dtype auto (the default) picks bfloat16 on cuda, and on the CPU only where
// it pays: the CPU has native bf16 (AMX-BF16 or AVX512-BF16, core/model/bf16_support.h) and a
// short matmul probe finds bf16 at least 1.2x faster than float32; elsewhere float32 (on CPUs
// without those instructions bf16 is emulated and slower). The choice and the probe's figures
// are logged. RLVR_CPU_BF16=on|off overrides the detection (on skips the probe).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "core/config/config.h"
#include "core/model/bf16_support.h"

namespace rlvr::learner {

struct Precision {
  c10::Device device = c10::kCPU;
  bool autocast = false;                       // autocast on `device`
  c10::ScalarType autocast_dtype = c10::kFloat;
  std::string why;                             // how run.dtype led here (for the log)
  std::string describe() const;                // "cpu float32", "cuda bfloat16 autocast"
};

// What run.dtype auto picks on the CPU. `native`: the CPU has native bf16 instructions; `probe`
// measures (called only when needed); `forced`: the value of RLVR_CPU_BF16 ("" when unset; on/1
// and off/0 accepted, anything else throws rlvr::Error naming the variable).
struct CpuPrecisionChoice {
  bool bf16 = false;
  std::string why;
};
CpuPrecisionChoice choose_cpu_precision(bool native, const std::function<core::MatmulProbe()>& probe,
                                        const std::string& forced);

// Picks the device and precision for `run` (see the file comment) and logs the choice. Throws
// rlvr::Error (naming run.device) when cuda is requested but LibTorch has no CUDA device.
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
  bool cpu_ = false;
  bool prev_enabled_ = false;
  c10::ScalarType prev_dtype_ = c10::kFloat;
};

}  // namespace rlvr::learner
