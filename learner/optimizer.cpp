#include "learner/optimizer.h"

#include <cmath>
#include <sstream>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "core/error.h"
#include "core/model/ops.h"

namespace rlvr::learner {

int64_t warmup_steps(const core::OptimConfig& config, int64_t total_steps) {
  return static_cast<int64_t>(config.warmup_ratio * static_cast<double>(total_steps));
}

double lr_multiplier(const core::OptimConfig& config, int64_t step, int64_t total_steps) {
  int64_t warmup = warmup_steps(config, total_steps);
  if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  if (config.lr_scheduler == "constant") return 1.0;
  double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup));
  if (config.lr_scheduler == "linear") {
    return std::max(0.0, static_cast<double>(total_steps - step) / span);
  }
  double progress = static_cast<double>(step - warmup) / span;
  return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
}

namespace {

// One AdamW update of elements [begin, end) in a single pass over p, g, m, v, in the order of
// operations of torch.optim.AdamW (LibTorch 1.13's adamw.cpp): decoupled decay p *= 1 - lr * wd;
// m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
// p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps). LibTorch's step runs seven tensor ops, two of
// them allocating a parameter-sized temporary (sqrt, div): ~4x the memory traffic and, for large
// parameters, fresh pages from the kernel every step.
template <typename T>
struct AdamWScalars {
  T decay, b1, b2, one_minus_b1, one_minus_b2, bc2_sqrt, step_size, eps;
  bool decays;
};

template <typename T>
__attribute__((always_inline)) inline void adamw_range(T* __restrict p, const T* __restrict g, T* __restrict m,
                                                       T* __restrict v, int64_t begin, int64_t end,
                                                       const AdamWScalars<T>& s) {
  for (int64_t i = begin; i < end; ++i) {
    const T pi = s.decays ? p[i] * s.decay : p[i];
    const T gi = g[i];
    const T mi = m[i] * s.b1 + gi * s.one_minus_b1;
    const T vi = v[i] * s.b2 + gi * gi * s.one_minus_b2;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - s.step_size * (mi / (std::sqrt(vi) / s.bc2_sqrt + s.eps));
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same update eight floats at a time with AVX2 + FMA, chosen at run time (the default build
// targets baseline x86-64, and std::sqrt's errno keeps the compiler from vectorizing the loop).
__attribute__((target("avx2,fma"))) void adamw_range_avx2(float* __restrict p, const float* __restrict g,
                                                          float* __restrict m, float* __restrict v, int64_t begin,
                                                          int64_t end, const AdamWScalars<float>& s) {
  const __m256 decay = _mm256_set1_ps(s.decays ? s.decay : 1.0f), b1 = _mm256_set1_ps(s.b1),
               b2 = _mm256_set1_ps(s.b2), c1 = _mm256_set1_ps(s.one_minus_b1), c2 = _mm256_set1_ps(s.one_minus_b2),
               bc2 = _mm256_set1_ps(s.bc2_sqrt), step = _mm256_set1_ps(s.step_size), eps = _mm256_set1_ps(s.eps);
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256 gi = _mm256_loadu_ps(g + i);
    const __m256 mi = _mm256_fmadd_ps(gi, c1, _mm256_mul_ps(_mm256_loadu_ps(m + i), b1));
    const __m256 vi = _mm256_fmadd_ps(_mm256_mul_ps(gi, gi), c2, _mm256_mul_ps(_mm256_loadu_ps(v + i), b2));
    const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bc2), eps);
    const __m256 pi = _mm256_mul_ps(_mm256_loadu_ps(p + i), decay);
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    _mm256_storeu_ps(p + i, _mm256_fnmadd_ps(step, _mm256_div_ps(mi, denom), pi));
  }
  adamw_range<float>(p, g, m, v, i, end, s);
}
#endif

template <typename T>
void adamw_update(T* p, const T* g, T* m, T* v, int64_t n, double lr, double beta1, double beta2, double eps,
                  double wd, int64_t step) {
  AdamWScalars<T> s;
  s.decay = static_cast<T>(1.0 - lr * wd);
  s.decays = wd != 0;
  s.b1 = static_cast<T>(beta1);
  s.b2 = static_cast<T>(beta2);
  s.one_minus_b1 = static_cast<T>(1.0 - beta1);
  s.one_minus_b2 = static_cast<T>(1.0 - beta2);
  s.bc2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(beta2, static_cast<double>(step))));
  s.step_size = static_cast<T>(lr / (1.0 - std::pow(beta1, static_cast<double>(step))));
  s.eps = static_cast<T>(eps);
  at::parallel_for(0, n, 1 << 15, [&](int64_t begin, int64_t end) {
#if defined(__x86_64__) && defined(__GNUC__)
    if constexpr (std::is_same_v<T, float>) {
      if (core::detail::cpu_has_avx2_fma()) return adamw_range_avx2(p, g, m, v, begin, end, s);
    }
#endif
    adamw_range<T>(p, g, m, v, begin, end, s);
  });
}

// The state LibTorch's AdamW keeps for `p` (created as its step() would), so save()/load() and
// checkpoints written before stay the same.
torch::optim::AdamWParamState& adamw_state(torch::optim::AdamW& opt, const at::Tensor& p) {
  auto& states = opt.state();
  const std::string key = c10::guts::to_string(p.unsafeGetTensorImpl());
  auto it = states.find(key);
  if (it == states.end()) {
    auto st = std::make_unique<torch::optim::AdamWParamState>();
    st->step(0);
    st->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
    st->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
    it = states.emplace(key, std::move(st)).first;
  }
  return static_cast<torch::optim::AdamWParamState&>(*it->second);
}

// The fused update takes contiguous CPU float32/float64 tensors of one dtype; anything else
// (CUDA, other layouts) goes through LibTorch's AdamW for that group.
bool fusable(const at::Tensor& p, const torch::optim::AdamWParamState& st) {
  const at::Tensor& g = p.grad();
  const auto t = p.scalar_type();
  auto ok = [&](const at::Tensor& x) { return x.device().is_cpu() && x.scalar_type() == t && x.is_contiguous(); };
  return (t == at::kFloat || t == at::kDouble) && ok(p) && ok(g) && ok(st.exp_avg()) && ok(st.exp_avg_sq()) &&
         g.numel() == p.numel() && st.exp_avg().numel() == p.numel() && st.exp_avg_sq().numel() == p.numel();
}

}  // namespace

struct Optimizer::Impl {
  core::OptimConfig config;
  int64_t total_steps;
  int64_t steps = 0;
  std::vector<at::Tensor> all;
  std::unique_ptr<torch::optim::AdamW> adamw;
};

Optimizer::Optimizer(const std::vector<std::pair<std::string, at::Tensor>>& named_parameters,
                     const core::OptimConfig& config, int64_t total_steps)
    : impl_(std::make_unique<Impl>()) {
  RLVR_ASSERT(total_steps >= 1);
  impl_->config = config;
  impl_->total_steps = total_steps;
  std::vector<at::Tensor> decay, no_decay;
  for (const auto& [name, t] : named_parameters) {
    RLVR_ASSERT(t.requires_grad());
    bool skip = name.find("bias") != std::string::npos || name.find("norm") != std::string::npos;
    (skip ? no_decay : decay).push_back(t);
    impl_->all.push_back(t);
  }
  auto options = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(config.learning_rate)
            .betas({config.adam_beta1, config.adam_beta2})
            .eps(config.adam_eps)
            .weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, options(config.weight_decay));
  groups.emplace_back(no_decay, options(0.0));
  impl_->adamw = std::make_unique<torch::optim::AdamW>(
      groups, torch::optim::AdamWOptions(config.learning_rate));
}

Optimizer::~Optimizer() = default;

OptimizerStepStats Optimizer::step(int64_t schedule_step) {
  OptimizerStepStats stats;
  std::vector<at::Tensor> with_grad;
  for (auto& p : impl_->all) {
    if (p.grad().defined()) with_grad.push_back(p);
  }
  // The squared global norm on float64 copies: the figure the error reports for a non-finite norm.
  auto float64_sq_norm = [&] {
    double sq = 0;
    for (auto& p : with_grad) sq += p.grad().to(torch::kFloat64).pow(2).sum().item<double>();
    return sq;
  };
  auto non_finite = [&](double norm) {
    return Error(fmt::format("optimizer step {}: the gradient norm is {}{}; expected finite gradients. The step "
                             "was not applied (weights and optimizer state unchanged)",
                             impl_->steps + 1, std::isnan(norm) ? "nan" : fmt::format("{}", norm),
                             std::isfinite(norm) ? " (overflows float32)" : ""));
  };
  if (impl_->config.max_grad_norm > 0 && !with_grad.empty()) {
    // error_if_nonfinite: the norm is checked before any gradient is scaled.
    try {
      stats.grad_norm = torch::nn::utils::clip_grad_norm_(with_grad, impl_->config.max_grad_norm,
                                                          /*norm_type=*/2.0, /*error_if_nonfinite=*/true);
    } catch (const c10::Error&) {
      throw non_finite(std::sqrt(float64_sq_norm()));
    }
  } else if (!with_grad.empty()) {
    torch::NoGradGuard no_grad;
    double sq = 0;
    // Each tensor's norm in its own dtype (one read pass, as clip_grad_norm_ does), summed in
    // double; only a non-finite result is recomputed in float64 (a float32 overflow vs a real
    // inf/NaN). The float64 copy of every gradient took ~100 ms per step for `small`.
    for (auto& p : with_grad) {
      const double n = p.grad().norm().item<double>();
      sq += n * n;
    }
    if (!std::isfinite(sq)) sq = float64_sq_norm();
    stats.grad_norm = std::sqrt(sq);
    if (!std::isfinite(stats.grad_norm)) throw non_finite(stats.grad_norm);
  }
  const int64_t at = schedule_step >= 0 ? std::min(schedule_step, impl_->total_steps) : impl_->steps;
  stats.lr = impl_->config.learning_rate * lr_multiplier(impl_->config, at, impl_->total_steps);
  for (auto& group : impl_->adamw->param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(stats.lr);
  }
  {
    torch::NoGradGuard no_grad;
    bool fallback = false;
    for (auto& group : impl_->adamw->param_groups()) {
      const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
      for (auto& p : group.params()) {
        if (!p.grad().defined()) continue;
        auto& st = adamw_state(*impl_->adamw, p);
        if (o.amsgrad() || !fusable(p, st)) {
          fallback = true;
          continue;
        }
        st.step(st.step() + 1);
        const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());  // no structured binding: C++17 lambdas cannot capture one
        AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "adamw_update", [&] {
          adamw_update<scalar_t>(p.data_ptr<scalar_t>(), p.grad().data_ptr<scalar_t>(),
                                 st.exp_avg().data_ptr<scalar_t>(), st.exp_avg_sq().data_ptr<scalar_t>(), p.numel(),
                                 o.lr(), beta1, beta2, o.eps(), o.weight_decay(), st.step());
        });
        p.mutable_grad() = at::Tensor();  // done: LibTorch's step below skips it
      }
    }
    if (fallback) impl_->adamw->step();
  }
  for (auto& p : impl_->all) p.mutable_grad() = at::Tensor();  // set_to_none, as torch 2.x

  ++impl_->steps;
  return stats;
}

int64_t Optimizer::steps_taken() const { return impl_->steps; }

std::string Optimizer::save() const {
  torch::serialize::OutputArchive archive;
  impl_->adamw->save(archive);
  archive.write("rlvr_optimizer_steps", torch::tensor(impl_->steps, torch::kInt64));
  archive.write("rlvr_optimizer_params", torch::tensor(static_cast<int64_t>(impl_->all.size())));
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

void Optimizer::load(const std::string& bytes, const std::string& source) {
  try {
    std::istringstream in(bytes);
    torch::serialize::InputArchive archive;
    archive.load_from(in);
    torch::Tensor steps, nparams;
    archive.read("rlvr_optimizer_steps", steps);
    archive.read("rlvr_optimizer_params", nparams);
    RLVR_CHECK(nparams.item<int64_t>() == static_cast<int64_t>(impl_->all.size()),
               "{}: optimizer state has {} parameters, the model has {}", source,
               nparams.item<int64_t>(), impl_->all.size());
    impl_->adamw->load(archive);
    impl_->steps = steps.item<int64_t>();
  } catch (const c10::Error& e) {
    throw Error(fmt::format("{}: corrupt optimizer state: {}", source, e.what_without_backtrace()));
  }
}

}  // namespace rlvr::learner
