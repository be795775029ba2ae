// CPU bf16 capability: cpuid + XGETBV, and a timed matmul (core/model/bf16_support.h).
#include "core/model/bf16_support.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <torch/torch.h>

namespace rlvr::core {

std::string CpuBf16::describe() const {
  if (!native()) return "none (bf16 is emulated)";
  if (amx_bf16 && avx512_bf16) return "AMX-BF16 + AVX512-BF16";
  return amx_bf16 ? "AMX-BF16" : "AVX512-BF16";
}

CpuBf16 detect_cpu_bf16() {
  CpuBf16 c;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, cx = 0, d = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return c;
  __cpuid(1, a, b, cx, d);
  const bool osxsave = (cx >> 27) & 1;
  if (osxsave) {
    uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    // XCR0 bits 1-2 (SSE, AVX) and 5-7 (opmask, ZMM_Hi256, Hi16_ZMM).
    c.os_avx512 = (lo & 0xE6u) == 0xE6u;
  }
  __cpuid_count(7, 0, a, b, cx, d);
  const unsigned max_sub = a;
  c.amx_bf16 = ((d >> 22) & 1) && ((d >> 24) & 1);
  if (max_sub >= 1) {
    __cpuid_count(7, 1, a, b, cx, d);
    c.avx512_bf16 = (a >> 5) & 1;
  }
#endif
  return c;
}

MatmulProbe probe_bf16_matmul(int m, int k, int n, int reps) {
  torch::NoGradGuard no_grad;
  auto gflops = [&](c10::ScalarType dtype) {
    at::Tensor x = torch::randn({m, k}).to(dtype), w = torch::randn({k, n}).to(dtype);
    at::Tensor y = torch::matmul(x, w);  // warm-up (oneDNN builds its kernel here)
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      y = torch::matmul(x, w);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return 2.0 * m * k * n / std::max(best, 1e-9) / 1e9;
  };
  MatmulProbe p;
  p.fp32_gflops = gflops(at::kFloat);
  p.bf16_gflops = gflops(at::kBFloat16);
  return p;
}

}  // namespace rlvr::core
