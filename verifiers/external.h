// The `external` verifier: a pool of long-lived child processes speaking JSON lines.
//
// Protocol (one line each way, UTF-8 JSON, '\n'-terminated):
//   request  {"id": 7, "prompt": "...", "response": "...", "ground_truth": "..."}
//   reply    {"id": 7, "score": 1.0, "reason": "exact match"}      (reason optional)
// The child reads requests on stdin and writes replies on stdout, one reply per request, in
// order; stderr passes through to ours. A request that gets no valid reply within
// `timeout_ms` (the child hung, crashed, closed stdout, wrote a bad line, a wrong id, or a
// score outside [0, 1]) scores 0 with a reason; the child is killed (SIGKILL), reaped, counted,
// and restarted on next use. Children are never left as zombies: every child is reaped when it
// fails and when the verifier is destroyed (stdin closed, then SIGKILL after a grace period).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "verifiers/verifier.h"

namespace rlvr::core {
struct VerifiersConfig;
}

namespace rlvr::verifiers {

struct ExternalVerifierOptions {
  std::string name;                    // for messages; data rows select the verifier by it
  std::vector<std::string> command;    // argv; argv[0] is looked up on PATH. REQUIRES: non-empty
  int64_t timeout_ms = 5000;           // per request, send to reply
  int64_t num_processes = 1;           // children run in parallel (one request each at a time)
  size_t max_input_bytes = 65536;      // bytes of the response sent
  size_t max_reply_bytes = 1 << 20;    // a longer reply line is a protocol error
};

// Counters since construction. Every failed request increments exactly one of timeouts,
// crashes, protocol_errors or spawn_failures; restarts counts children started after the first.
struct ExternalVerifierStats {
  int64_t requests = 0;
  int64_t timeouts = 0;
  int64_t crashes = 0;
  int64_t protocol_errors = 0;
  int64_t spawn_failures = 0;
  int64_t restarts = 0;
};

// Thread-safe: verify() may be called from many threads; at most num_processes requests are in
// flight, the others wait for a free child. Not copyable.
class ExternalVerifier : public Verifier {
 public:
  // Starts no process yet (see start()). Throws rlvr::Error for an empty command or
  // out-of-range timeout_ms / num_processes.
  explicit ExternalVerifier(ExternalVerifierOptions options);
  // Closes every child's stdin, waits up to 1 s for them to exit, then kills and reaps the rest.
  ~ExternalVerifier() override;
  ExternalVerifier(const ExternalVerifier&) = delete;
  ExternalVerifier& operator=(const ExternalVerifier&) = delete;

  // Starts all children now. Throws rlvr::Error naming the command when one cannot be spawned
  // (program not found, not executable). Optional: verify() starts children on demand.
  void start();

  // Never throws; failures are score 0 with a reason.
  VerifyResult verify(const VerifyInput& input) const override;

  ExternalVerifierStats stats() const;
  // Pids of the children currently running (tests use it to check for leaks and zombies).
  std::vector<pid_t> child_pids() const;

 private:
  struct Child {
    pid_t pid = -1;
    int fd = -1;        // our end of the socketpair (child's stdin and stdout)
    std::string buf;    // bytes read past the last reply line
    bool started_once = false;
  };

  // Spawns a child into `c`; returns an error message, empty on success.
  std::string spawn(Child& c) const;
  // Kills (SIGKILL) and reaps `c`'s process; returns a description of how it ended.
  std::string kill_child(Child& c) const;
  size_t acquire() const;
  void release(size_t slot) const;

  ExternalVerifierOptions options_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable std::vector<Child> children_;
  mutable std::vector<size_t> free_;
  mutable std::atomic<int64_t> next_id_{1};
  mutable std::atomic<int64_t> requests_{0}, timeouts_{0}, crashes_{0}, protocol_errors_{0},
      spawn_failures_{0}, restarts_{0};
};

// Registers every `config.external` entry under its name (a factory creating an
// ExternalVerifier with the entry's command, timeout and process count). Throws rlvr::Error
// naming `verifiers.external[i].<field>` for an empty name or command, or a name that is
// already a built-in verifier.
void register_external_verifiers(const core::VerifiersConfig& config);

}  // namespace rlvr::verifiers
