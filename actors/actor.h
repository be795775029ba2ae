// `rlvr actor --config FILE [--learner ENDPOINT] [--id N]`: a generation actor of the actor-learner
// system (docs/PROTOCOL.md has the conversation).
//
// Two threads. The network thread owns the ZeroMQ DEALER: it says HELLO until the learner answers
// (actors.connect_timeout_ms, then an error), asks for work units (prompt groups) as its queue
// runs low, fetches every announced weights version in checksummed chunks (a window of requests
// in flight) and hands the verified buffer to the generation thread, sends the scored rollouts,
// heartbeats, and reconnects by itself when the learner goes silent (a restarted learner is a new
// session: the queue and results of the old one are dropped, its weights fetched anew). The
// generation thread (the caller's) takes units, makes sure the model holds weights at least as
// new as each unit's min_version, samples the groups with the sampling engine (actors/sampler.h),
// and hands them to a scoring thread (the verifiers) so the next batch generates meanwhile.
// rl.update_mode between_samples applies new weights only between generate() calls; in_flight
// applies them between decode steps, and every token records the version that produced it.
// Stops cleanly on the learner's SHUTDOWN.
//
// Torch-free facade.
#pragma once

#include <cstdint>
#include <string>

#include "core/config/config.h"

namespace rlvr::actors {

struct ActorResult {
  int64_t units_sent = 0;    // work units whose rollouts were sent
  int64_t tokens = 0;        // generated tokens
  int64_t weight_versions = 0;  // weights versions applied
  std::string reason;        // why it stopped
};

// Runs actor `actor_id` against `endpoint` (empty: learner.endpoint) until the learner shuts it
// down. Throws rlvr::Error when the learner cannot be reached within actors.connect_timeout_ms,
// refuses it (fingerprints differ), or for a bad config or model.
ActorResult run_actor(const core::Config& config, int64_t actor_id, const std::string& endpoint);

}  // namespace rlvr::actors
