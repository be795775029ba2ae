// Tensor kernels of the model's hot paths.
//
// linear(): y = x W^T + b. For small batches on the CPU in float32 without autograd (the
// per-token decode step, where x has only a few rows), OpenBLAS's sgemm reaches ~10 GB/s of
// weight traffic; a kernel that streams each weight row once and dots it with every input row
// runs near memory bandwidth instead (see docs/MODEL.md). Everything else goes to at::linear.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace rlvr::core::detail {

// The largest number of input rows (product of x's leading dimensions) the streaming kernel
// takes; larger inputs use BLAS.
constexpr int64_t kStreamingLinearMaxRows = 16;

// y = x W^T + b (b may be undefined). x: [..., K], w: [N, K], b: [N]. Same contract as
// at::linear; the streaming kernel is used when enabled, x is a CPU float32 tensor with at most
// kStreamingLinearMaxRows rows, w is contiguous, and no gradient is being recorded.
at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b);

// Turns the streaming kernel on or off process-wide (default on); used by tests and the
// benchmark to compare against BLAS. Thread-safe (an atomic flag).
void set_streaming_linear_enabled(bool enabled);
bool streaming_linear_enabled();

// Turns KVCache::select_rows' in-place path for dropped rows on or off process-wide (default on;
// off: every selection gathers into new tensors, the old behaviour); for the benchmark's
// baseline. Thread-safe (an atomic flag).
void set_in_place_row_drop_enabled(bool enabled);
bool in_place_row_drop_enabled();

// Whether this CPU has AVX2 and FMA (for kernels compiled with target("avx2,fma"), chosen at
// run time; also learner/optimizer.cpp's AdamW). False on other architectures.
bool cpu_has_avx2_fma();

}  // namespace rlvr::core::detail
