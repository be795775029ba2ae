#include "learner/precision.h"

#include <algorithm>
#include <cstdlib>
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

CpuPrecisionChoice choose_cpu_precision(bool native, const std::function<core::MatmulProbe()>& probe,
                                        const std::string& forced) {
  if (forced == "on" || forced == "1") return {true, "RLVR_CPU_BF16=" + forced + " (detection and probe skipped)"};
  if (forced == "off" || forced == "0") return {false, "RLVR_CPU_BF16=" + forced};
  RLVR_CHECK(forced.empty(), "environment variable RLVR_CPU_BF16='{}': expected on, off, 1 or 0 (or unset)", forced);
  if (!native) return {false, "this CPU has no AVX512-BF16 or AMX-BF16: bf16 would be emulated, slower than float32"};
  const core::MatmulProbe p = probe();
  const std::string figures = fmt::format("matmul probe: bf16 {:.0f} GFLOP/s, float32 {:.0f} GFLOP/s ({:.2f}x)",
                                          p.bf16_gflops, p.fp32_gflops, p.ratio());
  if (p.ratio() >= 1.2) return {true, figures};
  return {false, figures + ", below the 1.2x that bf16 must gain"};
}

Precision resolve_precision(const core::RunConfig& run) {
  Precision p;
  if (run.device == "cuda") {
    RLVR_CHECK(torch::cuda::is_available(),
               "run.device: cuda requested but LibTorch reports no CUDA device; expected a CUDA build of "
               "LibTorch on a machine with a GPU (or run.device: cpu)");
    p.device = c10::Device(c10::kCUDA, 0);
  }
  if (run.dtype == "float32") {
    p.why = "run.dtype float32";
  } else if (p.device.is_cuda()) {
    p.autocast = true;
    p.autocast_dtype = run.dtype == "float16" ? c10::kHalf : c10::kBFloat16;
    p.why = run.dtype == "auto" ? "run.dtype auto on cuda" : "run.dtype " + run.dtype;
  } else if (run.dtype == "float16") {
    p.why = "run.dtype float16 on the CPU: float32 (CPU autocast computes in bfloat16 only)";
    RLVR_LOG_WARN("{}", p.why);
  } else if (run.dtype == "bfloat16") {
    p.autocast = true;
    p.autocast_dtype = c10::kBFloat16;
    p.why = "run.dtype bfloat16";
  } else {  // auto on the CPU
    const char* env = std::getenv("RLVR_CPU_BF16");
    const core::CpuBf16 caps = core::detect_cpu_bf16();
    CpuPrecisionChoice c =
        choose_cpu_precision(caps.native(), [] { return core::probe_bf16_matmul(); }, env ? env : "");
    const bool forced = env != nullptr && *env != '\0';
    // Held back: on the one AVX512-BF16 machine measured (AMD EPYC Zen 4, 2026-12-01) the matmul
    // probe finds bf16 7-12x faster, but a `small` SFT step under bf16 autocast ran at 0.77-1.30x
    // of float32's from one run to the next (bench_sft --dtypes, docs/BENCHMARKS.md "SFT"): the
    // probe does not predict the step, so auto keeps float32 on the CPU unless RLVR_CPU_BF16=on.
    p.autocast = c.bf16 && forced;
    if (p.autocast) p.autocast_dtype = c10::kBFloat16;
    p.why = fmt::format("run.dtype auto, CPU bf16 instructions: {}; {}{}", caps.describe(), c.why,
                        c.bf16 && !forced ? "; CPU bf16 autocast is held back (a bf16 training step measured 0.77-1.30x "
                                            "of float32 where the matmul probe found bf16 7-12x faster), so "
                                            "float32"
                                          : "");
  }
  RLVR_LOG_INFO("precision: {} ({})", p.describe(), p.why);
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
  cpu_ = !precision.device.is_cuda();
  if (cpu_) {
    prev_enabled_ = at::autocast::is_cpu_enabled();
    prev_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_autocast_cpu_dtype(precision.autocast_dtype);
    at::autocast::set_cpu_enabled(true);
  } else {
    prev_enabled_ = at::autocast::is_enabled();
    prev_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(precision.autocast_dtype);
    at::autocast::set_enabled(true);
  }
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (cpu_) {
    at::autocast::set_cpu_enabled(prev_enabled_);
    at::autocast::set_autocast_cpu_dtype(prev_dtype_);
  } else {
    at::autocast::set_enabled(prev_enabled_);
    at::autocast::set_autocast_gpu_dtype(prev_dtype_);
  }
}

}  // namespace rlvr::learner
