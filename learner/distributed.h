// Data parallelism across learner ranks on LibTorch's c10d (Gloo on CPU).
//
// `learner.world_size` processes train one model: every rank holds the whole model and optimizer,
// takes its slice of every batch, and the ranks sum their gradients with an all-reduce before
// each optimizer step, so every rank applies the same update and the weights stay identical.
// Rendezvous follows torchrun: rank 0 serves a c10d TCPStore at MASTER_ADDR:MASTER_PORT and the
// others connect to it; RANK and WORLD_SIZE come from the environment (rlvr launch, torchrun,
// a Slurm script) and the config's learner.* keys give the defaults (docs/SCALING.md).
//
// Every collective is bounded by learner.dist_timeout_s: a rank whose peer died or hangs stops
// with an rlvr::Error naming the operation instead of waiting forever (Gloo also fails at once
// when a peer's connection closes).
//
// Thread-safety: one thread per DataParallel (collectives are issued in the same order on every
// rank). Not copyable.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/config/config.h"

namespace rlvr::learner {

// Where this process sits among the learner ranks.
struct DistSettings {
  int64_t rank = 0;
  int64_t world_size = 1;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  std::string interface;  // Gloo network interface; empty: see learner.dist_interface
  std::chrono::milliseconds timeout{600000};
};

// The settings of this process from the environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
// GLOO_SOCKET_IFNAME; `getenv` is injectable for tests) and `config.learner`. A WORLD_SIZE that
// contradicts an explicitly set learner.world_size, a world size > 1 without RANK, or a RANK out
// of range throws rlvr::Error naming the variable. world_size 1 needs nothing.
DistSettings dist_settings(const core::Config& config,
                           const std::function<const char*(const char*)>& getenv = nullptr);

// [begin, end) of `n` items that rank `rank` of `world` takes: contiguous, sizes differ by at
// most one, earlier ranks take the larger parts.
std::pair<int64_t, int64_t> rank_slice(int64_t n, int64_t rank, int64_t world);

class DataParallel {
 public:
  // Joins the group (rank 0 starts the store). Throws rlvr::Error when the rendezvous does not
  // complete within the timeout (naming MASTER_ADDR:MASTER_PORT and how many ranks arrived) or a
  // port is taken. REQUIRES: s.world_size > 1.
  explicit DataParallel(const DistSettings& s);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int64_t rank() const { return settings_.rank; }
  int64_t world_size() const { return settings_.world_size; }
  bool is_main() const { return settings_.rank == 0; }

  // In-place sum over the ranks of float/double/int64 CPU tensors (several at once are packed
  // into one buffer per dtype). `what` names the operation in errors.
  void sum_(const std::vector<at::Tensor>& tensors, const std::string& what);
  // In-place maximum over the ranks.
  void max_(const at::Tensor& tensor, const std::string& what);
  // Sums the gradients of `params` over the ranks (a parameter without a gradient counts as
  // zeros and gets one), so that every rank holds the same summed gradient.
  void sum_gradients(const std::vector<at::Tensor>& params, const std::string& what);
  // Overwrites `tensors` on every rank with rank `root`'s values.
  void broadcast_(const std::vector<at::Tensor>& tensors, const std::string& what, int64_t root = 0);
  // Rank `root`'s `bytes` on every rank (the others pass anything).
  std::string broadcast_bytes(const std::string& bytes, const std::string& what, int64_t root = 0);
  // Returns when every rank has called it.
  void barrier(const std::string& what);

 private:
  struct Impl;
  DistSettings settings_;
  std::unique_ptr<Impl> impl_;
};

// Makes every rank use rank 0's precision choice (run.dtype auto probes the CPU on each rank, and
// ranks on different hosts may differ). No-op when `dp` is null.
struct Precision;
void use_rank0_precision(Precision& precision, DataParallel* dp);

// A DataParallel for `config` when its world size (config or environment) is > 1, else null.
std::unique_ptr<DataParallel> join_data_parallel(const core::Config& config);

}  // namespace rlvr::learner
