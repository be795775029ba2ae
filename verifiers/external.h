// The `external` verifier: a pool of long-lived child processes speaking JSON lines.
//
// Protocol (one line each way, UTF-8 JSON, '\n'-terminated):
//   request  {"id": 7, "prompt": "...", "response": "...", "ground_truth": "..."}
//   reply    {"id": 7, "score": 1.0, "reason": "exact match"}      (reason optional)
// The child reads requests on stdin and writes replies on stdout, one reply per request, in
// order; stderr passes through to ours. Inputs are sent whole: a prompt, response or ground
// truth longer than max_input_bytes is not sent (score 0, error). A request that gets no valid
// reply within `timeout_ms` (the child hung, crashed, closed stdout, wrote a bad line, a wrong
// id, or a score outside [0, 1]) scores 0 with error = true and a reason; the child is killed,
// reaped, counted, and restarted on next use. Each child runs in its own process group, and
// every kill is SIGKILL to the whole group, so a wrapper (`sh -c '...'`) never leaves its own
// children running. Children are never left as zombies: every child is reaped when it fails
// and when the verifier is destroyed (stdin closed, then SIGKILL after a grace period).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
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
  size_t max_input_bytes = size_t{4} << 20;  // longest prompt/response/ground_truth sent
  size_t max_reply_bytes = 1 << 20;    // a longer reply line is a protocol error
};

// Counters since construction. Every failed request increments exactly one of timeouts,
// crashes, protocol_errors, spawn_failures or inputs_too_long; restarts counts children started
// after the first.
struct ExternalVerifierStats {
  int64_t requests = 0;
  int64_t timeouts = 0;
  int64_t crashes = 0;
  int64_t protocol_errors = 0;
  int64_t spawn_failures = 0;
  int64_t inputs_too_long = 0;  // a field over max_input_bytes: not sent
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

  // Never throws; failures are score 0 with error = true and a reason.
  VerifyResult verify(const VerifyInput& input) const override;

  ExternalVerifierStats stats() const;
  // Pids of the children currently running (tests use it to check for leaks and zombies).
  // Safe to call while other threads are in verify().
  std::vector<pid_t> child_pids() const;

 private:
  // One slot of the pool. Ownership: a slot taken from free_ (acquire(), or start() and the
  // destructor under mu_) is used by that one thread alone; fd, buf and started_once are only
  // touched by the owner. `pid` is also read by child_pids() without owning the slot, so it is
  // atomic.
  struct Child {
    std::atomic<pid_t> pid{-1};  // also the process group id; -1 when no child runs
    int fd = -1;                 // our end of the socketpair (child's stdin and stdout)
    std::string buf;             // bytes read past the last reply line
    bool started_once = false;
  };

  // Spawns a child into `c` in a new process group; returns an error message, empty on success.
  std::string spawn(Child& c) const;
  // Kills (SIGKILL) `c`'s whole process group and reaps the child; returns a description of how
  // it ended. Takes no lock (the destructor calls it under mu_).
  std::string kill_child(Child& c) const;
  // True when `c`'s child has exited (checked without reaping it, so its pid, which is also the
  // group id, cannot be reused before kill_child signals the group). A pid that is no longer
  // our child is cleared (set to -1) and reported as exited.
  static bool exited(Child& c);
  size_t acquire() const;
  void release(size_t slot) const;

  ExternalVerifierOptions options_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  size_t num_children_ = 0;
  std::unique_ptr<Child[]> children_;   // fixed size; see Child for who touches what
  mutable std::vector<size_t> free_;    // guarded by mu_
  mutable std::atomic<int64_t> next_id_{1};
  mutable std::atomic<int64_t> requests_{0}, timeouts_{0}, crashes_{0}, protocol_errors_{0},
      spawn_failures_{0}, inputs_too_long_{0}, restarts_{0};
};

namespace detail {
// One reply line of an external verifier, parsed (parse_external_reply).
struct ExternalReply {
  bool ok = false;       // true: `result` holds the score; false: `problem` says what was wrong
  VerifyResult result;   // answer_found = true; reason from the reply (<= 1024 bytes) or
                         // "accepted"/"rejected"
  std::string problem;   // "reply is not a JSON object", "reply field 'id' is not 7", ...
};
// Parses `line` (without its '\n'; a trailing '\r' is ignored) as the reply to request `id`:
// a JSON object with "id" == id, a finite "score" in [0, 1] and an optional string "reason".
// Pure function of its arguments; never throws.
ExternalReply parse_external_reply(std::string_view line, int64_t id);
}  // namespace detail

// Registers every `config.external` entry under its name (a factory creating an
// ExternalVerifier with the entry's command, timeout and process count). Throws rlvr::Error
// naming `verifiers.external[i].<field>` for an empty name or command, or a name that is
// already a built-in verifier.
void register_external_verifiers(const core::VerifiersConfig& config);

}  // namespace rlvr::verifiers
