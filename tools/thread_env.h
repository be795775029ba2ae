// Thread-pool settings that must be in the environment before the process starts.
//
// libgomp (LibTorch's OpenMP) and OpenBLAS read their settings when they are loaded, before
// main() runs. On small CPU boxes their two thread pools fight when OpenMP workers spin-wait
// (OMP_WAIT_POLICY=ACTIVE behaviour): measured 2-4x slowdowns with 65% system time on 2 cores.
// ensure_thread_env() sets the fast defaults documented in docs/MODEL.md and re-executes the
// program once so the libraries see them. A value the user set explicitly is never changed;
// RLVR_THREAD_ENV=0 disables the mechanism; RLVR_THREAD_ENV_APPLIED marks the re-executed child.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace rlvr::tools {

// The defaults applied when unset (see docs/MODEL.md for the measurements behind them).
// OPENBLAS_NUM_THREADS is deliberately left to OpenBLAS (one thread per core): training GEMMs
// need both cores, and the per-token decode path does not call BLAS for its linears
// (core/model/ops.h), so the old "OPENBLAS_NUM_THREADS=1 for decode" advice no longer applies.
inline constexpr const char* kThreadEnvDefaults[][2] = {
    {"OMP_WAIT_POLICY", "PASSIVE"},  // idle OpenMP workers sleep instead of spinning
};

// Call first thing in main(). Returns only in the final process (after at most one exec).
// If exec fails, the program simply continues with the current environment.
inline void ensure_thread_env(char** argv) {
  const char* off = std::getenv("RLVR_THREAD_ENV");
  if ((off && std::strcmp(off, "0") == 0) || std::getenv("RLVR_THREAD_ENV_APPLIED")) return;
  bool changed = false;
  // libgomp may default to one thread on small VMs (omp_get_max_threads() == 1 with 2 cores
  // here), which leaves LibTorch's intra-op pool at 1: ask for one thread per core instead.
  if (!std::getenv("OMP_NUM_THREADS")) {
    long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
    ::setenv("OMP_NUM_THREADS", std::to_string(cores > 0 ? cores : 1).c_str(), 1);
    changed = true;
  }
  for (const auto& kv : kThreadEnvDefaults) {
    if (!std::getenv(kv[0])) {
      ::setenv(kv[0], kv[1], 1);
      changed = true;
    }
  }
  ::setenv("RLVR_THREAD_ENV_APPLIED", "1", 1);
  if (!changed) return;
  ::execv("/proc/self/exe", argv);  // returns only on failure; continue without the settings
}

}  // namespace rlvr::tools
