// Supervisor: runs a set of child processes on this machine, forwards their output, restarts the
// ones allowed to restart, and stops them all with bounded waits. `rlvr launch` uses it to run one
// learner and its actors (docs/LAUNCH.md); it knows nothing about either and is tested with shell
// scripts (tests/tools/supervisor_itest.cpp). Torch-free; the event loop is Boost.Asio.
//
// Rules (docs/LAUNCH.md, "Launching", says the same for users):
//  1. Output. Each child's stdout and stderr go to one pipe; every line is written to
//     SupervisorOptions::output_fd (the launcher's stderr) as "[<name>] <line>\n" with a single
//     write. A last line without a newline is written when the child ends; a line longer than
//     kMaxLineBytes (64 KiB) is split into lines of at most that many bytes (cut before a UTF-8
//     continuation byte where possible). The child's stdin is /dev/null.
//  2. Primary. When the primary child (the learner) ends, every other child gets SIGTERM, then
//     SIGKILL after `grace`; run() returns the primary's exit status, or 128 + signal when a
//     signal killed it.
//  3. Restarts. A child with `restart` that ends (or cannot be started) while the primary runs is
//     started again after restart_delay(backoff, k) for its k-th restart. Once it has used
//     `max_restarts` restarts, its next end is an error naming the child and how it ended:
//     everything stops as in 2 and run() returns 1. A child without `restart` (other than the
//     primary) that ends is logged and left ended; the run goes on. A child with
//     `finished_on_success` that exits with status 0 has done its work: it is logged and left
//     ended, never restarted, whatever `restart` says.
//  3b. No primary (run(children, kNoPrimary)): the run ends by itself once no child is running or
//     waiting for a restart; run() returns 0 when every child last exited with status 0, else 1.
//     Rules 3 to 7 apply unchanged (a restart limit still stops everything and returns 1).
//  4. Signals. SIGINT or SIGTERM to the launcher: SIGTERM to every child, SIGKILL after `grace`,
//     run() returns 130 (SIGINT) or 143 (SIGTERM) unless the run was already ending for another
//     reason (that reason's status is kept). A second SIGINT/SIGTERM sends SIGKILL at once.
//  5. Start failures. A child whose program cannot be executed (missing, not executable) is
//     reported by name with the errno text, carried back from the forked child over a
//     close-on-exec pipe. It counts as an end for rule 3; for the primary, nothing else is started
//     and run() returns 127.
//  6. Bounded waits. A child still running `grace` after SIGKILL is reported and abandoned
//     (never waited for again); a forked child that neither execs nor fails within
//     kExecTimeout is killed and counts as a start failure. Every child that ends is reaped
//     (waitpid on SIGCHLD, per pid: children the caller started elsewhere are never reaped here).
//  7. Process tree. Children stay in the launcher's process group (a terminal's Ctrl-C reaches
//     all of them) and get PR_SET_PDEATHSIG = SIGTERM, so a launcher killed with SIGKILL takes
//     its children with it. Before exec, every signal disposition is reset to the default and
//     the signal mask is emptied; the environment is the launcher's plus ChildSpec::env.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rlvr::tools {

// The longest line forwarded as one line; longer ones are split.
inline constexpr size_t kMaxLineBytes = 64 * 1024;
// The most a restart backoff grows to by doubling (a larger configured backoff is kept as is).
inline constexpr std::chrono::milliseconds kMaxRestartBackoff{30000};
// How long a forked child may take to exec its program before it counts as a failed start.
inline constexpr std::chrono::milliseconds kExecTimeout{10000};
// The `primary` of a run without one (rule 3b): every child is supervised alike.
inline constexpr size_t kNoPrimary = static_cast<size_t>(-1);

// One child process to run.
struct ChildSpec {
  std::string name;               // log prefix and report name; non-empty, unique in a run
  std::vector<std::string> argv;  // argv[0]: a path, or a program name looked up on PATH
  std::map<std::string, std::string> env;  // added to (or replacing) the launcher's environment
  bool restart = false;           // restart when it ends (rule 3); ignored for the primary
  bool finished_on_success = false;  // exit status 0 means done: never restarted (rule 3)
  int64_t max_restarts = 0;       // restarts allowed over the whole run (>= 0)
  std::chrono::milliseconds backoff{500};  // wait before the first restart (>= 0); doubles per restart
};

struct SupervisorOptions {
  // Between SIGTERM and SIGKILL, and between SIGKILL and abandoning a child. Default 10 s.
  std::chrono::milliseconds grace{10000};
  // Where the children's prefixed lines go. Default: the launcher's stderr. Not owned.
  int output_fd = STDERR_FILENO;
  // The signal sent when `grace` runs out. Default SIGKILL; tests substitute a signal the child
  // survives to exercise the abandon path of rule 6.
  int kill_signal = SIGKILL;
  // The name the supervisor's own log lines start with ("launch: 'learner' exited ...").
  std::string log_name = "launch";
};

// What happened to one child, in the order the children were given.
struct ChildReport {
  std::string name;
  int64_t starts = 0;          // successful starts (the program was executed)
  int64_t failed_starts = 0;   // starts whose exec failed or timed out
  int64_t restarts = 0;        // restarts performed (each one a start or a failed start)
  std::vector<std::chrono::milliseconds> restart_delays;  // the wait before each restart
  std::vector<pid_t> pids;     // pid of every start, in order
  // How it last ended: "exited with status 3", "killed by signal 9", "could not start: ...",
  // "abandoned: still running after SIGKILL", "not started", or "running" (never, after run()).
  std::string last_exit = "not started";
};

// Runs children until the primary ends, a restart limit is hit, or a signal arrives.
// Not thread-safe: one thread calls run() and then reads the results. Non-copyable.
// run() installs handlers for SIGINT, SIGTERM and SIGCHLD for its duration (Boost.Asio
// signal_set; the defaults are restored when it returns), so a process should run one
// Supervisor at a time. PR_SET_PDEATHSIG fires when the *thread* that forked a child ends, so
// the thread calling run() must outlive the children (it does: run() returns only after
// every child is reaped or abandoned).
class Supervisor {
 public:
  explicit Supervisor(SupervisorOptions options = {});
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts `children` (children[primary] first, then the others in order) and supervises them
  // by the rules above. Returns the exit status described there. Blocks until every child is
  // reaped or abandoned. May be called again after it returns (results are replaced).
  // `primary` is an index into `children` or kNoPrimary (rule 3b).
  // Throws rlvr::Error, before starting anything, for an empty list, `primary` out of range,
  // an empty or duplicate name, an empty argv, or a negative max_restarts/backoff.
  int run(std::vector<ChildSpec> children, size_t primary);

  // One report per child of the last run(), in the given order.
  const std::vector<ChildReport>& reports() const { return reports_; }
  // One line saying why the last run() ended, e.g. "'learner' exited with status 0",
  // "interrupted by SIGINT", "'actor-1' exited with status 3 after 2 restarts (actors may
  // restart 2 times); giving up".
  const std::string& outcome() const { return outcome_; }

 private:
  SupervisorOptions options_;
  std::vector<ChildReport> reports_;
  std::string outcome_;
};

// "exited with status 3", "killed by signal 9" (a waitpid status).
std::string describe_wait_status(int status);

// The wait before the k-th restart (k >= 1): backoff * 2^(k-1), no more than
// max(backoff, kMaxRestartBackoff).
std::chrono::milliseconds restart_delay(std::chrono::milliseconds backoff, int64_t k);

// Splits a byte stream into lines of at most kMaxLineBytes (rule 1). Not thread-safe.
class LineSplitter {
 public:
  using Emit = std::function<void(std::string_view line)>;  // the line without its '\n'
  // Emits every line completed by `data`, and kMaxLineBytes pieces of over-long lines.
  void feed(std::string_view data, const Emit& emit);
  // Emits the unterminated rest, if any (at the end of the stream).
  void flush(const Emit& emit);

 private:
  void emit_cut(const Emit& emit);
  std::string pending_;
};

}  // namespace rlvr::tools
