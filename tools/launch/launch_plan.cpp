// The launch plan of `rlvr launch`: thread split, learner and actor command lines, summary line.
#include "tools/launch/launch_plan.h"

#include <sched.h>

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"

namespace rlvr::tools {

ThreadSplit split_threads(int64_t cores, int64_t actors, int64_t learner_threads, int64_t actor_threads) {
  RLVR_ASSERT(cores >= 1 && actors >= 1 && learner_threads >= 0 && actor_threads >= 0);
  ThreadSplit split;
  split.learner = learner_threads > 0 ? learner_threads : std::max<int64_t>(1, cores / 2);
  split.actor = actor_threads > 0 ? actor_threads : std::max<int64_t>(1, (cores - split.learner) / actors);
  return split;
}

int64_t usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
}

LaunchPlan plan_launch(const core::Config& config, const std::string& exe, const std::string& config_path,
                       const std::vector<std::string>& overrides, int64_t cores) {
  LaunchPlan plan;
  plan.threads = split_threads(std::max<int64_t>(1, cores), config.actors.count, config.learner.threads,
                               config.actors.threads);
  auto with_overrides = [&](std::vector<std::string> argv, const std::string& threads_override) {
    for (const auto& o : overrides) {
      argv.push_back("--set");
      argv.push_back(o);
    }
    argv.push_back("--set");
    argv.push_back(threads_override);
    return argv;
  };

  ChildSpec learner;
  learner.name = "learner";
  learner.argv = with_overrides({exe, "learner", "--config", config_path},
                                fmt::format("learner.threads={}", plan.threads.learner));
  learner.env["OMP_NUM_THREADS"] = std::to_string(plan.threads.learner);
  learner.restart = false;
  plan.children.push_back(std::move(learner));
  plan.primary = 0;

  for (int64_t i = 0; i < config.actors.count; ++i) {
    ChildSpec actor;
    actor.name = fmt::format("actor-{}", i);
    actor.argv = with_overrides({exe, "actor", "--config", config_path, "--id", std::to_string(i)},
                                fmt::format("actors.threads={}", plan.threads.actor));
    actor.env["OMP_NUM_THREADS"] = std::to_string(plan.threads.actor);
    actor.restart = true;
    actor.max_restarts = config.actors.restart_max;
    actor.backoff = std::chrono::milliseconds(config.actors.restart_backoff_ms);
    plan.children.push_back(std::move(actor));
  }
  return plan;
}

std::string launch_summary(const std::vector<ChildReport>& reports) {
  std::string out;
  for (const auto& r : reports) {
    if (!out.empty()) out += "; ";
    out += fmt::format("{} {} ({} start{}", r.name, r.last_exit, r.starts, r.starts == 1 ? "" : "s");
    if (r.failed_starts > 0) out += fmt::format(", {} failed", r.failed_starts);
    if (r.restarts > 0) out += fmt::format(", {} restart{}", r.restarts, r.restarts == 1 ? "" : "s");
    out += ")";
  }
  return out;
}

}  // namespace rlvr::tools
