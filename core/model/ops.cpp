// The weight-streaming small-batch linear kernel (AVX2/FMA with a portable fallback).
#include "core/model/ops.h"

#include <immintrin.h>

#include <atomic>

#include <ATen/Parallel.h>
#include <torch/torch.h>

namespace rlvr::core::detail {
namespace {

std::atomic<bool> g_streaming_enabled{true};

// y[m, n0:n1] for all m < M: rows of w are read once per block of up to 4 input rows.
void gemm_rows_portable(const float* x, int64_t M, int64_t K, const float* w, const float* b,
                        float* y, int64_t N, int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; ++n) {
    const float* wr = w + n * K;
    for (int64_t m = 0; m < M; ++m) {
      const float* xr = x + m * K;
      float acc = 0.f;
      for (int64_t k = 0; k < K; ++k) acc += xr[k] * wr[k];
      y[m * N + n] = acc + (b ? b[n] : 0.f);
    }
  }
}

__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 sh = _mm_movehdup_ps(lo);
  __m128 s = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, s);
  s = _mm_add_ss(s, sh);
  return _mm_cvtss_f32(s);
}

// One weight row x MB input rows per inner loop (MB accumulators). One weight stream at a time
// measured faster than two or four interleaved rows here (10.3 vs 7.7 GB/s for MB=4 over the
// `small` model's weights; see docs/MODEL.md).
template <int MB>
__attribute__((target("avx2,fma"))) void rows_avx2(const float* x, int64_t K, const float* w,
                                                    const float* b, float* y, int64_t N, int64_t n0,
                                                    int64_t n1) {
  for (int64_t n = n0; n < n1; ++n) {
    const float* wr = w + n * K;
    __m256 acc[MB];
    for (int j = 0; j < MB; ++j) acc[j] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
      __m256 wv = _mm256_loadu_ps(wr + k);
      for (int j = 0; j < MB; ++j) acc[j] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + j * K + k), acc[j]);
    }
    for (int j = 0; j < MB; ++j) {
      float s = hsum(acc[j]);
      for (int64_t t = k; t < K; ++t) s += wr[t] * x[j * K + t];
      y[j * N + n] = s + (b ? b[n] : 0.f);
    }
  }
}

__attribute__((target("avx2,fma"))) void gemm_rows_avx2(const float* x, int64_t M, int64_t K,
                                                         const float* w, const float* b, float* y,
                                                         int64_t N, int64_t n0, int64_t n1) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4) rows_avx2<4>(x + m * K, K, w, b, y + m * N, N, n0, n1);
  switch (M - m) {
    case 3: rows_avx2<3>(x + m * K, K, w, b, y + m * N, N, n0, n1); break;
    case 2: rows_avx2<2>(x + m * K, K, w, b, y + m * N, N, n0, n1); break;
    case 1: rows_avx2<1>(x + m * K, K, w, b, y + m * N, N, n0, n1); break;
    default: break;
  }
}

}  // namespace

bool cpu_has_avx2_fma() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
#else
  return false;
#endif
}

void set_streaming_linear_enabled(bool enabled) { g_streaming_enabled.store(enabled); }
bool streaming_linear_enabled() { return g_streaming_enabled.load(); }

namespace {
std::atomic<bool> g_in_place_row_drop{true};
}  // namespace

void set_in_place_row_drop_enabled(bool enabled) { g_in_place_row_drop.store(enabled); }
bool in_place_row_drop_enabled() { return g_in_place_row_drop.load(); }

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  const int64_t K = x.size(-1);
  const int64_t M = K > 0 ? x.numel() / K : 0;
  const bool grad = at::GradMode::is_enabled() &&
                    (x.requires_grad() || w.requires_grad() || (b.defined() && b.requires_grad()));
  if (!g_streaming_enabled.load(std::memory_order_relaxed) || grad || M == 0 || M > kStreamingLinearMaxRows ||
      !x.device().is_cpu() || x.scalar_type() != at::kFloat || w.scalar_type() != at::kFloat ||
      !w.is_contiguous() || w.dim() != 2 || w.size(1) != K ||
      (b.defined() && (b.scalar_type() != at::kFloat || !b.is_contiguous() || b.numel() != w.size(0)))) {
    return at::linear(x, w, b);
  }
  const int64_t N = w.size(0);
  at::Tensor xc = x.contiguous();
  std::vector<int64_t> out_shape = x.sizes().vec();
  out_shape.back() = N;
  at::Tensor y = at::empty(out_shape, x.options());
  const float* xp = xc.data_ptr<float>();
  const float* wp = w.data_ptr<float>();
  const float* bp = b.defined() ? b.data_ptr<float>() : nullptr;
  float* yp = y.data_ptr<float>();
  // Each task streams at least ~256 KB of weights so thread hand-off stays cheap.
  const int64_t grain = std::max<int64_t>(16, (int64_t{64} * 1024) / std::max<int64_t>(K, 1));
  const bool avx2 = cpu_has_avx2_fma();
  at::parallel_for(0, N, grain, [&](int64_t n0, int64_t n1) {
    if (avx2) {
      gemm_rows_avx2(xp, M, K, wp, bp, yp, N, n0, n1);
    } else {
      gemm_rows_portable(xp, M, K, wp, bp, yp, N, n0, n1);
    }
  });
  return y;
}

}  // namespace rlvr::core::detail
