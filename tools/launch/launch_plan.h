// The children `rlvr launch` runs for a config: one learner (the primary) and actors.count actors,
// with the documented default split of the cores between them (docs/LAUNCH.md). Pure functions
// over the config, so the exact command lines and environments are unit-tested.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "tools/launch/supervisor.h"

namespace rlvr::tools {

// Intra-op threads of the learner process and of each actor process.
struct ThreadSplit {
  int64_t learner = 1;
  int64_t actor = 1;
};

// With C = `cores` and A = `actors`: learner N = max(1, C / 2) and each actor
// M = max(1, (C - N) / A). A non-zero `learner_threads` / `actor_threads` (the config's
// learner.threads / actors.threads) wins over its default, and an explicit learner count is the N
// the actors' share is computed from. REQUIRES: cores >= 1, actors >= 1, both thread counts >= 0.
ThreadSplit split_threads(int64_t cores, int64_t actors, int64_t learner_threads, int64_t actor_threads);

// The cores this process may run on (its CPU affinity mask, which containers and taskset narrow),
// or std::thread::hardware_concurrency() when the mask cannot be read; at least 1.
int64_t usable_cores();

struct LaunchPlan {
  std::vector<ChildSpec> children;  // children[primary] is the learner, then actor-0 .. actor-(A-1)
  size_t primary = 0;
  ThreadSplit threads;
};

// The children for `config` (loaded from `config_path` with `overrides`):
//   learner:  {exe, "learner", "--config", config_path, each override as "--set" X,
//              "--set", "learner.threads=N"}; primary, never restarted.
//   actor-i:  {exe, "actor", "--config", config_path, "--id", i, each override as "--set" X,
//              "--set", "actors.threads=M"}; restarted at most actors.restart_max times, first
//              after actors.restart_backoff_ms.
// Each child's environment gets OMP_NUM_THREADS = its thread count. `cores` as usable_cores().
LaunchPlan plan_launch(const core::Config& config, const std::string& exe, const std::string& config_path,
                       const std::vector<std::string>& overrides, int64_t cores);

// One line for the end of a launch: how each child ended and how often it started, e.g.
// "learner exited with status 0 (1 start); actor-0 killed by signal 15 (3 starts, 2 restarts)".
std::string launch_summary(const std::vector<ChildReport>& reports);

}  // namespace rlvr::tools
