#include "learner/optimizer.h"

#include <cmath>
#include <sstream>

#include <torch/torch.h>

#include "core/error.h"

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
      double sq = 0;
      for (auto& p : with_grad) sq += p.grad().to(torch::kFloat64).pow(2).sum().item<double>();
      throw non_finite(std::sqrt(sq));
    }
  } else if (!with_grad.empty()) {
    torch::NoGradGuard no_grad;
    double sq = 0;
    for (auto& p : with_grad) sq += p.grad().to(torch::kFloat64).pow(2).sum().item<double>();
    stats.grad_norm = std::sqrt(sq);
    if (!std::isfinite(stats.grad_norm)) throw non_finite(stats.grad_norm);
  }
  const int64_t at = schedule_step >= 0 ? std::min(schedule_step, impl_->total_steps) : impl_->steps;
  stats.lr = impl_->config.learning_rate * lr_multiplier(impl_->config, at, impl_->total_steps);
  for (auto& group : impl_->adamw->param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(stats.lr);
  }
  impl_->adamw->step();
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
