// `rlvr learner --config FILE`: the live learner of the actor-learner system.
//
// Two threads. The network thread owns the ZeroMQ ROUTER socket at learner.endpoint (core/protocol):
// it registers actors (HELLO -> WELCOME + the current WEIGHTS_ANNOUNCE), grants work units from the
// scheduler's credit window (learner/rl_scheduler.h), checks and buffers their ROLLOUTS, serves
// weight chunks, heartbeats every learner.heartbeat_ms, and declares an actor dead after
// learner.heartbeat_timeout_ms of silence (its units return to the queue). It never blocks on an
// actor: every send is non-blocking and every wait is a bounded poll. The trainer thread (the
// caller's) waits for a step's worth of groups, drops the ones that became stale, runs the RL
// learner step (learner/rl_learner.h), publishes the new weights (announced to every actor) and
// writes metrics, rollouts.jsonl, progress and checkpoints. The checkpoint holds the scheduler's
// cursor and the buffered rollouts, so a restarted learner loses nothing; actors reconnect by
// themselves. The run ends after rl.total_steps steps (or when rl.prompt_epochs are used up) with
// final/ and a summary whose accounting must balance.
//
// Torch-free facade.
#pragma once

#include <cstdint>
#include <string>

#include "core/config/config.h"

namespace rlvr::learner {

struct ServiceResult {
  int64_t steps = 0;
  int64_t resumed_from_step = -1;
  bool balanced = false;      // the scheduler's accounting balanced at the end
  std::string accounting;     // its description
  std::string final_dir;
};

// Runs the live learner to completion. Throws rlvr::Error for a bad config or data, a refused run
// directory, an endpoint that cannot be bound, or a failed step.
ServiceResult run_service(const core::Config& config);

}  // namespace rlvr::learner
