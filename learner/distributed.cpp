// c10d process group of the learner ranks (learner/distributed.h).
#include "learner/distributed.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include "core/error.h"
#include "core/log.h"
#include "learner/precision.h"

namespace rlvr::learner {
namespace {

std::optional<int64_t> env_int(const std::function<const char*(const char*)>& getenv, const char* name,
                               int64_t lo, int64_t hi) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v, &end, 10);
  RLVR_CHECK(errno == 0 && end != v && *end == '\0' && x >= lo && x <= hi,
             "environment variable {}='{}': expected an integer in [{}, {}]", name, v, lo, hi);
  return static_cast<int64_t>(x);
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

// Buckets of at most this many elements per all-reduce of gradients (bounds the extra memory).
constexpr int64_t kBucketElements = 16 * 1024 * 1024;

}  // namespace

DistSettings dist_settings(const core::Config& config, const std::function<const char*(const char*)>& getenv_in) {
  const std::function<const char*(const char*)> getenv =
      getenv_in ? getenv_in : [](const char* n) -> const char* { return std::getenv(n); };
  const auto& lc = config.learner;
  DistSettings s;
  s.world_size = lc.world_size;
  if (auto w = env_int(getenv, "WORLD_SIZE", 1, 4096)) {
    // The environment is what the launcher (rlvr launch, torchrun, srun) started; a config that
    // asks for another number of ranks than 1 (the default) contradicts it.
    RLVR_CHECK(lc.world_size == 1 || *w == lc.world_size,
               "environment variable WORLD_SIZE={} contradicts learner.world_size {}; expected the same number of "
               "learner ranks (or learner.world_size left at 1)",
               *w, lc.world_size);
    s.world_size = *w;
  }
  s.master_addr = lc.master_addr;
  if (const char* a = getenv("MASTER_ADDR"); a != nullptr && *a != '\0') s.master_addr = a;
  s.master_port = lc.master_port;
  if (auto p = env_int(getenv, "MASTER_PORT", 1, 65535)) s.master_port = *p;
  s.interface = lc.dist_interface;
  if (const char* i = getenv("GLOO_SOCKET_IFNAME"); i != nullptr && *i != '\0') s.interface = i;
  s.timeout = std::chrono::milliseconds(lc.dist_timeout_s * 1000);
  if (s.world_size == 1) return s;
  auto r = env_int(getenv, "RANK", 0, s.world_size - 1);
  if (!r) {
    throw Error(fmt::format("learner world size is {} but the environment variable RANK is not set; expected each "
                            "learner rank's process to get RANK (0 .. {}), MASTER_ADDR and MASTER_PORT",
                            s.world_size, s.world_size - 1),
                "rlvr launch sets them for its learner ranks (docs/SCALING.md)");
  }
  s.rank = *r;
  return s;
}

std::pair<int64_t, int64_t> rank_slice(int64_t n, int64_t rank, int64_t world) {
  const int64_t base = n / world, extra = n % world;
  const int64_t begin = rank * base + std::min(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

// ---------------------------------------------------------------------------------------------
struct DataParallel::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  std::chrono::milliseconds timeout;

  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what, int64_t rank) {
    try {
      if (!work->wait(timeout)) throw Error(fmt::format("learner rank {}: {} did not complete", rank, what));
    } catch (const c10::Error& e) {
      throw Error(fmt::format("learner rank {}: {} failed (a peer rank stopped, or it took longer than "
                              "learner.dist_timeout_s {} s): {}",
                              rank, what, timeout.count() / 1000, e.what_without_backtrace()));
    } catch (const std::exception& e) {
      if (dynamic_cast<const Error*>(&e) != nullptr) throw;
      throw Error(fmt::format("learner rank {}: {} failed (a peer rank stopped, or it took longer than "
                              "learner.dist_timeout_s {} s): {}",
                              rank, what, timeout.count() / 1000, e.what()));
    }
  }
};

DataParallel::DataParallel(const DistSettings& s) : settings_(s), impl_(std::make_unique<Impl>()) {
  RLVR_CHECK(s.world_size > 1 && s.rank >= 0 && s.rank < s.world_size,
             "learner rank {} of world size {}: expected 0 <= rank < world size and world size > 1", s.rank,
             s.world_size);
  impl_->timeout = s.timeout;
  const std::string where = fmt::format("{}:{}", s.master_addr, s.master_port);
  RLVR_LOG_INFO("learner rank {}/{}: joining the group at {} (learner.dist_timeout_s {} s)", s.rank, s.world_size,
                where, s.timeout.count() / 1000);
  try {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<uint16_t>(s.master_port);
    opts.isServer = s.rank == 0;
    opts.numWorkers = static_cast<size_t>(s.world_size);
    opts.waitWorkers = true;
    opts.timeout = s.timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(s.master_addr, opts);
    auto options = c10d::ProcessGroupGloo::Options::create(s.timeout);
    if (!s.interface.empty()) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(s.interface));
    } else if (is_loopback(s.master_addr)) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    options->threads = 2;
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, static_cast<int>(s.rank),
                                                             static_cast<int>(s.world_size), options);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("learner rank {}/{}: rendezvous at {} failed within learner.dist_timeout_s {} s: {}",
                            s.rank, s.world_size, where, s.timeout.count() / 1000, e.what_without_backtrace()),
                "every rank needs the same MASTER_ADDR/MASTER_PORT and WORLD_SIZE, a distinct RANK, and rank 0 "
                "must be able to bind the port");
  } catch (const std::exception& e) {
    throw Error(fmt::format("learner rank {}/{}: rendezvous at {} failed: {}", s.rank, s.world_size, where,
                            e.what()));
  }
  barrier("the first barrier");
  RLVR_LOG_INFO("learner rank {}/{}: group of {} ranks ready", s.rank, s.world_size, s.world_size);
}

DataParallel::~DataParallel() = default;

void DataParallel::sum_(const std::vector<at::Tensor>& tensors, const std::string& what) {
  // One buffer per dtype, in first-seen order (the same on every rank).
  std::vector<c10::ScalarType> order;
  std::map<c10::ScalarType, std::vector<at::Tensor>> groups;
  for (const auto& t : tensors) {
    if (!t.defined() || t.numel() == 0) continue;
    if (!groups.count(t.scalar_type())) order.push_back(t.scalar_type());
    groups[t.scalar_type()].push_back(t);
  }
  for (auto dtype : order) {
    auto& group = groups[dtype];
    std::vector<at::Tensor> flat;
    for (const auto& t : group) flat.push_back(t.detach().reshape({-1}).to(at::kCPU));
    at::Tensor buffer = flat.size() == 1 ? flat[0].clone() : torch::cat(flat);
    std::vector<at::Tensor> io{buffer};
    impl_->wait(impl_->pg->allreduce(io, c10d::AllreduceOptions{}), what, rank());
    int64_t at = 0;
    for (auto& t : group) {
      const int64_t n = t.numel();
      torch::NoGradGuard no_grad;
      t.copy_(buffer.narrow(0, at, n).view(t.sizes()));
      at += n;
    }
  }
}

void DataParallel::max_(const at::Tensor& tensor, const std::string& what) {
  at::Tensor buffer = tensor.detach().to(at::kCPU).contiguous().clone();
  std::vector<at::Tensor> io{buffer};
  c10d::AllreduceOptions opts;
  opts.reduceOp = c10d::ReduceOp::MAX;
  impl_->wait(impl_->pg->allreduce(io, opts), what, rank());
  torch::NoGradGuard no_grad;
  tensor.copy_(buffer);
}

void DataParallel::sum_gradients(const std::vector<at::Tensor>& params, const std::string& what) {
  std::vector<at::Tensor> grads;
  int64_t elements = 0;
  auto flush = [&] {
    if (!grads.empty()) sum_(grads, what);
    grads.clear();
    elements = 0;
  };
  for (const auto& p : params) {
    if (!p.requires_grad()) continue;
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
    elements += p.numel();
    if (elements >= kBucketElements) flush();
  }
  flush();
}

void DataParallel::broadcast_(const std::vector<at::Tensor>& tensors, const std::string& what, int64_t root) {
  for (const auto& t : tensors) {
    at::Tensor buffer = t.detach().to(at::kCPU).contiguous();
    if (buffer.data_ptr() == t.data_ptr()) buffer = buffer.clone();
    std::vector<at::Tensor> io{buffer};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    impl_->wait(impl_->pg->broadcast(io, opts), what, rank());
    torch::NoGradGuard no_grad;
    t.copy_(buffer);
  }
}

std::string DataParallel::broadcast_bytes(const std::string& bytes, const std::string& what, int64_t root) {
  at::Tensor size = torch::tensor({static_cast<int64_t>(rank() == root ? bytes.size() : 0)}, torch::kLong);
  broadcast_({size}, what + " (size)", root);
  const int64_t n = size.item<int64_t>();
  std::string out;
  if (n == 0) return out;
  at::Tensor data = torch::empty({n}, torch::kUInt8);
  if (rank() == root) std::memcpy(data.data_ptr(), bytes.data(), bytes.size());
  std::vector<at::Tensor> io{data};
  c10d::BroadcastOptions opts;
  opts.rootRank = root;
  impl_->wait(impl_->pg->broadcast(io, opts), what, rank());
  out.assign(static_cast<const char*>(data.data_ptr()), static_cast<size_t>(n));
  return out;
}

void DataParallel::barrier(const std::string& what) {
  // An all-reduce of one number: ProcessGroupGloo's barrier does not honour a per-call timeout.
  at::Tensor one = torch::ones({1}, torch::kLong);
  std::vector<at::Tensor> io{one};
  impl_->wait(impl_->pg->allreduce(io, c10d::AllreduceOptions{}), what, rank());
}

void use_rank0_precision(Precision& precision, DataParallel* dp) {
  if (dp == nullptr) return;
  at::Tensor t = torch::tensor({precision.autocast ? int64_t{1} : int64_t{0},
                                static_cast<int64_t>(precision.autocast_dtype)}, torch::kLong);
  dp->broadcast_({t}, "rank 0's precision");
  const bool autocast = t[0].item<int64_t>() != 0;
  const auto dtype = static_cast<c10::ScalarType>(t[1].item<int64_t>());
  if (autocast != precision.autocast || (autocast && dtype != precision.autocast_dtype)) {
    precision.autocast = autocast;
    precision.autocast_dtype = dtype;
    precision.why += "; rank 0 chose otherwise, and every rank follows rank 0";
    RLVR_LOG_WARN("learner rank {}: using rank 0's precision {}", dp->rank(), precision.describe());
  }
}

std::unique_ptr<DataParallel> join_data_parallel(const core::Config& config) {
  const DistSettings s = dist_settings(config);
  if (s.world_size == 1) return nullptr;
  return std::make_unique<DataParallel>(s);
}

}  // namespace rlvr::learner
