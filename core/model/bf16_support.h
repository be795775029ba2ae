// Does this CPU compute bfloat16 fast? cpuid for the instructions (AVX512-BF16, AMX-BF16) and a
// short matmul probe that measures it (issue 17: run.dtype auto picks bf16 only where it pays).
//
// Without AVX512-BF16 or AMX, oneDNN and LibTorch emulate bf16 matmuls with fp32 arithmetic plus
// conversions, which is slower than fp32; with them, a bf16 matmul runs at 2-4x fp32.
// Thread-safety: the functions are reentrant.
#pragma once

#include <string>

namespace rlvr::core {

struct CpuBf16 {
  bool avx512_bf16 = false;  // cpuid leaf 7 subleaf 1, EAX bit 5
  bool amx_bf16 = false;     // cpuid leaf 7 subleaf 0, EDX bits 22 (AMX-BF16) and 24 (AMX-TILE)
  bool os_avx512 = false;    // XCR0 enables the opmask and ZMM state (the OS saves AVX-512 registers)
  // An instruction set that computes bf16 natively, usable under this OS.
  bool native() const { return os_avx512 && (avx512_bf16 || amx_bf16); }
  // "AMX-BF16 + AVX512-BF16", "AVX512-BF16", or "none (bf16 is emulated)".
  std::string describe() const;
};

// The CPU's bf16 instructions (all false on other architectures).
CpuBf16 detect_cpu_bf16();

// GFLOP/s of a [m x k] x [k x n] matmul in float32 and in bfloat16 on this CPU with the current
// intra-op threads: the best of `reps` timed runs after one warm-up each.
struct MatmulProbe {
  double fp32_gflops = 0;
  double bf16_gflops = 0;
  double ratio() const { return fp32_gflops > 0 ? bf16_gflops / fp32_gflops : 0; }
};
MatmulProbe probe_bf16_matmul(int m = 512, int k = 512, int n = 1408, int reps = 5);

}  // namespace rlvr::core
